// Verification before success: an environment Argo CD reports Synced and
// Healthy counts as succeeded only once it stayed so for the stage's
// `bakeSeconds` (a Degraded seen meanwhile fails it).

import { setTimeout as sleep } from 'node:timers/promises'
import { assessApplication, type ArgoCdClient } from '../lib/argocd/client.js'

export interface Verdict {
  ok: boolean
  /** One clause for the status description and the reply. */
  detail: string
}

export interface BakeRequest {
  application: string
  /** The commit the Application must stay synced to. */
  revision: string
  seconds: number
  pollMs: number
  now?: () => number
  sleep?: (ms: number) => Promise<void>
}

/** Watches the Application for `seconds`: every look must find it Synced and Healthy at `revision`. */
export async function bake(client: ArgoCdClient, request: BakeRequest): Promise<Verdict> {
  const now = request.now ?? Date.now
  const pause = request.sleep ?? sleep
  const bakeMs = request.seconds * 1000
  const started = now()
  for (;;) {
    const elapsed = now() - started
    if (elapsed >= bakeMs) return { ok: true, detail: `Healthy for ${request.seconds} s` }
    await pause(Math.min(request.pollMs, bakeMs - elapsed))
    const seen = assessApplication(
      await client.getApplication(request.application),
      request.revision,
    )
    if (seen.state !== 'ok') {
      const into = ((now() - started) / 1000).toFixed(1)
      return {
        ok: false,
        detail: `failed its ${request.seconds} s bake after ${into} s: ${seen.message}`,
      }
    }
  }
}
