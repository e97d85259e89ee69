// merge-cleanup's named steps: each reads what GitHub has and does only what
// is missing, so a re-run after a crash anywhere repeats nothing. The order
// of a finished environment keeps its cluster on an existing branch at every
// moment: merge → Application back on the WET branch (synced, healthy) →
// child branches deleted → lock released.

import { restoreApplication } from '../lib/argocd/restore.js'
import { CHILD_BRANCH_PREFIX, childBranch, parseChildBranch } from '../lib/children.js'
import { argoCdApplicationName } from '../lib/config/config.js'
import { errorMessage } from '../lib/errors.js'
import { PushRejectedError } from '../lib/git/git.js'
import { deleteBranch } from '../lib/github/git-data.js'
import { closePull, getPullRequest, mergeAtSha, type ChildPr } from '../lib/github/pulls.js'
import { releaseLock } from '../lib/locks.js'
import type { ApplicationReset, EnvironmentCleanup, EnvironmentWork, RunContext } from './types.js'

/** A 409 on merge or a rejected lease: re-read everything and try this environment once more. */
export class RetryEnvironment extends Error {
  override name = 'RetryEnvironment'
}

export function baseResult(item: EnvironmentWork): Omit<EnvironmentCleanup, 'action' | 'detail'> {
  return {
    environment: item.name,
    stage: item.stage,
    branch: item.branch,
    ...(item.child ? { child: { number: item.child.number, url: item.child.url } } : {}),
    rerendered: false,
  }
}

/** The DRY repository as hydrate records it and Argo CD tracks it. */
export function repositoryUrl(ctx: RunContext): string {
  return `${ctx.options.serverUrl}/${ctx.repo.owner}/${ctx.repo.repo}`
}

export function oneFetchAtATime<T>(ctx: RunContext, fn: () => Promise<T>): Promise<T> {
  const next = ctx.fetching.then(fn)
  ctx.fetching = next.catch(() => undefined)
  return next
}

/**
 * Reads the remote tips of branches and mirrors them exactly in
 * refs/remotes/origin/<branch> (where the render reads WET branches), so
 * every run computes against the same tips. Returns branch → tip ('' when missing).
 */
export function fetchBranches(
  ctx: RunContext,
  branches: readonly string[],
): Promise<Map<string, string>> {
  return oneFetchAtATime(ctx, async () => {
    const unique = [...new Set(branches)].filter(Boolean)
    const tips = new Map<string, string>()
    if (unique.length === 0) return tips
    const refs = await ctx.git.lsRemote(
      ctx.options.remote,
      unique.map((b) => `refs/heads/${b}`),
    )
    const missing: string[] = []
    for (const branch of unique) {
      const sha = refs.get(`refs/heads/${branch}`) ?? ''
      tips.set(branch, sha)
      if (sha && !(await ctx.git.tryRevParse(sha))) missing.push(`refs/heads/${branch}`)
    }
    if (missing.length > 0) await ctx.git.fetch(ctx.options.remote, missing)
    for (const [branch, sha] of tips) {
      const tracking = `refs/remotes/origin/${branch}`
      if (sha) await ctx.git.run(['update-ref', '--no-deref', tracking, sha])
      else await ctx.git.raw(['update-ref', '-d', tracking])
    }
    return tips
  })
}

export async function pushRefs(
  ctx: RunContext,
  item: EnvironmentWork,
  updates: ReadonlyArray<{ ref: string; sha: string; expect: string }>,
): Promise<void> {
  try {
    await ctx.git.push(
      ctx.options.remote,
      updates.map((u) => `${u.sha}:${u.ref}`),
      { atomic: true, leases: updates.map((u) => ({ ref: u.ref, expect: u.expect })) },
    )
  } catch (error) {
    if (error instanceof PushRejectedError) throw new RetryEnvironment(error.message)
    throw error
  }
  for (const update of updates) item.tips.set(update.ref.slice('refs/heads/'.length), update.sha)
}

/** GitHub updates a PR's head asynchronously after a push; merge only once it shows the new SHA. */
export async function waitForHead(ctx: RunContext, number: number, sha: string): Promise<void> {
  const deadline = Date.now() + (ctx.options.headWaitMs ?? 10_000)
  for (let delay = 250; ; delay = Math.min(delay * 2, 2000)) {
    const now = await getPullRequest(ctx.client, ctx.repo, number)
    if (now.headSha === sha || now.merged || now.state !== 'open') return
    if (Date.now() + delay > deadline) return // the merge's `sha` check decides
    await new Promise((resolve) => setTimeout(resolve, delay))
  }
}

/** Merges bound to `sha`; undefined when it was merged already. 409 → RetryEnvironment. */
export async function mergeChild(
  ctx: RunContext,
  item: EnvironmentWork,
  child: ChildPr,
  sha: string,
): Promise<string | undefined> {
  const merge = await mergeAtSha(ctx.client, ctx.repo, {
    number: child.number,
    sha,
    title: `fleet-promote: ${item.name} from #${ctx.parent} (#${child.number})`,
  })
  if (merge.merged) return merge.sha
  if (merge.reason === 'head-moved')
    throw new RetryEnvironment(`the head of #${child.number} moved before the merge`)
  // A refusal of a PR that an earlier attempt merged (its answer lost) is no failure.
  if ((await getPullRequest(ctx.client, ctx.repo, child.number)).merged) return undefined
  throw new Error(`GitHub refused to merge #${child.number}: ${merge.message}`)
}

export async function closeChildren(
  ctx: RunContext,
  item: EnvironmentWork,
  why: string,
): Promise<void> {
  const open = [item.child, ...item.duplicates].filter(
    (c): c is ChildPr => c !== undefined && c.state === 'open',
  )
  for (const child of open) {
    // Merged or closed meanwhile: nothing to close.
    await closePull(ctx.client, ctx.repo, child.number, { ignoreFinished: true })
    child.state = 'closed'
    ctx.log(`${item.name}: closed #${child.number} (${why})`)
  }
}

/** Deletes every child branch of the environment that still exists; one already gone is fine. */
async function deleteChildBranches(ctx: RunContext, item: EnvironmentWork): Promise<void> {
  const branches = [
    ...new Set(
      [item.child, ...item.duplicates]
        .filter((c): c is ChildPr => c !== undefined)
        .map((c) => c.branch)
        .filter((ref) => ref.startsWith(`${CHILD_BRANCH_PREFIX}${ctx.parent}/`)),
    ),
  ]
  if (branches.length === 0) return
  const unknown = branches.filter((b) => !item.tips.has(b))
  if (unknown.length > 0) {
    const refs = await ctx.git.lsRemote(
      ctx.options.remote,
      unknown.map((b) => `refs/heads/${b}`),
    )
    for (const b of unknown) item.tips.set(b, refs.get(`refs/heads/${b}`) ?? '')
  }
  for (const branch of branches.filter((b) => item.tips.get(b))) {
    if (await deleteBranch(ctx.client, ctx.repo, branch)) ctx.log(`${item.name}: deleted ${branch}`)
    item.tips.set(branch, '')
  }
}

/**
 * The end of every environment: its cluster back on the WET branch, then the
 * child branches deleted (with `deleteBranches`) and the lock released. When
 * the Application cannot be restored, the child branch and the lock stay, so
 * the cluster never runs a branch that is gone; the run fails and a re-run
 * finishes it.
 */
export async function finish(
  ctx: RunContext,
  item: EnvironmentWork,
  result: EnvironmentCleanup,
  deleteBranches = true,
): Promise<EnvironmentCleanup> {
  const application = await restore(ctx, item)
  if (application?.result === 'failed') {
    return { ...result, application, detail: `${result.detail}; its cluster still runs the child` }
  }
  if (deleteBranches) await deleteChildBranches(ctx, item)
  const lock = await releaseLock(ctx.client, ctx.repo, item.name, ctx.parent)
  return { ...result, ...(application ? { application } : {}), lock }
}

/** The WET tip this run knows, else the remote's. */
async function wetTip(ctx: RunContext, item: EnvironmentWork): Promise<string> {
  const known = item.tips.get(item.branch)
  if (known) return known
  const refs = await ctx.git.lsRemote(ctx.options.remote, [`refs/heads/${item.branch}`])
  return refs.get(`refs/heads/${item.branch}`) ?? ''
}

/** Points the Application (argocd backend) back at the WET branch when it runs this parent's child or a deleted branch. */
async function restore(
  ctx: RunContext,
  item: EnvironmentWork,
): Promise<ApplicationReset | undefined> {
  if (item.backend !== 'argocd' || !item.branch) return undefined
  let name: string
  try {
    name = argoCdApplicationName(ctx.config, item)
  } catch (error) {
    return { name: '', result: 'failed', detail: errorMessage(error) }
  }
  const argocd = ctx.argocd
  if (!argocd) {
    return {
      name,
      result: 'failed',
      detail: 'no Argo CD server or token: set deploy.argocd.server and the argocd-token input',
    }
  }
  const restored = await restoreApplication(argocd, {
    application: name,
    wetBranch: item.branch,
    wetTip: await wetTip(ctx, item),
    repoURL: repositoryUrl(ctx),
    mayMove: (target) => mayMoveOff(ctx, item.name, target),
    timeoutMs: ctx.config.deploy.argocd.timeoutSeconds * 1000,
    pollMs: ctx.options.argocdPollMs ?? 5000,
  })
  ctx.log(`${item.name}: ${restored.detail}`)
  return { name, result: restored.result, detail: restored.detail }
}

/**
 * This parent's own child branch is ours to leave; so is a child branch that
 * no longer exists (a repair). Another parent's existing child, a pin or a
 * commit a deploy system set is not.
 */
export async function mayMoveOff(
  ctx: RunContext,
  environment: string,
  target: string,
): Promise<boolean> {
  if (target === childBranch(ctx.parent, environment)) return true
  if (!parseChildBranch(target)) return false
  const refs = await ctx.git.lsRemote(ctx.options.remote, [`refs/heads/${target}`])
  return !refs.has(`refs/heads/${target}`)
}

/** Left for a human: the child stays open; its cluster goes back to the WET branch and the lock is released. */
export function leave(
  ctx: RunContext,
  item: EnvironmentWork,
  reason: string,
): Promise<EnvironmentCleanup> {
  return finish(ctx, item, { ...baseResult(item), action: 'left', detail: reason }, false)
}
