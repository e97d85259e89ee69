// The run's last push: every child branch and lock it gives back, deleted in
// one atomic push, each leased on the commit this run read, so a branch or a
// lock someone moved since is never removed. Locks come from one fetch of the
// lock refs; no REST call per environment.

import { CHILD_BRANCH_PREFIX } from '../lib/children.js'
import { PushRejectedError } from '../lib/git/git.js'
import { heldLocks, lockBranch, type HeldLock, type ReleaseResult } from '../lib/locks.js'
import { pushUpdates } from './steps.js'
import type { EnvironmentWork, RefUpdate, RunContext } from './types.js'

export interface Released {
  /** Per environment of the run that was finished: what became of its lock. */
  locks: Map<string, ReleaseResult>
  /** Locks of the parent on environments without children (the sweep). */
  swept: string[]
}

export async function releaseAll(
  ctx: RunContext,
  work: readonly EnvironmentWork[],
): Promise<Released> {
  const held = await heldLocks({ git: ctx.git, remote: ctx.options.remote })
  const ours = (lock: HeldLock | undefined): lock is HeldLock => lock?.lock?.pr === ctx.parent
  const updates = await childBranchDeletes(ctx, work)
  const locks = new Map<string, ReleaseResult>()
  for (const item of work) {
    if (!item.release) continue
    const lock = held.get(item.name)
    locks.set(item.name, !lock ? 'absent' : ours(lock) ? 'released' : 'conflict')
    if (ours(lock)) updates.push(lockDelete(lock))
  }
  const inRun = new Set(work.map((item) => item.name))
  const swept = [...held.values()].filter((lock) => ours(lock) && !inRun.has(lock.environment))
  updates.push(...swept.map(lockDelete))
  const refused = await deleteRefs(ctx, updates)
  for (const lock of [...held.values()].filter((l) => refused.has(lockRef(l.environment)))) {
    if (locks.get(lock.environment) === 'released') locks.set(lock.environment, 'conflict')
  }
  return {
    locks,
    swept: swept.filter((l) => !refused.has(lockRef(l.environment))).map((l) => l.environment),
  }
}

function lockRef(environment: string): string {
  return `refs/heads/${lockBranch(environment)}`
}

function lockDelete(lock: HeldLock): RefUpdate {
  return { ref: lockRef(lock.environment), sha: '', expect: lock.commit }
}

/**
 * This parent's child branches that every environment holding them gives
 * back (a shared WET branch's child is held by each of its folders: it goes
 * once, when none keeps it; one already gone is fine), leased on the tips
 * this run read; tips it never read (a closed parent's) come from one ls-remote.
 */
async function childBranchDeletes(
  ctx: RunContext,
  work: readonly EnvironmentWork[],
): Promise<RefUpdate[]> {
  const own = (item: EnvironmentWork) =>
    [item.child, ...item.duplicates]
      .flatMap((c) => (c ? [c.branch] : []))
      .filter((branch) => branch.startsWith(`${CHILD_BRANCH_PREFIX}${ctx.parent}/`))
  const giving = (item: EnvironmentWork) => item.release === 'branches-and-lock'
  const kept = new Set(work.filter((item) => !giving(item)).flatMap(own))
  const tips = new Map<string, string | undefined>()
  for (const item of work.filter(giving)) {
    for (const branch of own(item)) if (!kept.has(branch)) tips.set(branch, item.tips.get(branch))
  }
  const unknown = [...tips].filter(([, tip]) => tip === undefined).map(([branch]) => branch)
  const remote =
    unknown.length > 0
      ? await ctx.git.lsRemote(
          ctx.options.remote,
          unknown.map((b) => `refs/heads/${b}`),
        )
      : new Map<string, string>()
  return [...tips].flatMap(([branch, known]) => {
    const ref = `refs/heads/${branch}`
    const tip = known ?? remote.get(ref)
    return tip ? [{ ref, sha: '', expect: tip }] : []
  })
}

/**
 * Deletes the refs in one atomic push. When it is refused (a ref moved), the
 * refs still at their leased commit are deleted alone; returns the refs left.
 */
async function deleteRefs(ctx: RunContext, updates: readonly RefUpdate[]): Promise<Set<string>> {
  if (updates.length === 0) return new Set()
  try {
    await pushUpdates(ctx, updates)
    ctx.log(`deleted ${updates.length} child branch and lock ref(s) in one push`)
    return new Set()
  } catch (error) {
    if (!(error instanceof PushRejectedError)) throw error
  }
  const now = await ctx.git.lsRemote(
    ctx.options.remote,
    updates.map((u) => u.ref),
  )
  const still = updates.filter((u) => now.get(u.ref) === u.expect)
  if (still.length > 0) await pushUpdates(ctx, still)
  const kept = new Set(still.map((u) => u.ref))
  return new Set(updates.filter((u) => !kept.has(u.ref) && now.has(u.ref)).map((u) => u.ref))
}
