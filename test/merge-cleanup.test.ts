// merge-cleanup end to end against the GitHub and Argo CD simulators, with
// real git, kustomize and Helm: two parents touching overlapping
// environments, merged and cleaned up in any order, must leave every WET
// branch equal to the render of main, no child branch, no lock, no open
// child and every Application on its WET branch (the convergence invariant).
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  actions,
  cleanupComments,
  expectConverged,
  MERGE_ROUTE,
  mergedChildren,
  pushes,
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
describe('merge-cleanup convergence', { timeout: 300_000 }, () => {
  it('converges when the parents merge in opening order', async () => {
    const { p1, p2 } = await twoParents(s)

    await s.merge(p1)
    const pushesBefore = pushes(s)
    const first = await s.cleanup(p1)
    // Every child lands in one leased push, branches and locks go in one more; no merge call.
    expect(pushes(s) - pushesBefore).toBe(2)
    expect(s.gh.routeCounts()[MERGE_ROUTE]).toBeUndefined()
    expect(first.parentState).toBe('merged')
    expect(first.failed).toBe(false)
    expect(first.merged).toEqual(['test-a', 'test-b', 'prod-a', 'prod-b'])
    expect(first.left).toEqual([])
    // The promoted Applications were pointed back; the others already tracked their WET branch.
    const apps = Object.fromEntries(
      first.environments.map((e) => [e.environment, e.application?.result]),
    )
    expect(apps['test-a']).toBe('reset')
    expect(apps['prod-b']).toBe('synced')

    await s.merge(p2)
    const second = await s.cleanup(p2)
    expect(second.merged).toEqual(['test-a', 'prod-a'])
    // #p2's children were rendered before #p1 merged: they were re-rendered first.
    expect(second.environments.every((e) => e.rerendered)).toBe(true)
    expect(second.environments[0]?.detail).toMatch(/objects changed since the child was rendered/)
    // #p1's children only differed in provenance (rendered from the PR's test merge): landed as they are.
    expect(first.environments.some((e) => e.rerendered)).toBe(false)
    expect(first.environments[0]?.detail).toMatch(/^landed #\d+ on env\/test-a$/)
    expect(second.locksReleased).toEqual([])
    expect(second.environments.find((e) => e.environment === 'prod-a')?.lock).toBe('released')

    expect(mergedChildren(s)).toBe(6)
    await expectConverged(s)
    expect(cleanupComments(s, p1)).toHaveLength(1)
    expect(cleanupComments(s, p2)[0]?.body).toMatch(/#\d+ merged, children landed/)
  })

  it('converges when the later parent merges first', async () => {
    const { p1, p2 } = await twoParents(s)

    await s.merge(p2)
    const first = await s.cleanup(p2)
    expect(first.merged).toEqual(['test-a', 'prod-a'])
    // #p1 still holds test-a's lock: #p2's cleanup leaves it alone.
    expect(await s.branches('fleet-promote-lock/')).toEqual([
      'fleet-promote-lock/test-a',
      'fleet-promote-lock/test-b',
    ])
    // #p1's child of test-a lacks #p2's change: #p2 does not reset the Application as its own
    // (it is kept), but takes the cluster off that stale child onto env/test-a, which has
    // the change; #p1 keeps the lock until it re-renders or lands.
    expect(first.environments.find((e) => e.environment === 'test-a')?.application?.result).toBe(
      'kept',
    )
    expect(s.applicationRevision('test-a')).toBe('env/test-a')

    await s.merge(p1)
    const second = await s.cleanup(p1)
    expect(second.merged).toEqual(['test-a', 'test-b', 'prod-a', 'prod-b'])
    expect(mergedChildren(s)).toBe(6)
    await expectConverged(s)
  })

  it('converges when the cleanups run in the opposite order of the merges', async () => {
    const { p1, p2 } = await twoParents(s)
    await s.merge(p1)
    await s.merge(p2)

    // #p2's cleanup renders main with both changes, so its children carry #p1's too.
    const first = await s.cleanup(p2)
    expect(first.merged).toEqual(['test-a', 'prod-a'])
    const second = await s.cleanup(p1)
    // test-a and prod-a already hold that render: nothing left to merge, the children close.
    expect(actions(second)).toEqual({
      'test-a': 'current',
      'test-b': 'merged',
      'prod-a': 'current',
      'prod-b': 'merged',
    })
    expect(second.merged).toEqual(['test-a', 'test-b', 'prod-a', 'prod-b'])
    expect(second.environments[0]?.detail).toMatch(/env\/test-a already equals the render/)
    const p1Children = s.gh.state
      .pulls(REPO)
      .filter((p) => p.headRef.startsWith(`fleet-promote/pr-${p1}/`))
    expect(
      p1Children
        .filter((p) => p.merged)
        .map((p) => p.headRef.split('/').pop())
        .sort(),
    ).toEqual(['prod-b', 'test-b'])
    expect(mergedChildren(s)).toBe(4)
    await expectConverged(s)
  })
})
