// One stage deployed wave by wave: ask the planner (waves.ts) which
// environments deploy now, deploy them at most `maxParallel` at once, record
// the results and ask again. A failed wave stops the stage; within a wave,
// `failFast` stops starting environments at the first failure (else at
// `maxFailures`); `waveMode: manual` stops after one wave, and the next
// command continues from where the statuses say the stage stands.

import type { StageConfig } from '../lib/config/types.js'
import type { EnvironmentOutcome } from './backends.js'
import { statusOf, type Impacted, type PromoteFacts } from './facts.js'
import { planWaves, progressOf, waveLabel, type Progress, type WavePlan } from './waves.js'

export interface StageRun {
  outcomes: EnvironmentOutcome[]
  /** Where the waves stand after this run. */
  waves: WavePlan
}

export async function deployStageInWaves(
  stage: StageConfig,
  selected: readonly Impacted[],
  facts: PromoteFacts,
  options: {
    defaultParallel: number
    deploy: (env: Impacted) => Promise<EnvironmentOutcome>
    /** Before a wave's environments deploy, with all of them (the merge backend's landing push). */
    beforeWave?: (envs: readonly Impacted[]) => Promise<void>
    /** After a wave's environments finished (the stage boards of `statuses: per-stage` are written). */
    afterWave?: () => Promise<unknown>
    log: (line: string) => void
    /** Where the stage stands, as each environment starts and finishes (the live reply). */
    onProgress?: (plan: WavePlan) => void
  },
): Promise<StageRun> {
  const byName = new Map(selected.map((env) => [env.environment, env]))
  const progress = stageProgress(stage, byName, facts)
  const waveFacts = () => wavesOf(stage, byName, progress)
  const outcomes: EnvironmentOutcome[] = []
  const parallel = stage.maxParallel ?? options.defaultParallel
  const limit = failureLimit(stage)
  let failures = 0
  const deploy = async (env: Impacted) => {
    progress.set(env.environment, 'running')
    options.onProgress?.(planWaves(waveFacts()))
    const outcome = await options.deploy(env)
    if (outcome.result === 'failure') failures++
    progress.set(env.environment, outcome.result === 'success' ? 'done' : 'failed')
    options.onProgress?.(planWaves(waveFacts()))
    return outcome
  }
  let plan = planWaves(waveFacts())
  while (plan.current && plan.deployNow.length > 0) {
    const wave = plan.current
    const envs = plan.deployNow.map((name) => byName.get(name)!)
    await options.beforeWave?.(envs)
    const results = await pool(envs, parallel, deploy, () => failures >= limit.count)
    await options.afterWave?.()
    const stopped = envs.filter((_, i) => results[i] === undefined)
    for (const env of stopped) outcomes.push(stoppedBy(env, failures, limit.why))
    for (const outcome of results.filter((r) => r !== undefined)) outcomes.push(outcome)
    if (stage.waves.length > 0)
      options.log(
        `${stage.name} ${waveLabel(wave)}: ${results.map((r) => (r ? `${r.environment}=${r.result}` : '')).join(', ')}`,
      )
    const failed = stopped.length > 0 || results.some((r) => r?.result !== 'success')
    plan = planWaves(waveFacts())
    if (failed || stage.waveMode === 'manual') break
  }
  const reached = new Set(outcomes.map((o) => o.environment))
  for (const env of selected) {
    if (reached.has(env.environment)) continue
    outcomes.push(notReached(env, plan, facts.config.promote.command))
  }
  return { outcomes, waves: plan }
}

/** The environments the stage's first wave deploys now, as `deployStageInWaves` will plan it. */
export function firstWave(
  stage: StageConfig,
  selected: readonly Impacted[],
  facts: PromoteFacts,
): string[] {
  const byName = new Map(selected.map((env) => [env.environment, env]))
  return planWaves(wavesOf(stage, byName, stageProgress(stage, byName, facts))).deployNow
}

function wavesOf(
  stage: StageConfig,
  selected: ReadonlyMap<string, Impacted>,
  progress: ReadonlyMap<string, Progress>,
) {
  return {
    stage,
    environments: [...progress].map(([name, p]) => ({ name, progress: p })),
    selected: new Set(selected.keys()),
  }
}

/**
 * Every environment of the stage this PR impacts: what this command deploys
 * starts over (a failure is retried, `--force` redeploys); the others stand
 * where their status on the head says.
 */
function stageProgress(
  stage: StageConfig,
  selected: ReadonlyMap<string, Impacted>,
  facts: PromoteFacts,
): Map<string, Progress> {
  const progress = new Map<string, Progress>()
  for (const env of [...facts.impacted, ...facts.finished]) {
    if (env.stage.name !== stage.name) continue
    const status = statusOf(facts.statuses, env.environment)
    progress.set(
      env.environment,
      selected.has(env.environment)
        ? status?.state === 'failure' || status?.state === 'error'
          ? 'failed'
          : 'todo'
        : progressOf(status),
    )
  }
  return progress
}

/** A selected environment this run did not deploy: its wave comes later, or an earlier one failed. */
function notReached(env: Impacted, plan: WavePlan, command: string): EnvironmentOutcome {
  const current = plan.current
  const stopped = current?.state === 'failed' || current?.state === 'running' || plan.blocked
  const detail = !current
    ? 'not deployed'
    : stopped
      ? `not deployed: ${plan.blocked ?? `${waveLabel(current)} did not succeed`}`
      : `waits for ${waveLabel(current)}: the next \`${command} ${env.stage.name}\` deploys it`
  return {
    environment: env.environment,
    stage: env.stage.name,
    backend: env.stage.backend,
    result: stopped || !current ? 'skipped' : 'queued',
    detail,
    child: { number: env.child.number, url: env.child.url },
    durationMs: 0,
  }
}

/** How many failed environments stop the stage, and the words for it. */
function failureLimit(stage: StageConfig): { count: number; why: string } {
  if (stage.failFast) return { count: 1, why: 'failFast' }
  if (stage.maxFailures !== undefined)
    return { count: stage.maxFailures, why: `maxFailures: ${stage.maxFailures}` }
  return { count: Infinity, why: '' }
}

/** An environment of the wave that did not start: the stage stopped at its failure limit. */
function stoppedBy(env: Impacted, failures: number, why: string): EnvironmentOutcome {
  return {
    environment: env.environment,
    stage: env.stage.name,
    backend: env.stage.backend,
    result: 'skipped',
    detail: `not deployed: the stage stopped after ${failures} failed environment${failures === 1 ? '' : 's'} (${why})`,
    child: { number: env.child.number, url: env.child.url },
    durationMs: 0,
  }
}

/** At most `size` at once; once `stop()` says so, nothing more starts (those results stay undefined). */
async function pool<T, R>(
  items: readonly T[],
  size: number,
  work: (item: T) => Promise<R>,
  stop: () => boolean,
): Promise<(R | undefined)[]> {
  const results = new Array<R | undefined>(items.length).fill(undefined)
  let next = 0
  const workers = Array.from({ length: Math.min(size, items.length) }, async () => {
    while (next < items.length && !stop()) {
      const index = next++
      results[index] = await work(items[index] as T)
    }
  })
  await Promise.all(workers)
  return results
}
