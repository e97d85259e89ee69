// open-child-prs' pure plan as tables: remote refs + hydration + open
// children → what closes, what is taken back from its cluster, the one
// atomic push, the statuses posted and the outputs. No git, no simulator.
import { describe, expect, it } from 'vitest'
import type { WetCommit } from '../actions/lib/git/wet-commit.js'
import type { ChildPr } from '../actions/lib/github/pulls.js'
import type { EnvironmentHydration, HydrationStatus } from '../actions/lib/hydration-types.js'
import type { CommitStatus } from '../actions/lib/statuses.js'
import {
  checkWetTips,
  childMarker,
  childOutputs,
  childPrChanges,
  groupChildren,
  keepFailedChildren,
  openChildrenAfter,
  planClosures,
  planRefUpdates,
  planReports,
  planStatuses,
  planSuperseded,
  staleReason,
  type PlannedChild,
} from '../actions/open-child-prs/plan.js'

const PARENT = 7
const sha = (c: string): string => c.repeat(40)
const STAGES = [
  { name: 'test', autoPromote: true },
  { name: 'prod', autoPromote: false },
]

function env(name: string, status: HydrationStatus, extra: Partial<EnvironmentHydration> = {}) {
  const hydration: EnvironmentHydration = {
    name,
    path: `envs/${name}`,
    stage: name.startsWith('prod') ? 'prod' : 'test',
    branch: `env/${name}`,
    status,
    resources: { before: 1, after: 2 },
    diff: { added: 1, changed: 0, deleted: 0 },
    changes: [],
    outputDir: name,
    files: [],
    baseSha: sha('b'),
    durationMs: 1,
    ...extra,
  }
  return hydration
}

function child(environment: string, number: number, extra: Partial<ChildPr> = {}): ChildPr {
  return {
    environment,
    parent: PARENT,
    number,
    url: `https://github.test/pull/${number}`,
    state: 'open',
    merged: false,
    title: 't',
    body: 'b',
    branch: `fleet-promote/pr-${PARENT}/${environment}`,
    headSha: sha('c'),
    base: `env/${environment}`,
    labels: [],
    ...extra,
  }
}

function planned(hydration: EnvironmentHydration, commit: Partial<WetCommit> = {}): PlannedChild {
  const wet: WetCommit = {
    environment: hydration.name,
    branch: hydration.branch,
    baseSha: hydration.baseSha,
    sha: sha('d'),
    changed: true,
    ...commit,
  }
  return {
    env: hydration,
    envs: [hydration],
    commit: wet,
    branch: `fleet-promote/pr-${PARENT}/${hydration.name}`,
    marker: childMarker(hydration, wet, { parent: PARENT, drySha: sha('e'), headSha: sha('f') }),
  }
}

const refs = (entries: Record<string, string>) =>
  new Map(Object.entries(entries).map(([ref, value]) => [`refs/heads/${ref}`, value]))

describe('staleReason', () => {
  it.each([
    [{ state: 'open', merged: false, headSha: sha('a') }, undefined],
    [{ state: 'closed', merged: true, headSha: sha('a') }, 'parent #7 is merged'],
    [{ state: 'closed', merged: false, headSha: sha('a') }, 'parent #7 is closed'],
    [
      { state: 'open', merged: false, headSha: sha('9') },
      'parent #7 moved to 9999999 since aaaaaaa was rendered',
    ],
  ] as const)('%j → %s', (pull, reason) => {
    expect(staleReason(PARENT, pull, sha('a'))).toBe(reason)
  })
})

describe('checkWetTips', () => {
  it('passes tips as hydrate saw them, and a branch created since for a new environment', () => {
    const envs = [env('test-a', 'rendered'), env('test-b', 'rendered', { baseSha: '' })]
    expect(() =>
      checkWetTips(envs, refs({ 'env/test-a': sha('b'), 'env/test-b': sha('1') })),
    ).not.toThrow()
  })
  it('refuses a moved or missing tip, naming the branch; failed renders are not checked', () => {
    const envs = [env('test-a', 'rendered'), env('test-f', 'failed')]
    expect(() => checkWetTips(envs, refs({ 'env/test-a': sha('1') }))).toThrow(
      /WET branch env\/test-a is at 1{40} but test-a was diffed against b{40}/,
    )
    expect(() => checkWetTips(envs, refs({}))).toThrow(/is at \(missing\)/)
    expect(() => checkWetTips([env('test-f', 'failed')], refs({}))).not.toThrow()
  })
})

describe('childMarker', () => {
  it('pins a new WET branch at its root commit and names the deletion guard of a blocked render', () => {
    const blocked = env('prod-a', 'blocked', {
      baseSha: '',
      reason: 'deletes 3 objects',
      diff: { added: 0, changed: 0, deleted: 3 },
    })
    const marker = planned(blocked, { rootSha: sha('r') }).marker
    expect(marker).toMatchObject({
      parent: PARENT,
      environment: 'prod-a',
      stage: 'prod',
      wetSha: sha('r'),
      guard: { reason: 'deletes 3 objects', deleted: 3 },
    })
    expect(planned(env('test-a', 'rendered')).marker).not.toHaveProperty('guard')
  })

  it('records the DRY base of the render, and the base tip only when the base had moved past it', () => {
    const rendered = env('test-a', 'rendered')
    const wet: WetCommit = {
      environment: 'test-a',
      branch: 'env/test-a',
      baseSha: rendered.baseSha,
      sha: sha('d'),
      changed: true,
    }
    const run = { parent: PARENT, drySha: sha('e'), headSha: sha('f'), dryBase: sha('1') }
    const current = childMarker(rendered, wet, { ...run, baseTip: sha('1') })
    expect(current.dryBase).toBe(sha('1'))
    expect(current).not.toHaveProperty('baseMovedTo')
    expect(childMarker(rendered, wet, { ...run, baseTip: sha('2') }).baseMovedTo).toBe(sha('2'))
    // A DRY commit that is no test merge (a merge queue, a push) has no base to record.
    const plain = childMarker(rendered, wet, {
      parent: PARENT,
      drySha: sha('e'),
      headSha: sha('f'),
      baseTip: sha('2'),
    })
    expect(plain).not.toHaveProperty('dryBase')
    expect(plain).not.toHaveProperty('baseMovedTo')
  })
})

describe('planClosures', () => {
  const open = groupChildren([
    child('test-a', 1),
    child('test-a', 2),
    child('test-b', 3),
    child('test-f', 4),
    child('prod-x', 5),
    child('gone', 6),
  ])
  it.each([
    ['a second child of one environment closes (no environment)', '', 2],
    ['a render that changed nothing closes its child', 'test-b', 3],
    ['an environment no longer impacted closes its child', 'gone', 6],
  ])('%s', (_, environment, number) => {
    const envs = [
      env('test-a', 'rendered'),
      env('test-b', 'unchanged'),
      env('test-f', 'failed'),
      env('prod-x', 'blocked'),
    ]
    const closing = planClosures(envs, [planned(envs[0] as EnvironmentHydration)], open)
    expect(closing.map((c) => [c.environment, c.child.number])).toContainEqual([
      environment,
      number,
    ])
    // Failed and blocked renders keep their children; a planned one is updated.
    expect(closing.map((c) => c.child.number).sort()).toEqual([2, 3, 6])
  })
})

describe('planSuperseded', () => {
  it.each([
    ['a manual stage whose child gets a new commit', 'prod-a', sha('1'), ['prod-a']],
    ['an autoPromote stage (deployed again right after)', 'test-a', sha('1'), []],
    ['the same commit again', 'prod-a', sha('d'), []],
    ['no child branch yet', 'prod-a', undefined, []],
  ])('%s', (_, name, now, expected) => {
    const plan = planned(env(name, 'rendered'))
    const remote = now ? refs({ [plan.branch]: now }) : refs({})
    const existing = groupChildren([child(name, 1)]).existing
    const superseded = planSuperseded([plan], existing, remote, STAGES)
    expect(superseded.map((s) => s.environment)).toEqual(expected)
  })
})

describe('planRefUpdates', () => {
  const testA = env('test-a', 'rendered')
  const base = { parent: PARENT, drySha: sha('e') }

  it('one push: the child branch and its tag leased on what was read, the WET tip pinned', () => {
    const plan = planned(testA)
    const plan2 = planRefUpdates({
      ...base,
      planned: [plan],
      closing: [],
      remoteRefs: refs({ 'env/test-a': sha('b') }),
      tagTemplate: '{environment}-pr{pr}-{sha}',
    })
    expect([...plan2.entries]).toEqual([
      [`refs/heads/${plan.branch}`, { sha: sha('d'), expect: '' }],
      ['refs/tags/test-a-pr7-eeeeeee', { sha: sha('d'), expect: '' }],
      ['refs/heads/env/test-a', { sha: sha('b'), expect: sha('b') }],
    ])
    expect(plan2.changed).toBe(2)
    expect(plan2.pushed).toEqual([`refs/heads/${plan.branch}`, 'refs/tags/test-a-pr7-eeeeeee'])
  })

  it('nothing to push when every child is already where it should be', () => {
    const plan = planned(testA)
    const result = planRefUpdates({
      ...base,
      planned: [plan],
      closing: [],
      remoteRefs: refs({ 'env/test-a': sha('b'), [plan.branch]: sha('d') }),
    })
    expect(result).toEqual({ entries: new Map(), changed: 0, pushed: [] })
  })

  it('a closing child loses its branch; a new WET branch is created at its root commit', () => {
    const fresh = planned(env('test-n', 'rendered', { baseSha: '' }), {
      baseSha: '',
      rootSha: sha('r'),
    })
    const closing = [{ environment: 'gone', child: child('gone', 6) }]
    const result = planRefUpdates({
      ...base,
      planned: [fresh],
      closing,
      remoteRefs: refs({ [child('gone', 6).branch]: sha('c') }),
    })
    expect([...result.entries]).toEqual([
      [`refs/heads/${fresh.branch}`, { sha: sha('d'), expect: '' }],
      [`refs/heads/${child('gone', 6).branch}`, { sha: '', expect: sha('c') }],
      ['refs/heads/env/test-n', { sha: sha('r'), expect: '' }],
    ])
    expect(result.pushed).toEqual([
      `refs/heads/${fresh.branch}`,
      `refs/heads/${child('gone', 6).branch}`,
      'refs/heads/env/test-n',
    ])
  })

  it('refuses a tag template that does not name the environment', () => {
    expect(() =>
      planRefUpdates({
        ...base,
        planned: [planned(testA)],
        closing: [],
        remoteRefs: refs({}),
        tagTemplate: 'pr-{pr}',
      }),
    ).toThrow(/must contain \{component\} or \{environment\}/)
  })
})

describe('reports, child PRs and statuses', () => {
  const envs = [env('test-a', 'rendered'), env('prod-a', 'rendered'), env('test-f', 'failed')]
  const fallbackUrl = 'https://github.test/run/1'

  it('a render whose commit changed nothing reports unchanged; a failed one keeps its child', () => {
    const reports = planReports(envs, new Set(['prod-a']))
    expect([...reports.values()].map((r) => [r.environment, r.status])).toEqual([
      ['test-a', 'rendered'],
      ['prod-a', 'unchanged'],
      ['test-f', 'failed'],
    ])
    keepFailedChildren(envs, groupChildren([child('test-f', 9)]).existing, reports)
    expect(reports.get('test-f')?.child).toEqual({
      number: 9,
      url: 'https://github.test/pull/9',
      state: 'unchanged',
    })
  })

  it.each([
    ['nothing', { title: 't', body: 'b', base: 'env/x', labels: ['l'] }, false, []],
    ['the title', { title: 'T', body: 'b', base: 'env/x', labels: [] }, true, []],
    ['the base', { title: 't', body: 'b', base: 'env/y', labels: [] }, true, []],
    ['a label', { title: 't', body: 'b', base: 'env/x', labels: ['l', 'm'] }, false, ['m']],
  ])('a child PR changes %s', (_, want, update, missingLabels) => {
    const current = { title: 't', body: 'b', base: 'env/x', labels: ['l'] }
    expect(childPrChanges(current, want)).toEqual({ update, missingLabels })
  })

  it('posts only statuses that differ, and leaves a deployed environment with the same child alone', () => {
    const reports = planReports(envs, new Set())
    const testA = planned(envs[0] as EnvironmentHydration)
    const prodA = planned(envs[1] as EnvironmentHydration)
    const deployed: CommitStatus = {
      context: 'fleet-promote/test-a',
      state: 'success',
      description: 'deployed',
    }
    const failed: CommitStatus = {
      context: 'fleet-promote/test-f',
      state: 'failure',
      description: 'render failed; see the workflow run',
      targetUrl: fallbackUrl,
    }
    const statuses = planStatuses({
      environments: envs,
      reports,
      planned: [testA, prodA],
      remoteRefs: refs({ [testA.branch]: sha('d') }),
      current: new Map([
        [deployed.context, deployed],
        [failed.context, failed],
      ]),
      stages: STAGES,
      promoteCommand: '.promote',
      fallbackUrl,
    })
    expect(statuses).toEqual([
      {
        context: 'fleet-promote/prod-a',
        state: 'pending',
        description: 'child PR #? (+1 ~0 -0 objects); promote with .promote prod',
        targetUrl: fallbackUrl,
      },
    ])
  })

  it('outputs: one per environment sorted, then closed extras; the gate sees the open children', () => {
    const reports = planReports(envs, new Set())
    const a = reports.get('test-a')
    if (a) a.child = { number: 1, url: 'u1', state: 'created' }
    const f = reports.get('test-f')
    if (f) f.child = { number: 4, url: 'u4', state: 'closed' }
    const closed = [
      { environment: 'test-f', number: 4, url: 'u4' },
      { environment: '', number: 2, url: 'u2' },
    ]
    expect(
      childOutputs(reports.values(), closed, PARENT).map((c) => [c.environment, c.number, c.state]),
    ).toEqual([
      ['prod-a', null, 'none'],
      ['test-a', 1, 'created'],
      ['test-f', 4, 'closed'],
      ['', 2, 'closed'],
    ])
    const gate = openChildrenAfter(reports.values(), envs, PARENT, 'o/r')
    expect(gate.map((p) => [p.number, p.headRef, p.baseRef, p.headRepo])).toEqual([
      [1, 'fleet-promote/pr-7/test-a', 'env/test-a', 'o/r'],
    ])
  })
})
