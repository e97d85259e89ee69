import { describe, expect, it } from 'vitest'
import type { WaveMode } from '../actions/lib/config/types.js'
import { renderReply, type ReplyRow } from '../actions/promote/reply.js'
import {
  planWaves,
  progressOf,
  rowsByWave,
  rowsInWaves,
  waveLines,
  waveSection,
  waveSummary,
  type Progress,
} from '../actions/promote/waves.js'

const CANARY_THEN_EU = ['prod-canary', 'prod-eu-*']

/** `prod-canary:done prod-eu-1:todo …`: every environment selected unless listed in `unnamed`. */
function facts(
  spec: string,
  options: { waves?: string[]; mode?: WaveMode; unnamed?: string[] } = {},
) {
  const environments = spec.split(' ').map((item) => {
    const [name, progress] = item.split(':') as [string, Progress]
    return { name, progress }
  })
  const unnamed = new Set(options.unnamed ?? [])
  return {
    stage: {
      name: 'production',
      waves: options.waves ?? CANARY_THEN_EU,
      waveMode: options.mode ?? 'auto',
    },
    environments,
    selected: new Set(
      environments
        .filter((env) => env.progress !== 'done' && !unnamed.has(env.name))
        .map((e) => e.name),
    ),
  }
}

describe('planWaves', () => {
  it.each([
    {
      case: 'nothing deployed: the canary first, the rest waits',
      spec: 'prod-us-1:todo prod-eu-1:todo prod-canary:todo prod-eu-2:todo',
      states: ['next', 'waiting', 'waiting'],
      deployNow: ['prod-canary'],
      later: ['prod-eu-1', 'prod-eu-2', 'prod-us-1'],
    },
    {
      case: 'canary done: the EU wave next, environments in the given order',
      spec: 'prod-canary:done prod-eu-2:todo prod-eu-1:todo prod-us-1:todo',
      states: ['done', 'next', 'waiting'],
      deployNow: ['prod-eu-2', 'prod-eu-1'],
      later: ['prod-us-1'],
    },
    {
      case: 'a failed environment is retried with the rest of its wave; later waves wait',
      spec: 'prod-canary:done prod-eu-1:failed prod-eu-2:done prod-us-1:todo',
      states: ['done', 'failed', 'waiting'],
      deployNow: ['prod-eu-1'],
      later: ['prod-us-1'],
    },
    {
      case: 'a wave still deploying blocks the next',
      spec: 'prod-canary:running prod-eu-1:todo',
      states: ['running', 'waiting'],
      deployNow: [],
      later: ['prod-eu-1'],
      blocked: 'wave 1 (prod-canary) is still deploying',
    },
    {
      case: 'every wave done: nothing to deploy',
      spec: 'prod-canary:done prod-eu-1:done prod-us-1:done',
      states: ['done', 'done', 'done'],
      deployNow: [],
      later: [],
      current: undefined,
    },
    {
      case: 'a PR without canary changes starts with the first wave it has',
      spec: 'prod-us-1:todo prod-eu-1:todo',
      states: ['next', 'waiting'],
      deployNow: ['prod-eu-1'],
      later: ['prod-us-1'],
    },
    {
      case: 'no waves configured: the stage is one wave',
      spec: 'prod-b:todo prod-a:todo',
      waves: [],
      states: ['next'],
      deployNow: ['prod-b', 'prod-a'],
      later: [],
    },
    {
      case: 'an environment matching two globs belongs to the first',
      spec: 'prod-eu-canary:todo prod-eu-1:todo',
      waves: ['*-canary', 'prod-eu-*'],
      states: ['next', 'waiting'],
      deployNow: ['prod-eu-canary'],
      later: ['prod-eu-1'],
    },
  ])('$case', ({ spec, waves, states, deployNow, later, blocked, ...rest }) => {
    const plan = planWaves(facts(spec, waves ? { waves } : {}))
    expect(plan.waves.map((wave) => wave.state)).toEqual(states)
    expect(plan.deployNow).toEqual(deployNow)
    expect(plan.later).toEqual(later)
    expect(plan.blocked).toBe(blocked)
    if ('current' in rest) expect(plan.current).toBeUndefined()
    expect(plan.waves.map((wave) => wave.number)).toEqual(states.map((_, i) => i + 1))
  })

  it('names a wave by its glob, the last by "the rest"', () => {
    const plan = planWaves(facts('prod-canary:done prod-eu-1:failed prod-us-1:todo'))
    expect(plan.waves.map((wave) => wave.pattern)).toEqual(['prod-canary', 'prod-eu-*', undefined])
    expect(waveLines(plan)).toEqual([
      '✅ wave 1 (prod-canary) of 3: done, 1/1 succeeded',
      '❌ wave 2 (prod-eu-*) of 3: failed, 0/1 succeeded, 1 failed',
      '⏸️ wave 3 (the rest) of 3: waiting, 0/1 succeeded',
    ])
  })

  it('a named environment of a later wave waits for the earlier wave it did not name', () => {
    const plan = planWaves(facts('prod-canary:todo prod-us-1:todo', { unnamed: ['prod-canary'] }))
    expect(plan.deployNow).toEqual([])
    expect(plan.later).toEqual(['prod-us-1'])
    expect(plan.blocked).toBe(
      'wave 1 (prod-canary) has not succeeded (not deployed yet: prod-canary)',
    )
  })

  it('manual waves say the next wave waits for the next command', () => {
    const plan = planWaves(facts('prod-canary:done prod-eu-1:todo', { mode: 'manual' }))
    expect(plan.manual).toBe(true)
    expect(plan.deployNow).toEqual(['prod-eu-1'])
    expect(waveLines(plan)[1]).toBe(
      '▶️ wave 2 (prod-eu-*) of 2: next (next command), 0/1 succeeded',
    )
  })
})

describe('waveSummary', () => {
  it.each([
    {
      case: 'nothing deployed',
      spec: 'prod-canary:todo prod-eu-1:todo prod-us-1:todo',
      summary: '0 of 3 waves done, wave 1 (prod-canary) next',
    },
    {
      case: 'manual: the next wave waits for the next command',
      spec: 'prod-canary:done prod-us-1:todo',
      mode: 'manual' as const,
      summary: '1 of 2 waves done, wave 2 (the rest) next (next command)',
    },
    {
      case: 'auto: the next wave is next, no command named',
      spec: 'prod-canary:done prod-us-1:todo',
      summary: '1 of 2 waves done, wave 2 (the rest) next',
    },
    {
      case: 'a failed wave is where the stage stopped',
      spec: 'prod-canary:done prod-eu-1:failed prod-eu-2:done prod-us-1:todo',
      mode: 'manual' as const,
      summary: '1 of 3 waves done, wave 2 (prod-eu-*) failed: the next command retries it',
    },
    {
      case: 'a wave deploying',
      spec: 'prod-canary:running prod-us-1:todo',
      summary: '0 of 2 waves done, wave 1 (prod-canary) running',
    },
    {
      case: 'every wave done',
      spec: 'prod-canary:done prod-eu-1:done prod-us-1:done',
      summary: '3 of 3 waves done',
    },
    {
      case: 'one wave',
      spec: 'prod-a:done prod-b:done',
      waves: [],
      summary: '1 of 1 wave done',
    },
  ])('$case', ({ spec, mode, waves, summary }) => {
    const plan = planWaves(facts(spec, { ...(mode ? { mode } : {}), ...(waves ? { waves } : {}) }))
    expect(waveSummary(plan)).toBe(summary)
  })

  it("heads the stage's wave section", () => {
    const plan = planWaves(facts('prod-canary:done prod-us-1:todo', { mode: 'manual' }))
    expect(waveSection(plan)).toEqual([
      '**Waves of production**: 1 of 2 waves done, wave 2 (the rest) next (next command)',
      '',
      '- ✅ wave 1 (prod-canary) of 2: done, 1/1 succeeded',
      '- ▶️ wave 2 (the rest) of 2: next (next command), 0/1 succeeded',
      '',
    ])
  })
})

describe('rowsByWave', () => {
  const row = (environment: string): ReplyRow => ({
    environment,
    stage: 'production',
    result: 'pending',
    detail: '',
    links: [],
  })

  it('orders the rows by wave, names in order within one, each with its wave', () => {
    const plan = planWaves(facts('prod-eu-1:todo prod-us-1:todo prod-canary:done prod-eu-2:todo'))
    const rows = rowsByWave(['prod-canary', 'prod-eu-1', 'prod-eu-2', 'prod-us-1'].map(row), plan)
    expect(rows.map((r) => [r.environment, r.wave])).toEqual([
      ['prod-canary', '1 of 3'],
      ['prod-eu-1', '2 of 3'],
      ['prod-eu-2', '2 of 3'],
      ['prod-us-1', '3 of 3'],
    ])
  })

  it('numbers only the waves the pull request has environments in', () => {
    const plan = planWaves(facts('prod-us-2:todo prod-us-1:todo prod-eu-1:todo'))
    const rows = rowsByWave(['prod-us-1', 'prod-us-2', 'prod-eu-1'].map(row), plan)
    expect(rows.map((r) => [r.environment, r.wave])).toEqual([
      ['prod-eu-1', '1 of 2'],
      ['prod-us-1', '2 of 2'],
      ['prod-us-2', '2 of 2'],
    ])
  })

  it('keeps a row of no wave of the plan, after them and without a wave', () => {
    const plan = planWaves(facts('prod-canary:todo'))
    const rows = rowsByWave([row('prod-other'), row('prod-canary')], plan)
    expect(rows.map((r) => [r.environment, r.wave])).toEqual([
      ['prod-canary', '1 of 1'],
      ['prod-other', undefined],
    ])
  })

  it.each([
    ['one waved stage among others', ['t-1', 'prod-us-1', 't-2', 'prod-canary']],
    ['waved rows first', ['prod-us-1', 'prod-canary', 't-1', 't-2']],
  ])(
    'rowsInWaves: %s: the waved stage in wave order where its first row was, the others as they were',
    (_, names) => {
      const plan = planWaves(facts('prod-canary:done prod-us-1:todo'))
      const rows = names.map((name) => ({
        ...row(name),
        stage: name.startsWith('t-') ? 'testing' : 'production',
      }))
      const ordered = rowsInWaves(rows, [plan]).map((r) => [r.environment, r.wave])
      const production = [
        ['prod-canary', '1 of 2'],
        ['prod-us-1', '2 of 2'],
      ]
      const at = names.findIndex((name) => name.startsWith('prod-'))
      const others = names.filter((name) => name.startsWith('t-')).map((name) => [name, undefined])
      expect(ordered).toEqual([...others.slice(0, at), ...production, ...others.slice(at)])
      expect(rowsInWaves(rows, []).map((r) => r.environment)).toEqual(names)
    },
  )

  it('gives the reply a Wave column after Stage', () => {
    const plan = planWaves(facts('prod-canary:done prod-us-1:todo'))
    const rows = rowsByWave([row('prod-us-1'), row('prod-canary')], plan)
    const body = renderReply({
      decision: 'done',
      reason: 'status',
      command: '.status',
      actor: 'wendy',
      sha: 'a'.repeat(40),
      promoteCommand: '.promote',
      rows: [{ ...row('test-1'), stage: 'testing' }, ...rows],
    })
    expect(body).toContain(
      [
        '| Environment | Stage | Wave | Result | Details | Link |',
        '| --- | --- | --- | --- | --- | --- |',
        '| `test-1` | testing |  | ⏳ pending |  |  |',
        '| `prod-canary` | production | 1 of 2 | ⏳ pending |  |  |',
        '| `prod-us-1` | production | 2 of 2 | ⏳ pending |  |  |',
      ].join('\n'),
    )
  })
})

describe('progressOf', () => {
  it.each([
    [undefined, 'todo'],
    ['success', 'done'],
    ['failure', 'failed'],
    ['error', 'failed'],
    ['pending', 'todo'],
  ] as const)('%s → %s', (state, progress) => {
    expect(
      progressOf(state ? { context: 'fleet-promote/x', state, description: '' } : undefined),
    ).toBe(progress)
  })
})
