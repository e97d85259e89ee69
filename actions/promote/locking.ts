// Taking and giving back the environment locks of one run (lib/locks.ts
// holds the lock format and the single-lock operations).

import { errorMessage } from '../lib/errors.js'
import { acquireLock, describeHolder, releaseLock, type HeldLock } from '../lib/locks.js'
import type { Impacted } from './facts.js'
import type { RunState } from './run.js'

/** Takes every lock, in name order; on any conflict gives back what this run took. */
export async function acquireAll(
  state: RunState,
  envs: readonly Impacted[],
  reason: string,
): Promise<{ created: HeldLock[] } | { refusal: string }> {
  const { settings, pull, trigger } = state
  const created: HeldLock[] = []
  const sorted = [...envs].sort((a, b) => a.environment.localeCompare(b.environment))
  try {
    for (const env of sorted) {
      const result = await acquireLock(settings.client, settings.repo, env.environment, {
        pr: pull.number,
        actor: trigger.actor.login,
        reason,
        sha: pull.headSha,
      })
      if (result.status === 'acquired') created.push(result.held)
      if (result.status === 'conflict') {
        await releaseAcquired(state, created)
        return { refusal: `${env.environment} is ${describeHolder(result.held)}` }
      }
    }
  } catch (error) {
    await releaseAcquired(state, created)
    throw error
  }
  return { created }
}

/** Gives back locks this run took; a lock that cannot be released is logged, not fatal. */
export async function releaseAcquired(state: RunState, locks: readonly HeldLock[]): Promise<void> {
  for (const held of locks) {
    try {
      await releaseLock(
        state.settings.client,
        state.settings.repo,
        held.environment,
        state.pull.number,
        held.lock?.id,
      )
    } catch (error) {
      state.settings.log(
        `could not release the lock of ${held.environment}: ${errorMessage(error)}`,
      )
    }
  }
}
