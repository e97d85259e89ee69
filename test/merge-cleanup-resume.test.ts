// merge-cleanup is resumable: failures injected midway (after a merge,
// before a merge) and re-runs finish the job without a second push, merge
// or comment, and a run with nothing left to do writes nothing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  MERGE_ROUTE,
  RECEIVE_PACK,
  actions,
  cleanupComments,
  expectConverged,
  successfulMerges,
  twoParents,
} from './fixtures/merge-cleanup/checks.js'
import { REPO, startScenario, type Scenario } from './fixtures/merge-cleanup/scenario.js'

let s: Scenario

beforeEach(async () => {
  s = await startScenario()
})

afterEach(async () => {
  await s.stop()
})

// Each test renders the fleet 5–9 times with real kustomize and Helm.
describe('merge-cleanup after a crash', { timeout: 300_000 }, () => {
  it('finishes after failures midway without repeating a push or a merge', async () => {
    const { p1, p2 } = await twoParents(s)
    await s.merge(p1)
    await s.cleanup(p1)
    await s.merge(p2)

    // 1. test-a merges, then deleting its branch fails: production is not touched.
    s.gh.faults.add({ route: 'DELETE /repos/{owner}/{repo}/git/refs/{ref}', status: 400, times: 1 })
    const crashed = await s.cleanup(p2)
    expect(crashed.failed).toBe(true)
    expect(actions(crashed)).toEqual({ 'test-a': 'failed', 'prod-a': 'skipped' })
    expect(crashed.left.map((l) => l.environment)).toEqual(['test-a', 'prod-a'])
    expect(await s.branches(`fleet-promote/pr-${p2}/`)).toEqual([
      `fleet-promote/pr-${p2}/prod-a`,
      `fleet-promote/pr-${p2}/test-a`,
    ])
    expect(
      s.gh.state.pulls(REPO).find((p) => p.headRef === `fleet-promote/pr-${p2}/test-a`)?.merged,
    ).toBe(true)
    expect(successfulMerges(s)).toBe(5)

    // 2. The re-run finishes test-a; prod-a's child is updated, then its merge fails.
    s.gh.faults.add({ route: MERGE_ROUTE, status: 400, times: 1 })
    const again = await s.cleanup(p2)
    expect(actions(again)).toEqual({ 'test-a': 'merged', 'prod-a': 'failed' })
    expect(again.environments[0]?.detail).toMatch(/merged; env\/test-a already equals the render/)
    expect(successfulMerges(s)).toBe(5)

    // 3. The last re-run only merges: the updated child commit is the one it would build.
    const pushesBefore = s.gh.routeCounts()[RECEIVE_PACK] ?? 0
    const last = await s.cleanup(p2)
    expect(last.failed).toBe(false)
    expect(last.merged).toEqual(['test-a', 'prod-a'])
    expect(s.gh.routeCounts()[RECEIVE_PACK] ?? 0).toBe(pushesBefore)
    expect(successfulMerges(s)).toBe(6)
    expect(cleanupComments(s, p2)).toHaveLength(1)
    expect(cleanupComments(s, p2)[0]?.body).not.toMatch(/failed/)
    await expectConverged(s)

    // A fourth run changes nothing at all.
    s.gh.resetRequests()
    const idle = await s.cleanup(p2)
    expect(idle.merged).toEqual(['test-a', 'prod-a'])
    const writes = s.gh.requests.filter(
      (r) => r.method !== 'GET' && !r.route.includes('git-upload-pack'),
    )
    expect(writes.map((r) => r.route)).toEqual([])
  })
})
