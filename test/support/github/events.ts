/** Webhook payloads built from the simulator's state, as GitHub delivers them to workflows. */
import type { CommitInfo } from './git-repo.js'
import type { Renderer } from './render.js'
import type { Store } from './store.js'
import type { SimComment, SimPullRequest, SimStatus } from './types.js'

type Payload = Record<string, unknown>

export const WEBHOOK_SCHEMAS: Record<string, string> = {
  'pull_request.opened': 'webhook-pull-request-opened',
  'pull_request.synchronize': 'webhook-pull-request-synchronize',
  'pull_request.closed': 'webhook-pull-request-closed',
  'pull_request.reopened': 'webhook-pull-request-reopened',
  'issue_comment.created': 'webhook-issue-comment-created',
  status: 'webhook-status',
  workflow_dispatch: 'webhook-workflow-dispatch',
  push: 'webhook-push',
}

export class EventBuilder {
  constructor(
    private readonly store: Store,
    private readonly render: Renderer,
  ) {}

  private envelope(repo: string, sender: string) {
    return {
      repository: this.render.repository(this.store.repo(repo)),
      sender: this.render.user(sender),
    }
  }

  pullRequest(
    pull: SimPullRequest,
    action: 'opened' | 'synchronize' | 'closed' | 'reopened',
    sender: string,
  ): Payload {
    return {
      action,
      number: pull.number,
      ...(action === 'synchronize'
        ? { before: pull.previousHeadSha ?? pull.headSha, after: pull.headSha }
        : {}),
      pull_request: this.render.pull(pull),
      ...this.envelope(pull.repo, sender),
    }
  }

  issueComment(comment: SimComment): Payload {
    const issue = this.store.issue(comment.repo, comment.issueNumber)
    if (!issue) throw new Error(`no issue ${comment.repo}#${comment.issueNumber}`)
    return {
      action: 'created',
      issue: this.render.issue(issue),
      comment: this.render.comment(comment),
      ...this.envelope(comment.repo, comment.user),
    }
  }

  status(
    status: SimStatus,
    commit: CommitInfo,
    branches: Array<{ name: string; sha: string }>,
  ): Payload {
    const rendered = this.render.commit(status.repo, commit)
    const api = `${this.render.repository(this.store.repo(status.repo)).url}`
    return {
      id: status.id,
      sha: status.sha,
      name: status.repo,
      target_url: status.targetUrl,
      context: status.context,
      description: status.description,
      state: status.state,
      commit: {
        sha: rendered.sha,
        node_id: rendered.node_id,
        commit: {
          ...rendered.commit,
          author: { ...rendered.commit.author, username: undefined },
          committer: { ...rendered.commit.committer, username: undefined },
        },
        url: rendered.url,
        html_url: rendered.html_url,
        comments_url: rendered.comments_url,
        author: rendered.author,
        committer: rendered.committer,
        parents: rendered.parents,
      },
      branches: branches.map((branch) => ({
        name: branch.name,
        commit: { sha: branch.sha, url: `${api}/commits/${branch.sha}` },
        protected: false,
      })),
      created_at: status.createdAt,
      updated_at: status.updatedAt,
      ...this.envelope(status.repo, status.creator),
    }
  }

  workflowDispatch(
    repo: string,
    ref: string,
    workflow: string,
    inputs: Payload,
    sender: string,
  ): Payload {
    return { inputs, ref, workflow, ...this.envelope(repo, sender) }
  }

  push(
    repo: string,
    ref: string,
    before: string,
    after: string,
    sender: string,
    head?: CommitInfo,
  ): Payload {
    const deleted = /^0+$/.test(after)
    const created = /^0+$/.test(before)
    const html = `${this.render.repository(this.store.repo(repo)).html_url}`
    const headCommit = head
      ? {
          id: head.sha,
          tree_id: head.tree,
          distinct: true,
          message: head.message,
          timestamp: head.committer.date,
          url: `${html}/commit/${head.sha}`,
          author: { name: head.author.name, email: head.author.email },
          committer: { name: head.committer.name, email: head.committer.email },
          added: [],
          removed: [],
          modified: [],
        }
      : null
    return {
      ref,
      before,
      after,
      created,
      deleted,
      forced: false,
      base_ref: null,
      compare: `${html}/compare/${before.slice(0, 12)}...${after.slice(0, 12)}`,
      commits: headCommit ? [headCommit] : [],
      head_commit: headCommit,
      pusher: { name: sender, email: `${sender}@users.noreply.github.com` },
      ...this.envelope(repo, sender),
    }
  }
}
