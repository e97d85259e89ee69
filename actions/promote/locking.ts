// Taking and giving back the environment locks of one run (lib/locks.ts
// holds the lock format and the batch operations: one atomic push each).

import { errorMessage } from '../lib/errors.js'
import {
  acquireLocks,
  describeHolder,
  planLocks,
  pushAtomically,
  releaseLocks,
  type HeldLock,
} from '../lib/locks.js'
import type { Impacted } from './facts.js'
import { planLanding, type LandingChild } from './landing.js'
import type { RunState } from './run.js'

/** Takes every lock in one atomic push; on a conflict nothing is taken. */
export async function acquireAll(
  state: RunState,
  envs: readonly Impacted[],
  reason: string,
): Promise<{ created: HeldLock[] } | { refusal: string }> {
  const { settings, pull, trigger } = state
  const result = await acquireLocks(
    settings.locks,
    envs.map((env) => env.environment),
    { pr: pull.number, actor: trigger.actor.login, reason, sha: pull.headSha },
  )
  if (result.status === 'conflict')
    return { refusal: `${result.held.environment} is ${describeHolder(result.held)}` }
  return { created: result.created }
}

/**
 * Takes every lock and lands `children` (lib/locks.ts, landing.ts) in ONE
 * atomic push: all or nothing. Undefined when that push is not made or is
 * refused (a lock held or taken meanwhile, a WET branch moved, a protected
 * branch): nothing was taken or landed, and the caller takes the locks alone
 * (which names a holder) and lands as usual.
 */
export async function acquireAndLand(
  state: RunState,
  envs: readonly Impacted[],
  reason: string,
  children: readonly LandingChild[],
): Promise<{ created: HeldLock[]; landed: Set<string> } | undefined> {
  const { settings, pull, trigger } = state
  try {
    const locks = await planLocks(
      settings.locks,
      envs.map((env) => env.environment),
      { pr: pull.number, actor: trigger.actor.login, reason, sha: pull.headSha },
    )
    if (locks.status === 'conflict') return undefined
    const landing = await planLanding(settings.locks, children)
    const push = {
      refspecs: [...locks.push.refspecs, ...landing.push.refspecs],
      leases: [...locks.push.leases, ...landing.push.leases],
    }
    if (push.refspecs.length > 0) await pushAtomically(settings.locks, push)
    settings.log(
      `took ${locks.created.length} lock(s) and landed ${landing.push.refspecs.length} child PR(s) in one push`,
    )
    return { created: locks.created, landed: new Set([...landing.landed, ...landing.pushed]) }
  } catch (error) {
    settings.log(`could not lock and land in one push: ${errorMessage(error).split('\n')[0]}`)
    return undefined
  }
}

/** Gives back locks this run took; locks that cannot be released are logged, not fatal. */
export async function releaseAcquired(state: RunState, locks: readonly HeldLock[]): Promise<void> {
  try {
    const released = new Set(await releaseLocks(state.settings.locks, locks))
    const kept = locks.filter((lock) => !released.has(lock.environment))
    if (kept.length > 0)
      state.settings.log(
        `locks taken anew since this run took them, left in place: ${kept.map((l) => l.environment).join(', ')}`,
      )
  } catch (error) {
    state.settings.log(`could not release the locks this run took: ${errorMessage(error)}`)
  }
}
