/** GitHub's JSON representations of the simulator's state (REST responses and webhook payloads). */
import type { Store } from './store.js'
import type { Urls } from './http.js'
import type { CommitInfo } from './git-repo.js'
import type {
  SimCheckRun,
  SimComment,
  SimDeployment,
  SimDeploymentStatus,
  SimIssue,
  SimLabel,
  SimPullRequest,
  SimReaction,
  SimRepo,
  SimReview,
  SimStatus,
  SimUser,
} from './types.js'

const REACTION_CONTENTS = [
  '+1',
  '-1',
  'laugh',
  'confused',
  'heart',
  'hooray',
  'eyes',
  'rocket',
] as const

function nodeId(prefix: string, id: number): string {
  return `${prefix}_${Buffer.from(`sim:${id}`).toString('base64url')}`
}

/** A stable small id for a login that is not a simulator user (e.g. a fork owner). */
function loginId(login: string): number {
  let hash = 7
  for (const char of login) hash = (hash * 31 + char.charCodeAt(0)) % 1_000_000
  return 9_000_000 + hash
}

export class Renderer {
  constructor(
    private readonly store: Store,
    private readonly urls: Urls,
  ) {}

  private repoApi(repo: string) {
    return `${this.urls.apiUrl}/repos/${repo}`
  }

  private repoHtml(repo: string) {
    return `${this.urls.serverUrl}/${repo}`
  }

  user(login: string) {
    const known = this.store.users.get(login)
    const id = known?.id ?? loginId(login)
    const api = `${this.urls.apiUrl}/users/${login}`
    return {
      login,
      id,
      node_id: nodeId(known?.type === 'Bot' ? 'BOT' : 'U', id),
      avatar_url: `${this.urls.serverUrl}/avatars/u/${id}`,
      gravatar_id: '',
      url: api,
      html_url: `${this.urls.serverUrl}/${login}`,
      followers_url: `${api}/followers`,
      following_url: `${api}/following{/other_user}`,
      gists_url: `${api}/gists{/gist_id}`,
      starred_url: `${api}/starred{/owner}{/repo}`,
      subscriptions_url: `${api}/subscriptions`,
      organizations_url: `${api}/orgs`,
      repos_url: `${api}/repos`,
      events_url: `${api}/events{/privacy}`,
      received_events_url: `${api}/received_events`,
      type: known?.type ?? 'User',
      user_view_type: 'public',
      site_admin: false,
    }
  }

  /** GET /users/{username}: the public profile. */
  publicUser(user: SimUser, createdAt: string) {
    return {
      ...this.user(user.login),
      name: null,
      company: null,
      blog: '',
      location: null,
      email: null,
      hireable: null,
      bio: null,
      twitter_username: null,
      public_repos: [...this.store.repos.values()].filter((repo) => repo.owner === user.login)
        .length,
      public_gists: 0,
      followers: 0,
      following: 0,
      created_at: createdAt,
      updated_at: createdAt,
    }
  }

  /** The `repository` representation; `fork` describes a pull request's head fork, which has no state of its own. */
  repository(repo: SimRepo, fork?: { owner: string }) {
    const owner = fork?.owner ?? repo.owner
    const fullName = `${owner}/${repo.name}`
    const api = this.repoApi(fullName)
    const openIssues = this.store
      .issues(repo.fullName)
      .filter((issue) => issue.state === 'open').length
    const host = new URL(this.urls.serverUrl).host
    return {
      id: fork ? loginId(fullName) : repo.id,
      node_id: nodeId('R', fork ? loginId(fullName) : repo.id),
      name: repo.name,
      full_name: fullName,
      private: repo.private,
      owner: this.user(owner),
      html_url: this.repoHtml(fullName),
      description: null,
      fork: fork !== undefined,
      url: api,
      archive_url: `${api}/{archive_format}{/ref}`,
      assignees_url: `${api}/assignees{/user}`,
      blobs_url: `${api}/git/blobs{/sha}`,
      branches_url: `${api}/branches{/branch}`,
      collaborators_url: `${api}/collaborators{/collaborator}`,
      comments_url: `${api}/comments{/number}`,
      commits_url: `${api}/commits{/sha}`,
      compare_url: `${api}/compare/{base}...{head}`,
      contents_url: `${api}/contents/{+path}`,
      contributors_url: `${api}/contributors`,
      deployments_url: `${api}/deployments`,
      downloads_url: `${api}/downloads`,
      events_url: `${api}/events`,
      forks_url: `${api}/forks`,
      git_commits_url: `${api}/git/commits{/sha}`,
      git_refs_url: `${api}/git/refs{/sha}`,
      git_tags_url: `${api}/git/tags{/sha}`,
      git_url: `git://${host}/${fullName}.git`,
      issue_comment_url: `${api}/issues/comments{/number}`,
      issue_events_url: `${api}/issues/events{/number}`,
      issues_url: `${api}/issues{/number}`,
      keys_url: `${api}/keys{/key_id}`,
      labels_url: `${api}/labels{/name}`,
      languages_url: `${api}/languages`,
      merges_url: `${api}/merges`,
      milestones_url: `${api}/milestones{/number}`,
      notifications_url: `${api}/notifications{?since,all,participating}`,
      pulls_url: `${api}/pulls{/number}`,
      releases_url: `${api}/releases{/id}`,
      ssh_url: `git@${host}:${fullName}.git`,
      stargazers_url: `${api}/stargazers`,
      statuses_url: `${api}/statuses/{sha}`,
      subscribers_url: `${api}/subscribers`,
      subscription_url: `${api}/subscription`,
      tags_url: `${api}/tags`,
      teams_url: `${api}/teams`,
      trees_url: `${api}/git/trees{/sha}`,
      clone_url: `${this.repoHtml(fullName)}.git`,
      mirror_url: null,
      hooks_url: `${api}/hooks`,
      svn_url: this.repoHtml(fullName),
      homepage: null,
      language: null,
      forks_count: 0,
      stargazers_count: 0,
      watchers_count: 0,
      size: 0,
      default_branch: repo.defaultBranch,
      open_issues_count: openIssues,
      is_template: false,
      topics: [],
      has_issues: true,
      has_projects: false,
      has_wiki: false,
      has_pages: false,
      has_downloads: true,
      has_discussions: false,
      archived: false,
      disabled: false,
      visibility: repo.private ? 'private' : 'public',
      pushed_at: repo.createdAt,
      created_at: repo.createdAt,
      updated_at: repo.createdAt,
      allow_forking: true,
      web_commit_signoff_required: false,
      license: null,
      forks: 0,
      open_issues: openIssues,
      watchers: 0,
    }
  }

  /** GET /repos/{owner}/{repo}: the full repository, with the caller's permissions. */
  fullRepository(repo: SimRepo, login: string | undefined) {
    const role = login === undefined ? undefined : this.store.roleOf(repo, login)
    const rank = ['read', 'triage', 'write', 'maintain', 'admin'].indexOf(role ?? '')
    return {
      ...this.repository(repo),
      permissions: {
        admin: rank >= 4,
        maintain: rank >= 3,
        push: rank >= 2,
        triage: rank >= 1,
        pull: rank >= 0,
      },
      allow_rebase_merge: true,
      allow_squash_merge: true,
      allow_merge_commit: true,
      allow_auto_merge: false,
      delete_branch_on_merge: false,
      network_count: 0,
      subscribers_count: 0,
    }
  }

  /** The repository as combined statuses embed it (`minimal-repository`: the same fields suffice). */
  minimalRepository(repo: SimRepo) {
    return this.repository(repo)
  }

  authorAssociation(repo: SimRepo, login: string) {
    if (login === repo.owner) return 'OWNER'
    if (repo.permissions.has(login)) return 'COLLABORATOR'
    const contributed = this.store
      .pulls(repo.fullName)
      .some((pull) => pull.user === login && pull.merged)
    return contributed ? 'CONTRIBUTOR' : 'NONE'
  }

  label(label: SimLabel) {
    return {
      id: label.id,
      node_id: nodeId('LA', label.id),
      url: `${this.repoApi(label.repo)}/labels/${encodeURIComponent(label.name)}`,
      name: label.name,
      description: label.description,
      color: label.color,
      default: false,
    }
  }

  private issueLabels(repo: string, names: string[]) {
    return names.flatMap((name) => {
      const label = this.store.labels(repo).find((candidate) => candidate.name === name)
      return label ? [this.label(label)] : []
    })
  }

  reactionRollup(url: string, commentId?: number) {
    const reactions = commentId === undefined ? [] : this.store.reactions(commentId)
    const counts = Object.fromEntries(
      REACTION_CONTENTS.map((content) => [
        content,
        reactions.filter((r) => r.content === content).length,
      ]),
    )
    return { url, total_count: reactions.length, ...counts }
  }

  issue(issue: SimIssue) {
    const repo = this.store.repo(issue.repo)
    const api = `${this.repoApi(issue.repo)}/issues/${issue.number}`
    const html = `${this.repoHtml(issue.repo)}/${issue.isPullRequest ? 'pull' : 'issues'}/${issue.number}`
    const pull = issue.isPullRequest ? this.store.findPull(issue.repo, issue.number) : undefined
    return {
      url: api,
      repository_url: this.repoApi(issue.repo),
      labels_url: `${api}/labels{/name}`,
      comments_url: `${api}/comments`,
      events_url: `${api}/events`,
      html_url: html,
      id: issue.id,
      node_id: nodeId(issue.isPullRequest ? 'PR' : 'I', issue.id),
      number: issue.number,
      title: issue.title,
      user: this.user(issue.user),
      labels: this.issueLabels(issue.repo, issue.labels),
      state: issue.state,
      state_reason: null,
      locked: false,
      assignee: null,
      assignees: [],
      milestone: null,
      comments: this.store.comments(issue.repo, issue.number).length,
      created_at: issue.createdAt,
      updated_at: issue.updatedAt,
      closed_at: issue.closedAt,
      author_association: this.authorAssociation(repo, issue.user),
      active_lock_reason: null,
      body: issue.body,
      reactions: this.reactionRollup(`${api}/reactions`),
      timeline_url: `${api}/timeline`,
      performed_via_github_app: null,
      ...(pull
        ? {
            draft: pull.draft,
            pull_request: {
              url: `${this.repoApi(issue.repo)}/pulls/${issue.number}`,
              html_url: html,
              diff_url: `${html}.diff`,
              patch_url: `${html}.patch`,
              merged_at: pull.mergedAt,
            },
          }
        : {}),
    }
  }

  comment(comment: SimComment) {
    const repo = this.store.repo(comment.repo)
    const issue = this.store.issue(comment.repo, comment.issueNumber)
    const api = `${this.repoApi(comment.repo)}/issues/comments/${comment.id}`
    const kind = issue?.isPullRequest ? 'pull' : 'issues'
    return {
      id: comment.id,
      node_id: nodeId('IC', comment.id),
      url: api,
      html_url: `${this.repoHtml(comment.repo)}/${kind}/${comment.issueNumber}#issuecomment-${comment.id}`,
      body: comment.body,
      user: this.user(comment.user),
      created_at: comment.createdAt,
      updated_at: comment.updatedAt,
      issue_url: `${this.repoApi(comment.repo)}/issues/${comment.issueNumber}`,
      author_association: this.authorAssociation(repo, comment.user),
      performed_via_github_app: null,
      reactions: this.reactionRollup(`${api}/reactions`, comment.id),
    }
  }

  reaction(reaction: SimReaction) {
    return {
      id: reaction.id,
      node_id: nodeId('REA', reaction.id),
      user: this.user(reaction.user),
      content: reaction.content,
      created_at: reaction.createdAt,
    }
  }

  status(status: SimStatus) {
    const creator = this.user(status.creator)
    return {
      url: `${this.repoApi(status.repo)}/statuses/${status.sha}`,
      avatar_url: creator.avatar_url,
      id: status.id,
      node_id: nodeId('SC', status.id),
      state: status.state,
      description: status.description,
      target_url: status.targetUrl,
      context: status.context,
      created_at: status.createdAt,
      updated_at: status.updatedAt,
      creator,
    }
  }

  /** An entry of a combined status (no creator). */
  simpleStatus(status: SimStatus) {
    const simple: Partial<ReturnType<Renderer['status']>> = this.status(status)
    delete simple.creator
    return { ...simple, required: false }
  }

  checkRun(run: SimCheckRun) {
    const api = `${this.repoApi(run.repo)}/check-runs/${run.id}`
    return {
      id: run.id,
      node_id: nodeId('CR', run.id),
      head_sha: run.headSha,
      external_id: run.externalId,
      url: api,
      html_url: `${this.repoHtml(run.repo)}/runs/${run.id}`,
      details_url: run.detailsUrl,
      status: run.status,
      conclusion: run.conclusion,
      started_at: run.startedAt,
      completed_at: run.completedAt,
      output: {
        title: run.title,
        summary: run.summary,
        text: run.text,
        annotations_count: 0,
        annotations_url: `${api}/annotations`,
      },
      name: run.name,
      check_suite: { id: run.id + 1 },
      app: null,
      pull_requests: this.store
        .pulls(run.repo)
        .filter((pull) => pull.headSha === run.headSha && pull.state === 'open')
        .map((pull) => {
          const repo = this.repository(this.store.repo(run.repo))
          const url = `${this.repoApi(run.repo)}/pulls/${pull.number}`
          const minimalRepo = { id: repo.id, url: repo.url, name: repo.name }
          return {
            id: pull.id,
            number: pull.number,
            url,
            head: { ref: pull.headRef, sha: pull.headSha, repo: minimalRepo },
            base: { ref: pull.baseRef, sha: pull.baseSha, repo: minimalRepo },
          }
        }),
    }
  }

  review(review: SimReview) {
    const repo = this.store.repo(review.repo)
    const html = `${this.repoHtml(review.repo)}/pull/${review.pullNumber}#pullrequestreview-${review.id}`
    const pullUrl = `${this.repoApi(review.repo)}/pulls/${review.pullNumber}`
    return {
      id: review.id,
      node_id: nodeId('PRR', review.id),
      user: this.user(review.user),
      body: review.body,
      state: review.state,
      html_url: html,
      pull_request_url: pullUrl,
      author_association: this.authorAssociation(repo, review.user),
      _links: { html: { href: html }, pull_request: { href: pullUrl } },
      submitted_at: review.submittedAt,
      commit_id: review.commitId,
    }
  }

  deployment(deployment: SimDeployment) {
    const api = `${this.repoApi(deployment.repo)}/deployments/${deployment.id}`
    const updated = deployment.statuses.at(-1)?.createdAt ?? deployment.createdAt
    return {
      url: api,
      id: deployment.id,
      node_id: nodeId('DE', deployment.id),
      sha: deployment.sha,
      ref: deployment.ref,
      task: deployment.task,
      payload: deployment.payload,
      original_environment: deployment.environment,
      environment: deployment.environment,
      description: deployment.description,
      creator: this.user(deployment.creator),
      created_at: deployment.createdAt,
      updated_at: updated,
      statuses_url: `${api}/statuses`,
      repository_url: this.repoApi(deployment.repo),
      transient_environment: deployment.transientEnvironment,
      production_environment: deployment.productionEnvironment,
      performed_via_github_app: null,
    }
  }

  deploymentStatus(deployment: SimDeployment, status: SimDeploymentStatus) {
    const deploymentUrl = `${this.repoApi(deployment.repo)}/deployments/${deployment.id}`
    return {
      url: `${deploymentUrl}/statuses/${status.id}`,
      id: status.id,
      node_id: nodeId('DES', status.id),
      state: status.state,
      creator: this.user(status.creator),
      description: status.description,
      environment: status.environment,
      target_url: status.logUrl,
      log_url: status.logUrl,
      environment_url: status.environmentUrl,
      created_at: status.createdAt,
      updated_at: status.createdAt,
      deployment_url: deploymentUrl,
      repository_url: this.repoApi(deployment.repo),
      performed_via_github_app: null,
    }
  }

  gitRef(repo: string, ref: string, sha: string, type: string) {
    const api = this.repoApi(repo)
    return {
      ref,
      node_id: nodeId('REF', loginId(`${repo}:${ref}`)),
      url: `${api}/git/${ref}`,
      object: { sha, type, url: `${api}/git/${type === 'tag' ? 'tags' : 'commits'}/${sha}` },
    }
  }

  commit(repo: string, info: CommitInfo) {
    const api = this.repoApi(repo)
    const gitUser = (identity: CommitInfo['author']) => ({
      name: identity.name,
      email: identity.email,
      date: identity.date.replace(/[+-]00:00$/, 'Z'),
    })
    const asUser = (identity: CommitInfo['author']) => {
      const login = [...this.store.users.values()].find(
        (user) => identity.email === `${user.login}@users.noreply.github.com`,
      )?.login
      return login ? this.user(login) : null
    }
    return {
      sha: info.sha,
      node_id: nodeId('C', loginId(info.sha)),
      commit: {
        author: gitUser(info.author),
        committer: gitUser(info.committer),
        message: info.message,
        tree: { sha: info.tree, url: `${api}/git/trees/${info.tree}` },
        url: `${api}/git/commits/${info.sha}`,
        comment_count: 0,
        verification: {
          verified: false,
          reason: 'unsigned',
          signature: null,
          payload: null,
          verified_at: null,
        },
      },
      url: `${api}/commits/${info.sha}`,
      html_url: `${this.repoHtml(repo)}/commit/${info.sha}`,
      comments_url: `${api}/commits/${info.sha}/comments`,
      author: asUser(info.author),
      committer: asUser(info.committer),
      parents: info.parents.map((sha) => ({
        sha,
        url: `${api}/commits/${sha}`,
        html_url: `${this.repoHtml(repo)}/commit/${sha}`,
      })),
    }
  }

  private pullLinks(repo: string, number: number) {
    const api = `${this.repoApi(repo)}/pulls/${number}`
    const issue = `${this.repoApi(repo)}/issues/${number}`
    return {
      self: { href: api },
      html: { href: `${this.repoHtml(repo)}/pull/${number}` },
      issue: { href: issue },
      comments: { href: `${issue}/comments` },
      review_comments: { href: `${api}/comments` },
      review_comment: { href: `${this.repoApi(repo)}/pulls/comments{/number}` },
      commits: { href: `${api}/commits` },
      statuses: { href: `${this.repoApi(repo)}/statuses/PLACEHOLDER` },
    }
  }

  /** The pull request as listed (`pull-request-simple`). */
  pullSimple(pull: SimPullRequest) {
    const repo = this.store.repo(pull.repo)
    const issue = this.store.issue(pull.repo, pull.number)
    const api = `${this.repoApi(pull.repo)}/pulls/${pull.number}`
    const html = `${this.repoHtml(pull.repo)}/pull/${pull.number}`
    const issueApi = `${this.repoApi(pull.repo)}/issues/${pull.number}`
    const headOwner = pull.headRepo.split('/')[0] ?? repo.owner
    const links = this.pullLinks(pull.repo, pull.number)
    links.statuses.href = `${this.repoApi(pull.repo)}/statuses/${pull.headSha}`
    return {
      url: api,
      id: pull.id,
      node_id: nodeId('PR', pull.id),
      html_url: html,
      diff_url: `${html}.diff`,
      patch_url: `${html}.patch`,
      issue_url: issueApi,
      commits_url: `${api}/commits`,
      review_comments_url: `${api}/comments`,
      review_comment_url: `${this.repoApi(pull.repo)}/pulls/comments{/number}`,
      comments_url: `${issueApi}/comments`,
      statuses_url: `${this.repoApi(pull.repo)}/statuses/${pull.headSha}`,
      number: pull.number,
      state: pull.state,
      locked: false,
      title: pull.title,
      user: this.user(pull.user),
      body: pull.body,
      labels: this.issueLabels(pull.repo, issue?.labels ?? []),
      milestone: null,
      active_lock_reason: null,
      created_at: pull.createdAt,
      updated_at: pull.updatedAt,
      closed_at: pull.closedAt,
      merged_at: pull.mergedAt,
      merge_commit_sha: pull.mergeCommitSha,
      assignee: null,
      assignees: [],
      requested_reviewers: [],
      requested_teams: [],
      head: {
        label: `${headOwner}:${pull.headRef}`,
        ref: pull.headRef,
        sha: pull.headSha,
        user: this.user(headOwner),
        repo: pull.fromFork ? this.repository(repo, { owner: headOwner }) : this.repository(repo),
      },
      base: {
        label: `${repo.owner}:${pull.baseRef}`,
        ref: pull.baseRef,
        sha: pull.baseSha,
        user: this.user(repo.owner),
        repo: this.repository(repo),
      },
      _links: links,
      author_association: this.authorAssociation(repo, pull.user),
      auto_merge: null,
      draft: pull.draft,
    }
  }

  mergeableState(pull: SimPullRequest): string {
    if (pull.state === 'closed') return 'unknown'
    if (pull.draft) return 'draft'
    if (pull.mergeable === null) return 'unknown'
    if (!pull.mergeable) return 'dirty'
    const combined = this.store.combinedState(pull.repo, pull.headSha)
    const hasStatuses = this.store.statuses(pull.repo, pull.headSha).length > 0
    return hasStatuses && combined !== 'success' ? 'unstable' : 'clean'
  }

  /** The pull request in full (`pull-request`), as GET, create, update and webhooks return it. */
  pull(pull: SimPullRequest) {
    return {
      ...this.pullSimple(pull),
      merged: pull.merged,
      mergeable: pull.state === 'open' ? pull.mergeable : null,
      rebaseable: pull.state === 'open' ? pull.mergeable : null,
      mergeable_state: this.mergeableState(pull),
      merged_by: pull.mergedBy ? this.user(pull.mergedBy) : null,
      comments: this.store.comments(pull.repo, pull.number).length,
      review_comments: 0,
      maintainer_can_modify: false,
      commits: pull.commits,
      additions: pull.additions,
      deletions: pull.deletions,
      changed_files: pull.changedFiles,
    }
  }
}
