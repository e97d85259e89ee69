// `statuses: per-stage` end to end: the same small fleet through the real
// cores (open-child-prs → .promote testing → .promote production →
// merge-cleanup) on the simulators, once per mode. The per-stage run keeps
// every environment's state in one check run per stage and writes no
// `fleet-promote/<environment>` status, its gate says what the
// per-environment run's says at every step, and a second identical run
// writes nothing.
import { afterEach, describe, expect, it } from 'vitest'
import { PIPELINE_CONTEXT } from '../actions/lib/aggregate.js'
import { boardsOf } from '../actions/lib/status-board.js'
import type { CheckRunLike } from '../actions/lib/status-board.js'
import { startScaleFlow, type Backend, type ScaleFlow } from './support/scale-flow.js'

const FULL_NAME = 'acme/fleet'
const BOARD_WRITES = new Set([
  'POST /repos/{owner}/{repo}/check-runs',
  'PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}',
])

const LAYOUTS = {
  'a branch each': ['  - glob: clusters/*', '    name: "{1}"', '    branch: "env/{name}"'],
  'a shared branch per stage': [
    '  - glob: clusters/*',
    '    name: "{1}"',
    '    branch: "env/{stage}"',
    '    path: "{name}"',
  ],
} as const

/** SHAs differ between two fleets built at different times; the words around them do not. */
const sameWords = (text: string) => text.replace(/\b[0-9a-f]{7,40}\b/g, '<sha>')

let flows: ScaleFlow[] = []
afterEach(async () => {
  await Promise.all(flows.map((flow) => flow.stop()))
  flows = []
})

interface Observed {
  gates: { step: string; state: string; description: string }[]
  /** environment → state and description, as the mode keeps them, after production. */
  environments: Map<string, { state: string; description: string }>
  flow: ScaleFlow
  head: string
  /** Check-run writes and `fleet-promote/<environment>` statuses of each step. */
  writes: Record<string, { boards: number; statuses: number }>
}

async function observe(
  statuses: 'per-environment' | 'per-stage',
  backend: Backend,
  layout: keyof typeof LAYOUTS,
): Promise<Observed> {
  const flow = await startScaleFlow({
    n: 6,
    stages: 2,
    backend,
    environmentRule: LAYOUTS[layout],
    extra: [`statuses: ${statuses}`],
  })
  flows.push(flow)
  const { gh, parent } = flow
  const head = gh.state.pull(FULL_NAME, parent).headSha
  const gates: Observed['gates'] = []
  const writes: Observed['writes'] = {}
  const envStatuses = () =>
    gh.state.statuses(FULL_NAME, head).filter((s) => s.context !== PIPELINE_CONTEXT).length
  const step = async (name: string, run: () => Promise<unknown>) => {
    gh.resetRequests()
    const before = envStatuses()
    await run()
    writes[name] = {
      boards: gh.requests.filter((r) => BOARD_WRITES.has(r.route) && r.status < 300).length,
      statuses: envStatuses() - before,
    }
    const gate = gh.state
      .latestStatuses(FULL_NAME, head)
      .find((s) => s.context === PIPELINE_CONTEXT)
    gates.push({
      step: name,
      state: gate?.state ?? 'unset',
      description: sameWords(gate?.description ?? ''),
    })
  }
  await step('open-child-prs', () => flow.openChildPrs())
  await step('promote testing', () => flow.promote('testing'))
  flow.approve()
  await step('promote production', () => flow.promote('production'))
  const environments = statuses === 'per-stage' ? fromBoards(flow, head) : fromStatuses(flow, head)
  // The same head again ("Re-run all jobs"). The merge backend moved the WET branches,
  // so only a new render could open children again there.
  if (backend === 'argocd') await step('open-child-prs again', () => flow.openChildPrs())
  await step('promote production again', () => flow.promote('production'))
  return { gates, environments, flow, head, writes }
}

function fromStatuses(flow: ScaleFlow, head: string) {
  return new Map(
    flow.gh.state
      .latestStatuses(FULL_NAME, head)
      .filter((s) => s.context !== PIPELINE_CONTEXT)
      .map((s) => [
        s.context.slice('fleet-promote/'.length),
        { state: s.state, description: sameWords(s.description ?? '') },
      ]),
  )
}

function fromBoards(flow: ScaleFlow, head: string) {
  const runs: CheckRunLike[] = flow.gh.state
    .checkRuns(FULL_NAME, head)
    .map((run) => ({ id: run.id, name: run.name, status: run.status, output: { text: run.text } }))
  const found = new Map<string, { state: string; description: string }>()
  for (const board of boardsOf(runs).values())
    for (const [environment, entry] of board.entries ?? [])
      found.set(environment, { state: entry.state, description: sameWords(entry.description) })
  return found
}

describe.each([
  ['argocd', 'a branch each'],
  ['merge', 'a shared branch per stage'],
] as const)('statuses: per-stage, %s backend, %s', (backend, layout) => {
  it('keeps each stage in one check run, gates as per-environment does, and writes nothing when run again', async () => {
    const perEnvironment = await observe('per-environment', backend, layout)
    const perStage = await observe('per-stage', backend, layout)
    const { gh } = perStage.flow

    // The gate decides the same at every step, and ends green.
    expect(perStage.gates).toEqual(perEnvironment.gates)
    expect(perStage.gates.at(-1)).toMatchObject({
      state: 'success',
      description: 'all 6 environments succeeded',
    })

    // No per-environment status: the gate is the only commit status on the head.
    expect(new Set(gh.state.statuses(FULL_NAME, perStage.head).map((s) => s.context))).toEqual(
      new Set([PIPELINE_CONTEXT]),
    )

    // One check run per stage, each listing its environments with the states and words
    // per-environment mode gives them.
    const runs = gh.state.checkRuns(FULL_NAME, perStage.head)
    expect(new Set(runs.map((run) => run.name))).toEqual(
      new Set(['fleet-promote/stage/testing', 'fleet-promote/stage/production']),
    )
    expect(perStage.environments).toEqual(perEnvironment.environments)
    expect([...perStage.environments.values()].every((env) => env.state === 'success')).toBe(true)
    for (const run of runs) {
      expect(run).toMatchObject({ status: 'completed', conclusion: 'success' })
      const stage = run.name.split('/').pop() ?? ''
      const envs = perStage.flow.environments.filter((env) => env.stage === stage)
      expect(run.title).toBe(`${envs.length}/${envs.length} succeeded`)
      for (const env of envs) expect(run.summary).toContain(`${env.name}`)
    }

    // One write per stage and step that changed it, none when nothing did; per-environment
    // mode writes one per environment.
    const boards = Object.fromEntries(
      Object.entries(perStage.writes).map(([k, w]) => [k, w.boards]),
    )
    expect(boards).toEqual({
      'open-child-prs': 2,
      'promote testing': 1,
      'promote production': 1,
      ...(backend === 'argocd' ? { 'open-child-prs again': 0 } : {}),
      'promote production again': 0,
    })
    expect(Object.values(perStage.writes).every((w) => w.statuses === 0)).toBe(true)
    expect(perEnvironment.writes['open-child-prs']).toEqual({ boards: 0, statuses: 6 })
    expect(perEnvironment.writes['promote production again']).toEqual({ boards: 0, statuses: 0 })

    // merge-cleanup reads the boards as it read the statuses: it lands every child.
    for (const observed of [perEnvironment, perStage]) {
      await observed.flow.mergeParent()
      const cleanup = await observed.flow.mergeCleanup()
      expect(cleanup.left, backend).toEqual([])
      expect(cleanup.merged.length).toBeGreaterThan(0)
    }
  }, 180_000)
})
