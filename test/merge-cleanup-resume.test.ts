// merge-cleanup is resumable: failures injected midway (the landing push
// refused, the last push refused) and re-runs finish the job without a
// second landing or comment, and a run with nothing left to do writes nothing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  RECEIVE_PACK,
  actions,
  cleanupComments,
  expectConverged,
  mergedChildren,
  pushes,
  twoParents,
} from './fixtures/merge-cleanup/checks.js'
import { startScenario, type Scenario } from './fixtures/merge-cleanup/scenario.js'

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

    // 1. The landing push fails: nothing lands, the run fails and says why.
    s.gh.faults.add({ route: RECEIVE_PACK, status: 500, times: 1 })
    const crashed = await s.cleanup(p2)
    expect(crashed.failed).toBe(true)
    expect(actions(crashed)).toEqual({ 'test-a': 'failed', 'prod-a': 'failed' })
    expect(crashed.environments[0]?.detail).toMatch(/the landing push failed/)
    expect(mergedChildren(s)).toBe(4)

    // 2. The re-run lands both; its last push (branches and locks) is refused.
    s.gh.faults.add({ route: RECEIVE_PACK, delayMs: 1, times: 1 })
    s.gh.faults.add({ route: RECEIVE_PACK, status: 500, times: 1 })
    const again = await s.cleanup(p2)
    expect(mergedChildren(s)).toBe(6)
    expect(actions(again)).toEqual({ 'test-a': 'failed', 'prod-a': 'failed' })
    expect(again.environments[0]?.detail).toMatch(/^landed #\d+ on env\/test-a .*not deleted yet/)
    expect(await s.branches(`fleet-promote/pr-${p2}/`)).toEqual([
      `fleet-promote/pr-${p2}/prod-a`,
      `fleet-promote/pr-${p2}/test-a`,
    ])

    // 3. The last re-run only deletes: one push, nothing landed again.
    const pushesBefore = pushes(s)
    const last = await s.cleanup(p2)
    expect(last.failed).toBe(false)
    expect(last.merged).toEqual(['test-a', 'prod-a'])
    expect(pushes(s) - pushesBefore).toBe(1)
    expect(mergedChildren(s)).toBe(6)
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
