/**
 * What GitHub does behind pull requests: head SHAs follow their branches,
 * refs/pull/N/head and refs/pull/N/merge (a real test-merge commit) are
 * rebuilt after every change, and merges write real commits to the base branch.
 *
 * Every write to a repository's refs (merges, pushes, the refs API, test-merge
 * rebuilds) runs through `exclusive`, one at a time per repository, as GitHub
 * serializes them: concurrent `git update-ref`s on one repository would
 * otherwise collide on git's lock files and leak as 500s.
 */
import {
  commitTree,
  deleteRef,
  diffStats,
  GITHUB_COMMITTER,
  isAncestor,
  listRefs,
  mergeTrees,
  refSha,
  updateRef,
  updateRefs,
} from './git-repo.js'
import type { Store } from './store.js'
import type { SimPullRequest } from './types.js'

export interface RefChange {
  ref: string
  before: string
  after: string
}

export interface RefListener {
  /** A pushed branch moved a pull request's head (the synchronize event). */
  onSynchronize(pull: SimPullRequest, actor: string): void
  /** The head branch of an open pull request was deleted: GitHub closes it. */
  onHeadDeleted(pull: SimPullRequest, actor: string): void
  /** A push brought the head commit into the base branch: GitHub marks it merged. */
  onMergedByPush(pull: SimPullRequest, actor: string): void
  onPush(repo: string, change: RefChange, actor: string): void
}

const ZERO = '0000000000000000000000000000000000000000'

/**
 * GitHub's 405 for a merge whose base branch moved after the request read it
 * (observed, e.g. NixOS/nixpkgs-merge-bot#179:
 * `405 {"message":"Base branch was modified. Review and try the merge again."}`);
 * the REST reference documents the 405 for "merge cannot be performed".
 */
export const BASE_MODIFIED = 'Base branch was modified. Review and try the merge again.'
export const NOT_MERGEABLE = 'Pull Request is not mergeable'

/** A merge's outcome: the merge commit, or GitHub's 405 message. */
export type MergeOutcome = { sha: string } | { refused: string }

export class PullRefs {
  private readonly merges = new Map<string, { base: string; head: string; merge: string | null }>()
  /** Pull requests (`repo#N`) whose base moved and whose test merge waits for a read (`on-read`). */
  private readonly unread = new Set<string>()
  /** Per repository, the tail of its queue of ref writers. */
  private readonly queues = new Map<string, Promise<unknown>>()

  constructor(
    private readonly store: Store,
    private readonly testMerges: 'eager' | 'on-read',
    private readonly listener: RefListener,
  ) {}

  /**
   * Runs `work` when every earlier ref writer of the repository has finished,
   * and holds the next ones until it has. Not re-entrant: `work` must not call it.
   */
  exclusive<T>(repo: string, work: () => Promise<T>): Promise<T> {
    const run = (this.queues.get(repo) ?? Promise.resolve()).then(work)
    const tail = run.then(
      () => undefined,
      () => undefined,
    )
    this.queues.set(repo, tail)
    void tail.then(() => {
      if (this.queues.get(repo) === tail) this.queues.delete(repo)
    })
    return run
  }

  /**
   * A read of the pull request (GET /pulls/N): when its test merge waits for
   * one, the computation starts now. The answer in hand was built before: it
   * says `mergeable: null`, as GitHub's does while its background job runs.
   */
  async read(pull: SimPullRequest): Promise<void> {
    if (!this.unread.delete(`${pull.repo}#${pull.number}`)) return
    if (pull.state === 'open') await this.exclusive(pull.repo, () => this.updatePull(pull))
  }

  /** Branch heads of a repository, to compare before and after a push. */
  async snapshot(repo: string): Promise<Map<string, string>> {
    const refs = await listRefs(this.store.repo(repo).path, 'refs/heads/')
    return new Map(refs.map(({ ref, sha }) => [ref, sha]))
  }

  /** Reconciles pull requests with the branches after refs changed (a push, an API ref update, a merge). */
  async afterRefsChanged(
    repo: string,
    before: Map<string, string>,
    actor: string,
  ): Promise<RefChange[]> {
    const after = await this.snapshot(repo)
    const changes: RefChange[] = []
    for (const ref of new Set([...before.keys(), ...after.keys()])) {
      const old = before.get(ref) ?? ZERO
      const now = after.get(ref) ?? ZERO
      if (old !== now) changes.push({ ref, before: old, after: now })
    }
    for (const change of changes) this.listener.onPush(repo, change, actor)
    const baseMoved = new Set(changes.filter((c) => c.after !== ZERO).map((c) => c.ref))
    for (const pull of this.store.pulls(repo)) {
      if (pull.state !== 'open') continue
      const head = after.get(`refs/heads/${pull.headRef}`)
      const base = after.get(`refs/heads/${pull.baseRef}`)
      // As GitHub: when a push makes the base branch contain the pull request's
      // head commit, the pull request is merged (even if the same push deletes
      // the head branch), by the pusher, with the head commit as merge commit.
      const headCommit = head ?? pull.headSha
      if (
        base &&
        baseMoved.has(`refs/heads/${pull.baseRef}`) &&
        (await isAncestor(this.store.repo(repo).path, headCommit, base))
      ) {
        const now = this.store.now()
        Object.assign(pull, {
          state: 'closed',
          merged: true,
          mergedAt: now,
          mergedBy: actor,
          closedAt: now,
          updatedAt: now,
          headSha: headCommit,
          mergeCommitSha: headCommit,
          mergeable: null,
        })
        const issue = this.store.issue(pull.repo, pull.number)
        if (issue) Object.assign(issue, { state: 'closed', closedAt: now, updatedAt: now })
        this.merges.delete(`${pull.repo}#${pull.number}`)
        await deleteRef(this.store.repo(repo).path, `refs/pull/${pull.number}/merge`)
        await updateRef(this.store.repo(repo).path, `refs/pull/${pull.number}/head`, headCommit)
        this.listener.onMergedByPush(pull, actor)
      } else if (!head && before.has(`refs/heads/${pull.headRef}`)) {
        const now = this.store.now()
        Object.assign(pull, { state: 'closed', closedAt: now, updatedAt: now, mergeable: null })
        const issue = this.store.issue(pull.repo, pull.number)
        if (issue) Object.assign(issue, { state: 'closed', closedAt: now, updatedAt: now })
        this.merges.delete(`${pull.repo}#${pull.number}`)
        await deleteRef(this.store.repo(repo).path, `refs/pull/${pull.number}/merge`)
        this.listener.onHeadDeleted(pull, actor)
      } else if (head && head !== pull.headSha) {
        const previous = pull.headSha
        pull.previousHeadSha = previous
        pull.headSha = head
        pull.updatedAt = this.store.now()
        await this.updatePull(pull, after.get(`refs/heads/${pull.baseRef}`))
        this.listener.onSynchronize(pull, actor)
      } else if (changes.some((change) => change.ref === `refs/heads/${pull.baseRef}`)) {
        if (this.testMerges === 'eager')
          await this.updatePull(pull, after.get(`refs/heads/${pull.baseRef}`))
        else {
          Object.assign(pull, { mergeable: null })
          this.unread.add(`${pull.repo}#${pull.number}`)
        }
      }
    }
    return changes
  }

  /**
   * Refreshes base SHA, statistics, refs/pull/N/head, refs/pull/N/merge and
   * mergeability of one pull request. `knownBase` spares a lookup when the
   * caller already has the base branch head.
   */
  async updatePull(pull: SimPullRequest, knownBase?: string): Promise<void> {
    const dir = this.store.repo(pull.repo).path
    const base = knownBase ?? (await refSha(dir, `refs/heads/${pull.baseRef}`))
    if (base) pull.baseSha = base
    const stats = await diffStats(dir, pull.baseSha, pull.headSha)
    Object.assign(pull, {
      commits: stats.commits,
      additions: stats.additions,
      deletions: stats.deletions,
      changedFiles: stats.files,
    })
    const updates = [`update refs/pull/${pull.number}/head ${pull.headSha}`]
    this.unread.delete(`${pull.repo}#${pull.number}`)
    if (pull.state === 'open') {
      // The test merge depends on base and head only: rebuild it only when one of them moved.
      const key = `${pull.repo}#${pull.number}`
      let cached = this.merges.get(key)
      if (!cached || cached.base !== pull.baseSha || cached.head !== pull.headSha) {
        const tree = await mergeTrees(dir, pull.baseSha, pull.headSha)
        const merge =
          tree === undefined
            ? null
            : await commitTree(
                dir,
                tree,
                [pull.baseSha, pull.headSha],
                `Merge ${pull.headSha} into ${pull.baseSha}`,
                GITHUB_COMMITTER,
              )
        cached = { base: pull.baseSha, head: pull.headSha, merge }
        this.merges.set(key, cached)
        updates.push(
          merge === null
            ? `delete refs/pull/${pull.number}/merge`
            : `update refs/pull/${pull.number}/merge ${merge}`,
        )
      }
      pull.mergeable = cached.merge !== null
      pull.mergeCommitSha = cached.merge
    }
    await updateRefs(dir, updates)
  }

  /** Drops cached test merges of a repository (after a test rewrote refs directly). */
  forget(repo: string): void {
    for (const key of this.merges.keys()) if (key.startsWith(`${repo}#`)) this.merges.delete(key)
  }

  /**
   * Merges like the merge button: a merge commit (or a squash commit) on the
   * base branch. Call it under `exclusive`. `seenBase` is the base head when
   * the request arrived: a merge that still applies after the base moved
   * lands on the new head; one that no longer does is refused as GitHub
   * refuses a merge whose base moved under it.
   */
  async merge(
    pull: SimPullRequest,
    login: string,
    options: { method: 'merge' | 'squash'; title?: string; message?: string; seenBase?: string },
  ): Promise<MergeOutcome> {
    const repo = this.store.repo(pull.repo)
    const before = await this.snapshot(pull.repo)
    const base = before.get(`refs/heads/${pull.baseRef}`)
    if (!base) return { refused: NOT_MERGEABLE }
    const tree = await mergeTrees(repo.path, base, pull.headSha)
    if (tree === undefined) {
      const moved = options.seenBase !== undefined && options.seenBase !== base
      return { refused: moved ? BASE_MODIFIED : NOT_MERGEABLE }
    }
    const author = { name: login, email: `${login}@users.noreply.github.com` }
    const title =
      options.title ??
      (options.method === 'squash'
        ? `${pull.title} (#${pull.number})`
        : `Merge pull request #${pull.number} from ${pull.headRepo.split('/')[0]}/${pull.headRef}`)
    const body = options.message ?? (options.method === 'squash' ? '' : pull.title)
    const message = body ? `${title}\n\n${body}\n` : `${title}\n`
    const parents = options.method === 'squash' ? [base] : [base, pull.headSha]
    const sha = await commitTree(repo.path, tree, parents, message, author, GITHUB_COMMITTER)
    await updateRef(repo.path, `refs/heads/${pull.baseRef}`, sha, base)
    const now = this.store.now()
    Object.assign(pull, {
      state: 'closed',
      merged: true,
      mergedAt: now,
      mergedBy: login,
      closedAt: now,
      updatedAt: now,
      mergeCommitSha: sha,
      mergeable: null,
      baseSha: base,
    })
    const issue = this.store.issue(pull.repo, pull.number)
    if (issue) Object.assign(issue, { state: 'closed', closedAt: now, updatedAt: now })
    await deleteRef(repo.path, `refs/pull/${pull.number}/merge`)
    this.merges.delete(`${pull.repo}#${pull.number}`)
    await this.afterRefsChanged(pull.repo, before, login)
    return { sha }
  }
}
