// The pure rules of `statuses: per-stage` (actions/lib/status-board.ts): the
// check run's name, its marker, how boards and commit statuses combine into
// the one Map every reader gets, and which check-run writes a set of changes
// needs.
import { describe, expect, it } from 'vitest'
import { PIPELINE_CONTEXT } from '../actions/lib/aggregate.js'
import { environmentContext, type CommitStatus } from '../actions/lib/statuses.js'
import {
  boardsOf,
  CHECK_OUTPUT_LIMIT,
  combineStatuses,
  encodeBoardMarker,
  fitMarker,
  parseBoardMarker,
  planBoardWrites,
  renderBoard,
  routeOf,
  stageCheckName,
  stageOfCheckName,
  type BoardEntry,
  type StageBoard,
} from '../actions/lib/status-board.js'

const entry = (state: BoardEntry['state'], description: string, targetUrl?: string) => ({
  state,
  description,
  ...(targetUrl ? { targetUrl } : {}),
})
const status = (env: string, state: BoardEntry['state'], description: string): CommitStatus => ({
  context: environmentContext(env),
  state,
  description,
})
const board = (
  stage: string,
  id: number,
  entries: Record<string, BoardEntry> | undefined,
  completed = false,
): StageBoard => ({
  stage,
  checkRunId: id,
  completed,
  entries: entries && new Map(Object.entries(entries)),
})
const bytes = (text: string) => Buffer.byteLength(text, 'utf8')

describe('stage check run names', () => {
  it('can be neither an environment context nor the gate', () => {
    expect(stageCheckName('production')).toBe('fleet-promote/stage/production')
    // Environment names have no "/", so no environment context has two.
    expect(stageCheckName('pipeline')).not.toBe(PIPELINE_CONTEXT)
    expect(stageCheckName('stage')).not.toBe(environmentContext('stage'))
    expect(stageOfCheckName('fleet-promote/stage/testing')).toBe('testing')
    for (const other of [
      'fleet-promote/stage',
      'fleet-promote/testing',
      'ci/stage/x',
      'fleet-promote/stage/a/b',
    ])
      expect(stageOfCheckName(other), other).toBeUndefined()
  })
})

describe('the board marker', () => {
  it('round-trips every entry, and text that could close the comment stays inside it', () => {
    const entries = new Map([
      ['eu-prod-1', entry('success', 'deployed --> <b>now</b>', 'https://argocd/eu-prod-1')],
      ['us-prod-1', entry('pending', 'promote with .promote production')],
    ])
    const marker = encodeBoardMarker('production', entries)
    expect(marker).toMatch(/^<!-- fleet-promote:stage-board v1 [A-Za-z0-9+/=]+ -->$/)
    expect(parseBoardMarker(`# notes\n\n${marker}\n`, 'production')).toEqual(entries)
  })

  it('is not read for another stage, nor when missing or damaged', () => {
    const marker = encodeBoardMarker('testing', new Map([['t-1', entry('success', 'ok')]]))
    expect(parseBoardMarker(marker, 'production')).toBeUndefined()
    expect(parseBoardMarker('no marker here', 'testing')).toBeUndefined()
    expect(parseBoardMarker(null, 'testing')).toBeUndefined()
    expect(parseBoardMarker(marker.replace(' v1 H4sI', ' v1 AAAA'), 'testing')).toBeUndefined()
  })

  it('keeps every state of 500 environments with distinct long descriptions and links within a check run', () => {
    const entries = new Map(
      Array.from({ length: 500 }, (_, i) => [
        `eu-prod-${String(i).padStart(3, '0')}`,
        entry(
          i % 7 === 0 ? 'failure' : 'success',
          `render failed: ${i} ${'x'.repeat(110)} ${(i * 7919).toString(36)}`,
          `https://github.com/acme/fleet/pull/${1000 + i}`,
        ),
      ]),
    )
    const fitted = fitMarker('production', entries)
    expect(bytes(fitted.text)).toBeLessThanOrEqual(CHECK_OUTPUT_LIMIT)
    const read = parseBoardMarker(fitted.text, 'production')
    expect(read?.size).toBe(500)
    for (const [name, value] of entries) expect(read?.get(name)?.state).toBe(value.state)
  })
})

describe('combineStatuses', () => {
  it('adds each board entry as its environment context, and a commit status of that context wins', () => {
    const commit = new Map([
      [PIPELINE_CONTEXT, status('pipeline', 'pending', 'waiting')],
      // Kargo reported eu-prod-1 through the status API.
      [environmentContext('eu-prod-1'), status('eu-prod-1', 'success', 'Kargo: verified')],
    ])
    const boards = new Map([
      [
        'production',
        board('production', 7, {
          'eu-prod-1': entry('pending', 'waiting for Kargo'),
          'us-prod-1': entry('failure', 'Degraded', 'https://argocd/us'),
        }),
      ],
    ])
    const combined = combineStatuses(commit, boards)
    expect(combined.get(environmentContext('eu-prod-1'))).toEqual(
      status('eu-prod-1', 'success', 'Kargo: verified'),
    )
    expect(combined.get(environmentContext('us-prod-1'))).toEqual({
      ...status('us-prod-1', 'failure', 'Degraded'),
      targetUrl: 'https://argocd/us',
      board: 'production',
    })
    expect([...combined.keys()].sort()).toEqual([
      'fleet-promote/eu-prod-1',
      'fleet-promote/pipeline',
      'fleet-promote/us-prod-1',
    ])
  })

  it('a board without a readable marker adds nothing (its environments count as pending)', () => {
    expect(
      combineStatuses(new Map(), new Map([['testing', board('testing', 1, undefined)]])),
    ).toEqual(new Map())
  })

  it('takes the newest check run of a stage, and an environment on two boards from the newer', () => {
    const runs = [
      {
        id: 3,
        name: 'fleet-promote/stage/testing',
        status: 'completed',
        output: { text: encodeBoardMarker('testing', new Map([['t-1', entry('failure', 'old')]])) },
      },
      {
        id: 9,
        name: 'fleet-promote/stage/testing',
        status: 'in_progress',
        output: {
          text: encodeBoardMarker('testing', new Map([['t-1', entry('pending', 'again')]])),
        },
      },
      {
        id: 5,
        name: 'fleet-promote/stage/production',
        status: 'completed',
        output: {
          text: encodeBoardMarker('production', new Map([['t-1', entry('success', 'moved')]])),
        },
      },
      { id: 4, name: 'ci', status: 'completed', output: { text: 'unrelated' } },
    ]
    const boards = boardsOf(runs)
    expect([...boards.keys()].sort()).toEqual(['production', 'testing'])
    expect(boards.get('testing')).toMatchObject({ checkRunId: 9, completed: false })
    expect(combineStatuses(new Map(), boards).get(environmentContext('t-1'))).toMatchObject({
      state: 'pending',
      description: 'again',
      board: 'testing',
    })
  })
})

describe('routeOf', () => {
  const board = {
    context: 'fleet-promote/a',
    state: 'pending',
    description: '',
    board: 's',
  } as const
  const commit = { context: 'fleet-promote/a', state: 'pending', description: '' } as const
  it.each([
    ['per-environment', undefined, 's', 'commit-status'],
    ['per-environment', board, 's', 'commit-status'],
    ['per-stage', undefined, 's', { board: 's' }],
    ['per-stage', board, 's', { board: 's' }],
    // An external CD's status: the suite's word goes there too, so the newest decides.
    ['per-stage', commit, 's', 'commit-status'],
    // No stage has it (dropped from the configuration): nothing to file it under.
    ['per-stage', undefined, undefined, 'commit-status'],
  ] as const)('%s, current %o, stage %s → %o', (mode, current, stage, expected) => {
    expect(routeOf(mode, current, stage)).toEqual(expected)
  })
})

describe('planBoardWrites', () => {
  const changes = (stage: string, ...statuses: CommitStatus[]) =>
    new Map([[stage, new Map(statuses.map((s) => [s.context.slice('fleet-promote/'.length), s]))]])

  it('creates a missing board with every environment, in progress while any is pending', () => {
    const [write, ...rest] = planBoardWrites({
      boards: new Map(),
      changes: changes(
        'testing',
        status('t-1', 'pending', 'child PR #3'),
        status('t-2', 'success', 'unchanged'),
      ),
      runUrl: 'https://github.com/acme/fleet/actions/runs/1',
    })
    expect(rest).toEqual([])
    expect(write).toMatchObject({
      name: 'fleet-promote/stage/testing',
      status: 'in_progress',
      output: { title: '1/2 succeeded, 1 pending' },
    })
    expect(write?.checkRunId).toBeUndefined()
    expect(write?.conclusion).toBeUndefined()
    expect(parseBoardMarker(write?.output.text, 'testing')).toEqual(
      new Map([
        ['t-1', entry('pending', 'child PR #3')],
        ['t-2', entry('success', 'unchanged')],
      ]),
    )
    expect(write?.output.summary).toContain('| t-1 | pending | child PR #3 |')
  })

  it('writes nothing when the board already says it, whatever run asks', () => {
    const boards = new Map([
      ['testing', board('testing', 4, { 't-1': entry('success', 'deployed') }, true)],
    ])
    expect(
      planBoardWrites({
        boards,
        changes: changes('testing', status('t-1', 'success', 'deployed')),
        runUrl: 'https://other/run',
      }),
    ).toEqual([])
  })

  it('updates the board in place, keeping the entries nobody changed', () => {
    const boards = new Map([
      [
        'production',
        board('production', 4, {
          'p-1': entry('pending', 'waiting'),
          'p-2': entry('pending', 'waiting'),
        }),
      ],
    ])
    const [write] = planBoardWrites({
      boards,
      changes: changes('production', status('p-1', 'failure', 'Degraded')),
    })
    expect(write).toMatchObject({
      checkRunId: 4,
      status: 'completed',
      conclusion: 'failure',
      output: { title: '0/2 succeeded, 1 failed, 1 pending' },
    })
    expect(parseBoardMarker(write?.output.text, 'production')?.get('p-2')).toEqual(
      entry('pending', 'waiting'),
    )
  })

  it('completes it with success once every environment succeeded', () => {
    const boards = new Map([
      ['production', board('production', 4, { 'p-1': entry('pending', 'deploying') })],
    ])
    expect(
      planBoardWrites({
        boards,
        changes: changes('production', status('p-1', 'success', 'deployed')),
      }),
    ).toMatchObject([{ checkRunId: 4, status: 'completed', conclusion: 'success' }])
  })

  it('opens a new run rather than reopening a completed one', () => {
    const boards = new Map([
      ['production', board('production', 4, { 'p-1': entry('failure', 'Degraded') }, true)],
    ])
    const [write] = planBoardWrites({
      boards,
      changes: changes('production', status('p-1', 'pending', 'deploying')),
    })
    expect(write).toMatchObject({ status: 'in_progress' })
    expect(write?.checkRunId).toBeUndefined()
  })

  it('takes an environment an external CD reports off the board, and names it under the table', () => {
    const boards = new Map([
      [
        'production',
        board('production', 4, {
          'p-1': entry('pending', 'waiting for Kargo'),
          'p-2': entry('pending', 'waiting'),
        }),
      ],
    ])
    const [write] = planBoardWrites({
      boards,
      changes: changes('production', status('p-2', 'success', 'deployed')),
      external: new Map([['production', ['p-1']]]),
    })
    expect(write).toMatchObject({
      checkRunId: 4,
      conclusion: 'success',
      output: { title: '1/1 succeeded' },
    })
    expect([...(parseBoardMarker(write?.output.text, 'production')?.keys() ?? [])]).toEqual(['p-2'])
    expect(write?.output.summary).toContain(
      'Reported through their own commit status `fleet-promote/<environment>`: p-1.',
    )
  })

  it('rewrites a board whose marker it cannot read, one write per changed stage in name order', () => {
    const writes = planBoardWrites({
      boards: new Map([['testing', board('testing', 2, undefined)]]),
      changes: new Map([
        ['testing', new Map([['t-1', status('t-1', 'success', 'ok')]])],
        ['production', new Map([['p-1', status('p-1', 'pending', 'waiting')]])],
      ]),
    })
    expect(writes.map((w) => [w.stage, w.checkRunId])).toEqual([
      ['production', undefined],
      ['testing', 2],
    ])
  })
})

describe('renderBoard', () => {
  it('lists failures first and cuts a summary of 500 environments at 65,535 bytes with "and N more" linking the job summary', () => {
    const entries = new Map(
      Array.from({ length: 500 }, (_, i): [string, BoardEntry] => [
        `eu-prod-${String(i).padStart(3, '0')}`,
        entry(
          i === 250 ? 'failure' : 'success',
          `deployed ✓ ${'é'.repeat(100)} ${i}`,
          `https://argocd.example/applications/eu-prod-${i}`,
        ),
      ]),
    )
    const fitted = fitMarker('production', entries)
    const rendered = renderBoard(
      'production',
      fitted.entries,
      fitted.text,
      'https://github.com/acme/fleet/actions/runs/9',
    )
    const { summary } = rendered.output
    expect(bytes(summary)).toBeLessThanOrEqual(CHECK_OUTPUT_LIMIT)
    expect(summary.length).toBeLessThan(bytes(summary))
    expect(summary).toMatch(
      /…and \d+ more environments: see the \[job summary\]\(https:\/\/github.com\/acme\/fleet\/actions\/runs\/9\)\./,
    )
    const rows = summary.split('\n').filter((line) => line.startsWith('| [eu-prod'))
    expect(rows[0]).toContain('eu-prod-250')
    expect(rows.length).toBeGreaterThan(100)
    expect(rows.length).toBeLessThan(500)
    expect(rendered).toMatchObject({
      status: 'completed',
      conclusion: 'failure',
      output: { title: '499/500 succeeded, 1 failed' },
    })
  })
})
