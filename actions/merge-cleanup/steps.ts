// merge-cleanup's named steps: each reads what GitHub has and does only what
// is missing, so a re-run after a crash anywhere repeats nothing. The order
// keeps every cluster on an existing branch at every moment: the WET branches
// land (one atomic push) → each Application back on its WET branch (synced,
// healthy) → child branches and locks deleted (one more atomic push).

import { restoreApplication } from '../lib/argocd/restore.js'
import { childBranch, parseChildBranch } from '../lib/children.js'
import { argoCdApplicationName } from '../lib/config/config.js'
import { errorMessage } from '../lib/errors.js'
import { closePull, type ChildPr } from '../lib/github/pulls.js'
import type {
  ApplicationReset,
  EnvironmentCleanup,
  EnvironmentWork,
  RefUpdate,
  RunContext,
} from './types.js'

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

export async function closeChildren(
  ctx: RunContext,
  item: EnvironmentWork,
  why: string,
): Promise<void> {
  const open = [item.child, ...item.duplicates].filter(
    (c): c is ChildPr => c !== undefined && c.state === 'open',
  )
  for (const child of open) {
    if (!ctx.closed.has(child.number)) {
      // Merged or closed meanwhile: nothing to close.
      await closePull(ctx.client, ctx.repo, child.number, { ignoreFinished: true })
      ctx.closed.add(child.number)
    }
    child.state = 'closed'
    ctx.log(`${item.name}: closed #${child.number} (${why})`)
  }
}

/**
 * The end of every environment: its cluster back on the WET branch; then the
 * run's last push gives back its lock and (unless `deleteBranches` is false)
 * its child branches. When the Application cannot be restored, the child
 * branch and the lock stay, so the cluster never runs a branch that is gone;
 * the run fails and a re-run finishes it.
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
  item.release = deleteBranches ? 'branches-and-lock' : 'lock'
  return { ...result, ...(application ? { application } : {}) }
}

/**
 * Every landing of the run in one atomic push, each WET branch leased on the
 * tip it was planned on: all of them land, or (a branch moved) none.
 */
export async function pushLandings(
  ctx: RunContext,
  work: readonly EnvironmentWork[],
): Promise<void> {
  const updates = work.flatMap((item) => (item.landing ? [item.landing] : []))
  if (updates.length === 0) return
  await pushUpdates(ctx, updates)
  // Every environment of a shared branch sees the one landing of its branch.
  const landed = new Map(updates.map((u) => [u.ref, u.sha]))
  for (const item of work) {
    const sha = landed.get(`refs/heads/${item.branch}`)
    if (sha) item.tips.set(item.branch, sha)
  }
  ctx.log(`landed ${updates.length} WET branch(es) in one push`)
}

export async function pushUpdates(ctx: RunContext, updates: readonly RefUpdate[]): Promise<void> {
  await ctx.git.push(
    ctx.options.remote,
    updates.map((u) => `${u.sha}:${u.ref}`),
    { atomic: true, leases: updates.map((u) => ({ ref: u.ref, expect: u.expect })) },
  )
}

/** Where its Application belongs on a shared WET branch: its folder, from the configuration (else its child). */
function folderOf(item: EnvironmentWork): { path?: string } {
  const folder = item.environment ? item.environment.folder : item.child?.folder
  return folder === undefined ? {} : { path: folder }
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
    ...folderOf(item),
    wetTip: await wetTip(ctx, item),
    repoURL: repositoryUrl(ctx),
    mayMove: (target) => mayMoveOff(ctx, item.name, target, item.child?.branch),
    timeoutMs: ctx.config.deploy.argocd.timeoutSeconds * 1000,
    pollMs: ctx.options.argocdPollMs ?? 5000,
  })
  ctx.log(`${item.name}: ${restored.detail}`)
  return { name, result: restored.result, detail: restored.detail }
}

/**
 * This parent's own child branch is ours to leave (the environment's, or the
 * shared WET branch's child `own`); so is a child branch that no longer
 * exists (a repair). Another parent's existing child, a pin or a commit a
 * deploy system set is not.
 */
export async function mayMoveOff(
  ctx: RunContext,
  environment: string,
  target: string,
  own?: string,
): Promise<boolean> {
  const ours = (branch: string) => parseChildBranch(branch)?.parent === ctx.parent
  if (target === childBranch(ctx.parent, environment) || (own === target && ours(target)))
    return true
  if (!parseChildBranch(target)) return false
  const refs = await ctx.git.lsRemote(ctx.options.remote, [`refs/heads/${target}`])
  return !refs.has(`refs/heads/${target}`)
}
