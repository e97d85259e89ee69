// Taking and giving back the environment locks of one run (lib/locks.ts
// holds the lock format and the batch operations: one atomic push each).

import { errorMessage } from '../lib/errors.js'
import { acquireLocks, describeHolder, releaseLocks, type HeldLock } from '../lib/locks.js'
import type { Impacted } from './facts.js'
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
