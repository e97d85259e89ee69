// merge-cleanup on shared WET branches (one per stage, each environment in its
// folder): a child PR holds every impacted folder of its branch, so each
// branch lands as ONE ref update of the landing push (two environments on one
// branch would otherwise be a duplicate ref GitHub refuses), each child branch
// is deleted once, folders are compared one by one, and the run converges.
// GitHub and Argo CD simulators, real git, kustomize and Helm.
import { afterEach, describe, expect, it } from 'vitest'
import {
  MERGE_ROUTE,
  actions,
  expectConverged,
  mergedChildren,
  openPulls,
  openTwoParents,
  pushes,
} from './fixtures/merge-cleanup/checks.js'
import { REPO, startScenario, type Scenario } from './fixtures/merge-cleanup/scenario.js'

let s: Scenario

afterEach(async () => {
  await s.stop()
})

/** #p1 bumps the component (every folder), #p2 resizes test-a and prod-a; #p1's testing is promoted. */
async function twoSharedParents(promoted: readonly string[] = ['test-a', 'test-b']) {
  const { p1, p2 } = await openTwoParents(s)
  // One child PR per (parent, WET branch).
  expect(
    openPulls(s)
      .map((p) => p.headRef)
      .filter((ref) => ref.startsWith('fleet-promote/'))
      .sort(),
  ).toEqual([
    `fleet-promote/pr-${p1}/env-production`,
    `fleet-promote/pr-${p1}/env-testing`,
    `fleet-promote/pr-${p2}/env-production`,
    `fleet-promote/pr-${p2}/env-testing`,
  ])
  for (const env of promoted) await s.promote(p1, env)
  expect(s.applicationRevision('test-a')).toBe(`fleet-promote/pr-${p1}/env-testing`)
  return { p1, p2 }
}

/** The refs pushed since event `from` (GitHub delivers one push event per ref updated). */
function pushedRefs(from: number): string[] {
  return s.gh.state.events
    .slice(from)
    .filter((e) => e.name === 'push')
    .map((e) => String(e.payload.ref))
    .sort()
}

describe('merge-cleanup on shared WET branches', { timeout: 300_000 }, () => {
  it('lands each shared branch once, deletes each child branch once, and converges', async () => {
    s = await startScenario({ shared: true })
    const { p1, p2 } = await twoSharedParents()

    // prod-b's Application tracks its WET branch, but at the branch root: cleanup puts it at its folder.
    await s.argocdClient.setTargetRevision('prod-b-addons', 'env/production', { path: '.' })
    await s.merge(p1)
    const pushesBefore = pushes(s)
    const eventsBefore = s.gh.state.events.length
    const first = await s.cleanup(p1)
    expect(first.failed, first.summary).toBe(false)
    expect(first.merged).toEqual(['test-a', 'test-b', 'prod-a', 'prod-b'])
    // The landing push (env/testing, env/production) and the last push (2 child branches, 2 locks).
    expect(pushes(s) - pushesBefore).toBe(2)
    expect(pushedRefs(eventsBefore)).toEqual([
      'refs/heads/env/production',
      'refs/heads/env/testing',
      'refs/heads/fleet-promote-lock/test-a',
      'refs/heads/fleet-promote-lock/test-b',
      `refs/heads/fleet-promote/pr-${p1}/env-production`,
      `refs/heads/fleet-promote/pr-${p1}/env-testing`,
    ])
    expect(s.gh.routeCounts()[MERGE_ROUTE]).toBeUndefined()
    // Both children merged by the push (their heads reached their bases).
    expect(mergedChildren(s)).toBe(2)
    const apps = Object.fromEntries(
      first.environments.map((e) => [e.environment, e.application?.result]),
    )
    expect(apps).toEqual({
      'test-a': 'reset',
      'test-b': 'reset',
      'prod-a': 'synced',
      'prod-b': 'reset',
    })
    expect(s.applicationPath('test-a')).toBe('test-a')
    expect(s.applicationPath('prod-b')).toBe('prod-b')
    // Only provenance differed from the test merge's render: landed as they are.
    expect(first.environments.some((e) => e.rerendered)).toBe(false)

    await s.merge(p2)
    const second = await s.cleanup(p2)
    expect(second.failed, second.summary).toBe(false)
    expect(actions(second)).toEqual({ 'test-a': 'merged', 'prod-a': 'merged' })
    // #p2's folders were rendered before #p1 landed: re-rendered, each folder on its own.
    expect(second.environments.every((e) => e.rerendered)).toBe(true)
    expect(mergedChildren(s)).toBe(4)
    await expectConverged(s)
  })

  it('a folder left for a human keeps the child open; the other folder lands on the WET tip', async () => {
    s = await startScenario({
      shared: true,
      config: (text) => `${text}merge:\n  mergeUnpromoted: false\n`,
    })
    const { p1 } = await twoSharedParents(['test-a'])
    await s.merge(p1)
    const result = await s.cleanup(p1)
    expect(actions(result)).toMatchObject({ 'test-a': 'merged', 'test-b': 'left' })
    expect(result.environments[0]?.detail).toMatch(/the child stays open for test-b/)
    const testing = s.gh.state
      .pulls(REPO)
      .find((p) => p.headRef === `fleet-promote/pr-${p1}/env-testing`)!
    expect(testing).toMatchObject({ state: 'open', merged: false })
    // test-a's folder holds the render of main, test-b's is as it was.
    const main = await s.renderMain()
    expect(await s.wetFiles('test-a')).toEqual(main.get('test-a'))
    expect(await s.wetFiles('test-b')).not.toEqual(main.get('test-b'))
    // The child branch stays for test-b; test-a's cluster is back on the WET branch, its lock gone.
    expect(await s.branches(`fleet-promote/pr-${p1}/`)).toContain(
      `fleet-promote/pr-${p1}/env-testing`,
    )
    expect(s.applicationRevision('test-a')).toBe('env/testing')
    expect(await s.branches('fleet-promote-lock/')).not.toContain('fleet-promote-lock/test-a')
  })
})
