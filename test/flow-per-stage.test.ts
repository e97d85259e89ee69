// `statuses: per-stage` through the real action bundles, in the order the
// reusable workflows run them (test/support/flow.ts): the configuration
// reaches every action from the base branch, each stage's states live in one
// check run, the gate follows them, and re-running changes nothing.
import { describe, expect, it } from 'vitest'
import { boardsOf } from '../actions/lib/status-board.js'
import { flowPerTest, type Flow } from './support/flow.js'

const start = flowPerTest()
const REPO = 'acme/fleet'

const settings = (version: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-settings\n  namespace: web\ndata:\n  version: "${version}"\n`

/** Each stage's check run: its status and every environment's state, as the marker holds them. */
function boards(f: Flow, parent: number) {
  const head = f.gh.state.pull(REPO, parent).headSha
  const runs = f.gh.state.checkRuns(REPO, head)
  const read = boardsOf(runs.map((run) => ({ ...run, output: { text: run.text } })))
  return Object.fromEntries(
    [...read.values()].map((board) => {
      const run = runs.find((candidate) => candidate.id === board.checkRunId)
      return [
        board.stage,
        {
          run: `${run?.status}/${run?.conclusion ?? ''}`,
          environments: Object.fromEntries(
            [...(board.entries ?? [])].map(([name, entry]) => [name, entry.state]),
          ),
        },
      ]
    }),
  )
}

describe('statuses: per-stage through the workflows', { timeout: 600_000 }, () => {
  it('keeps each stage in one check run from open to merge, gates on it, and a re-run writes nothing', async () => {
    const f = await start({ config: (document) => document.set('statuses', 'per-stage') })
    const parent = await f.openParent('bump', { 'components/app/settings.yaml': settings('2') })
    const opened = await f.prWorkflow(parent, 'opened')
    expect(opened.steps.auto?.outputs.decision).toBe('deployed')
    expect(boards(f, parent)).toEqual({
      testing: {
        run: 'completed/success',
        environments: { 'test-a': 'success', 'test-b': 'success' },
      },
      production: {
        run: 'in_progress/',
        environments: { 'prod-a': 'pending', 'prod-b': 'pending' },
      },
    })
    // The gate is the only commit status, and it waits for production.
    expect([...f.statuses(parent).keys()]).toEqual(['fleet-promote/pipeline'])
    expect(f.statuses(parent).get('fleet-promote/pipeline')).toEqual({
      state: 'pending',
      description: '2/4 succeeded; waiting for prod-a, prod-b',
    })

    f.approve(parent)
    const promoted = await f.command(parent, f.users.maintainer, '.promote production')
    expect(promoted.steps.promote?.outputs.decision).toBe('deployed')
    expect(boards(f, parent).production).toEqual({
      run: 'completed/success',
      environments: { 'prod-a': 'success', 'prod-b': 'success' },
    })
    expect(f.statuses(parent).get('fleet-promote/pipeline')).toEqual({
      state: 'success',
      description: 'all 4 environments succeeded',
    })

    // "Re-run all jobs" at the same head: no check run is written again.
    const head = f.gh.state.pull(REPO, parent).headSha
    const before = f.gh.state.checkRuns(REPO, head).map((run) => ({ ...run }))
    f.gh.resetRequests()
    const again = await f.rerun(opened)
    for (const [step, result] of Object.entries(again.steps))
      expect(result.exitCode, `${step}: ${result.stderr}`).toBe(0)
    expect(
      f.gh.requests.filter((r) => r.route.includes('/check-runs') && r.method !== 'GET'),
    ).toEqual([])
    expect(f.gh.state.checkRuns(REPO, head)).toEqual(before)

    const closed = await f.merge(parent)
    const cleanup = await f.closedWorkflow(parent, closed)
    expect(cleanup.steps.cleanup?.exitCode, cleanup.steps.cleanup?.stderr).toBe(0)
    expect(JSON.parse(cleanup.steps.cleanup?.outputs.left ?? '[]')).toEqual([])
    expect(f.violations).toEqual([])
  })
})
