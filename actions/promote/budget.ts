// What a promotion will ask of GitHub, known before it writes anything (it
// knows the environments): GitHub allows 500 content-creating requests an
// hour per token ("Rate limits for the REST API", secondary limits), so a
// stage whose deploys would need more is deployed in batches. This run takes
// the first batch; every environment it deploys then counts as "already
// deployed", so the same command again continues with the next.

import type { DeployBackend } from '../lib/config/types.js'

/** Content-creating requests (POST/PATCH/PUT) of one environment's deploy, by backend. */
export const CREATING_PER_ENVIRONMENT: Record<DeployBackend, number> = {
  // the deployment, its first and final statuses, the environment's status
  argocd: 4,
  // the same, and the merge
  merge: 5,
  // the deployment, its status, "waiting for <system>"
  external: 3,
}

/** GitHub's documented secondary limit on content-creating requests, per hour. */
export const CONTENT_CREATING_PER_HOUR = 500

/** Left for the run's own reply, reactions and gate, and for other runs on the same token. */
export const CONTENT_CREATING_RESERVE = 60

/** What the budget needs to know of an environment. */
interface Deployable {
  stage: { backend: DeployBackend }
}

export interface Batch<T extends Deployable> {
  deploy: T[]
  later: T[]
  /** Content-creating requests the deploys of `deploy` need. */
  estimate: number
  /** Content-creating requests all selected environments would need. */
  total: number
}

/** The environments (in the given order) whose deploys fit `budget`; at least one. */
export function batchOf<T extends Deployable>(
  selected: readonly T[],
  budget = CONTENT_CREATING_PER_HOUR - CONTENT_CREATING_RESERVE,
): Batch<T> {
  const cost = (env: T) => CREATING_PER_ENVIRONMENT[env.stage.backend]
  const total = selected.reduce((sum, env) => sum + cost(env), 0)
  let estimate = 0
  let count = 0
  for (const env of selected) {
    if (count > 0 && estimate + cost(env) > budget) break
    estimate += cost(env)
    count++
  }
  return { deploy: selected.slice(0, count), later: selected.slice(count), estimate, total }
}

/** The reply's sentence for environments left to the next run; empty when none are. */
export function laterReason(batch: Batch<Deployable>, command: string): string {
  if (batch.later.length === 0) return ''
  return (
    `${batch.later.length} more environments left for the next run: deploying all ${batch.deploy.length + batch.later.length} ` +
    `needs about ${batch.total} content-creating GitHub requests, over GitHub's ${CONTENT_CREATING_PER_HOUR} an hour; ` +
    `comment ${command} again to deploy the next batch (deployed ones are skipped)`
  )
}
