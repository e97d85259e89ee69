// Waves within a stage, decided purely: from where each environment of the
// stage stands to which wave is next and which environments deploy now. The
// deploy loop (deploy.ts) asks again after every wave; `.status` and the reply
// show the same plan.

import { waveIndex } from '../lib/config/config.js'
import type { StageConfig } from '../lib/config/types.js'
import type { CommitStatus } from '../lib/statuses.js'

/** Where one environment stands on the pinned head. */
export type Progress = 'done' | 'failed' | 'running' | 'todo'

export interface WaveFacts {
  stage: Pick<StageConfig, 'name' | 'waves' | 'waveMode'>
  /** Every environment of the stage this PR impacts, in display order. */
  environments: readonly { name: string; progress: Progress }[]
  /** The environments this command may deploy (named, not already succeeded unless forced). */
  selected: ReadonlySet<string>
}

/** `next`: the wave to deploy now; `waiting`: after it. */
export type WaveState = 'done' | 'running' | 'failed' | 'next' | 'waiting'

export interface Wave {
  /** 1-based, counting only waves this PR has environments in. */
  number: number
  /** The wave's glob; undefined for the last wave of environments matching none. */
  pattern?: string
  state: WaveState
  environments: { name: string; progress: Progress }[]
}

export interface WavePlan {
  stage: string
  manual: boolean
  waves: Wave[]
  /** The first wave not done (absent: every wave is done). */
  current?: Wave
  /** The current wave's environments to deploy now: selected, neither done nor running. */
  deployNow: string[]
  /** Selected environments of later waves: they wait for the current one. */
  later: string[]
  /** Why nothing of the current wave deploys now (running, or not named), when so. */
  blocked?: string
}

export function planWaves(facts: WaveFacts): WavePlan {
  const { stage, selected } = facts
  const groups = new Map<number, { name: string; progress: Progress }[]>()
  for (const env of facts.environments) {
    const index = waveIndex(stage, env.name)
    const group = groups.get(index) ?? []
    group.push({ ...env })
    groups.set(index, group)
  }
  let current: Wave | undefined
  const waves = [...groups.entries()]
    .sort(([a], [b]) => a - b)
    .map(([index, environments], i): Wave => {
      const pattern = stage.waves[index]
      const wave: Wave = {
        number: i + 1,
        ...(pattern !== undefined ? { pattern } : {}),
        state: 'waiting',
        environments,
      }
      const has = (progress: Progress) => environments.some((env) => env.progress === progress)
      if (environments.every((env) => env.progress === 'done')) wave.state = 'done'
      else if (has('running')) wave.state = 'running'
      else if (has('failed')) wave.state = 'failed'
      else if (!current) wave.state = 'next'
      current ??= wave.state === 'done' ? undefined : wave
      return wave
    })
  const plan: WavePlan = {
    stage: stage.name,
    manual: stage.waveMode === 'manual',
    waves,
    deployNow: [],
    later: waves
      .filter((wave) => current && wave.number > current.number)
      .flatMap((wave) => wave.environments.map((env) => env.name))
      .filter((name) => selected.has(name)),
  }
  if (!current) return plan
  plan.current = current
  if (current.state === 'running') {
    plan.blocked = `${waveLabel(current)} is still deploying`
    return plan
  }
  plan.deployNow = current.environments
    .filter((env) => env.progress !== 'done' && selected.has(env.name))
    .map((env) => env.name)
  const unnamed = current.environments.filter(
    (env) => env.progress !== 'done' && !selected.has(env.name),
  )
  if (plan.deployNow.length === 0 && unnamed.length > 0) {
    plan.blocked = `${waveLabel(current)} has not succeeded (not deployed yet: ${unnamed.map((env) => env.name).join(', ')})`
  }
  return plan
}

/** `wave 1 (prod-canary)`, `wave 3 (the rest)` */
export function waveLabel(wave: Pick<Wave, 'number' | 'pattern'>): string {
  return `wave ${wave.number} (${wave.pattern ?? 'the rest'})`
}

/** Where an environment stands, from its `fleet-promote/<environment>` status on the head (`running` is only known within a run). */
export function progressOf(status: CommitStatus | undefined): Progress {
  switch (status?.state) {
    case 'success':
      return 'done'
    case 'failure':
    case 'error':
      return 'failed'
    default:
      // Pending is also what open-child-prs sets before any promotion: not started.
      return 'todo'
  }
}

const WAVE_ICON: Record<WaveState, string> = {
  done: '✅',
  running: '⏳',
  failed: '❌',
  next: '▶️',
  waiting: '⏸️',
}

/** One line per wave: `✅ wave 1 (prod-canary): done, 1/1 succeeded`. */
export function waveLines(plan: WavePlan): string[] {
  const total = plan.waves.length
  return plan.waves.map((wave) => {
    const done = wave.environments.filter((env) => env.progress === 'done').length
    const failed = wave.environments.filter((env) => env.progress === 'failed').length
    const counts = `${done}/${wave.environments.length} succeeded${failed > 0 ? `, ${failed} failed` : ''}`
    const next = wave.state === 'next' && plan.manual ? ' (next command)' : ''
    return `${WAVE_ICON[wave.state]} ${waveLabel(wave)} of ${total}: ${wave.state}${next}, ${counts}`
  })
}

/** Where the stage stands as a whole: `1 of 2 waves done, wave 2 (the rest) next (next command)`. */
export function waveSummary(plan: WavePlan): string {
  const total = plan.waves.length
  const done = plan.waves.filter((wave) => wave.state === 'done').length
  const counted = `${done} of ${total} wave${total === 1 ? '' : 's'} done`
  const current = plan.current
  if (!current) return counted
  const next = plan.manual ? ' (next command)' : ''
  const where =
    current.state === 'failed'
      ? 'failed: the next command retries it'
      : current.state === 'next'
        ? `next${next}`
        : current.state
  return `${counted}, ${waveLabel(current)} ${where}`
}

/** The reply's markdown for one stage: `**Waves of production**: <summary>` and a line per wave. */
export function waveSection(plan: WavePlan): string[] {
  return [
    `**Waves of ${plan.stage}**: ${waveSummary(plan)}`,
    '',
    ...waveLines(plan).map((line) => `- ${line}`),
    '',
  ]
}

/** The stage's rows in wave order, each with its wave (`1 of 2`); rows of no wave of the plan keep their order after them. */
export function rowsByWave<T extends { environment: string }>(
  rows: readonly T[],
  plan: WavePlan,
): (T & { wave?: string })[] {
  const waveOf = new Map<string, number>()
  for (const wave of plan.waves)
    for (const env of wave.environments) waveOf.set(env.name, wave.number)
  const total = plan.waves.length
  return rows
    .map((row, i) => ({ row, i, wave: waveOf.get(row.environment) }))
    .sort((a, b) => (a.wave ?? total + 1) - (b.wave ?? total + 1) || a.i - b.i)
    .map(({ row, wave }) => (wave === undefined ? row : { ...row, wave: `${wave} of ${total}` }))
}

/** The reply's rows with every stage of a plan in wave order (rowsByWave), where that stage's first row was. */
export function rowsInWaves<T extends { environment: string; stage: string }>(
  rows: readonly T[],
  plans: readonly WavePlan[],
): (T & { wave?: string })[] {
  const planOf = new Map(plans.map((plan) => [plan.stage, plan]))
  const placed = new Set<string>()
  const out: (T & { wave?: string })[] = []
  for (const row of rows) {
    const plan = planOf.get(row.stage)
    if (!plan) out.push(row)
    else if (!placed.has(plan.stage)) {
      placed.add(plan.stage)
      out.push(
        ...rowsByWave(
          rows.filter((other) => other.stage === plan.stage),
          plan,
        ),
      )
    }
  }
  return out
}
