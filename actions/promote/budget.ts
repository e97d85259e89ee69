// What a promotion will ask of GitHub, known before it writes anything (it
// knows the environments): GitHub allows 500 content-creating requests an
// hour per token ("Rate limits for the REST API", secondary limits), so a
// stage whose deploys would need more is deployed in batches. This run takes
// the first batch; every environment it deploys then counts as "already
// deployed", so the same command again continues with the next.

import type { DeployBackend, StatusesMode } from '../lib/config/types.js'
import type { DeploymentScope } from './deployments.js'

/**
 * Content-creating requests (POST/PATCH/PUT) of one environment's deploy, its
 * GitHub deployment apart. With `statuses: per-stage` there are none: the
 * stage's check run is written once per wave for all of them.
 */
export const CREATING_PER_ENVIRONMENT: Record<DeployBackend, number> = {
  // the environment's status
  argocd: 1,
  // the status: the stage's children land in one git push (landing.ts), not a merge call each
  merge: 1,
  // "waiting for <system>"
  external: 1,
}

/** A GitHub deployment: created, started and finished (external: created and queued). */
export const CREATING_PER_DEPLOYMENT: Record<DeployBackend, number> = {
  argocd: 3,
  merge: 3,
  external: 2,
}

/** GitHub's documented secondary limit on content-creating requests, per hour. */
export const CONTENT_CREATING_PER_HOUR = 500

/** Left for the run's own reply, reactions and gate, and for other runs on the same token. */
export const CONTENT_CREATING_RESERVE = 60

/** What the budget needs to know of an environment. */
interface Deployable {
  stage: { name: string; backend: DeployBackend; waves?: readonly string[] }
}

export interface Batch<T extends Deployable> {
  deploy: T[]
  later: T[]
  /** Content-creating requests the deploys of `deploy` need. */
  estimate: number
  /** Content-creating requests all selected environments would need. */
  total: number
}

/**
 * The environments (in the given order) whose deploys fit the budget; at
 * least one. `scopes` says where each stage records its deployments: a
 * stage's one deployment is counted with its first environment. Environments
 * with the same `together` key (a shared child the merge backend lands whole)
 * go in one batch, even past the budget: splitting them would deploy the
 * later ones in this run anyway.
 */
export function batchOf<T extends Deployable>(
  selected: readonly T[],
  scopes: ReadonlyMap<string, DeploymentScope>,
  options: { budget?: number; together?: (env: T) => unknown; statuses?: StatusesMode } = {},
): Batch<T> {
  const budget = options.budget ?? CONTENT_CREATING_PER_HOUR - CONTENT_CREATING_RESERVE
  const together = options.together ?? ((env: T) => env)
  const perStage = options.statuses === 'per-stage'
  const counted = new Set<string>()
  const cost = (env: T) => {
    const scope = scopes.get(env.stage.name) ?? 'environment'
    const deployment = CREATING_PER_DEPLOYMENT[env.stage.backend]
    const stageFirst = !counted.has(env.stage.name)
    counted.add(env.stage.name)
    // A stage's check run: one write per wave (its waves, and the last of the unmatched).
    const statuses = perStage
      ? stageFirst
        ? (env.stage.waves?.length ?? 0) + 1
        : 0
      : CREATING_PER_ENVIRONMENT[env.stage.backend]
    return (
      statuses + (scope === 'environment' || (scope === 'stage' && stageFirst) ? deployment : 0)
    )
  }
  const groups = new Map<unknown, T[]>()
  for (const env of selected) {
    const key = together(env)
    groups.set(key, [...(groups.get(key) ?? []), env])
  }
  const deploy: T[] = []
  const later: T[] = []
  let estimate = 0
  let total = 0
  for (const group of groups.values()) {
    const one = group.reduce((sum, env) => sum + cost(env), 0)
    total += one
    if (later.length > 0 || (deploy.length > 0 && estimate + one > budget)) later.push(...group)
    else {
      estimate += one
      deploy.push(...group)
    }
  }
  return { deploy, later, estimate, total }
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
