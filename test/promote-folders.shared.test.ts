// promote on shared WET branches takes each environment's folder from the
// base branch's configuration: the child marker (a PR body anyone with write
// access can edit) only has to agree. GitHub and Argo CD simulators, real git.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { promote } from '../actions/promote/promote.js'
import {
  FULL_NAME,
  MULTI_SOURCE_ENV,
  REPO,
  startPromoteFleet,
  type PromoteFleet,
} from './support/promote-fleet.js'

const TESTING = ['ap-test-1', 'eu-test-1', 'us-test-1']

describe('promote on a shared WET branch with the argocd backend', { timeout: 120_000 }, () => {
  let fleet: PromoteFleet
  let body = ''
  beforeAll(async () => {
    fleet = await startPromoteFleet({ shared: true })
  })
  afterAll(async () => {
    expect(fleet.gh.validationErrors).toEqual([])
    expect(fleet.argocd.validationErrors).toEqual([])
    await fleet.cleanup()
  })
  const child = () =>
    fleet.gh.state
      .pulls(FULL_NAME)
      .find((p) => p.headRef === `fleet-promote/pr-${fleet.parent}/env-testing`)!
  const setBody = (text: string) =>
    fleet.admin.rest.pulls.update({ ...REPO, pull_number: child().number, body: text })
  /** As someone with write access could: eu-test-1's marker folder made us-test-1's. */
  const misplaceEuTest1 = () =>
    setBody(body.replace('"eu-test-1":"eu-test-1"', '"eu-test-1":"us-test-1"'))
  const run = (command: string) =>
    promote(fleet.settings(), fleet.comment(fleet.users.writer, command))

  it("refuses a child whose marker was edited to another environment's folder", async () => {
    body = child().body ?? ''
    await misplaceEuTest1()
    expect(child().body).not.toBe(body)
    const before = await fleet.snapshot()
    const result = await run('.promote eu-test-1')
    expect(result.decision).toBe('refused')
    expect(result.reason).toBe(
      'the child of eu-test-1 says folder us-test-1, the configuration says eu-test-1: re-render (push or re-run the pull request workflow)',
    )
    expect(fleet.gh.state.comments(FULL_NAME, fleet.parent).at(-1)?.body).toContain(result.reason)
    // The Application never moved: still its own folder of the WET branch, nothing synced.
    expect(fleet.argocd.getApplication('eu-test-1-addons')?.spec.source).toMatchObject({
      targetRevision: 'env/testing',
      path: 'eu-test-1',
    })
    expect(fleet.argocd.syncs).toEqual([])
    expect(await fleet.snapshot()).toEqual(before)
  })

  it('deploys each environment at its configured folder once the marker agrees', async () => {
    await setBody(body)
    const result = await run('.promote testing')
    expect(result.decision, result.reason).toBe('deployed')
    const branch = `fleet-promote/pr-${fleet.parent}/env-testing`
    for (const name of TESTING) {
      const spec = fleet.argocd.getApplication(`${name}-addons`)?.spec
      // A multi-source Application's own source is its last (the first is a chart elsewhere).
      expect(spec?.source ?? spec?.sources?.at(-1)).toMatchObject({
        targetRevision: branch,
        path: name,
      })
    }
    // What each single-source sync deployed (a multi-source one records no single path).
    const single = TESTING.filter((name) => name !== MULTI_SOURCE_ENV)
    expect(
      fleet.argocd.syncs
        .filter((s) => s.application !== `${MULTI_SOURCE_ENV}-addons`)
        .map((s) => [s.application, s.path])
        .sort(),
    ).toEqual(single.map((name) => [`${name}-addons`, name]))
  })

  it('.unlock never puts a cluster back at a folder the marker names', async () => {
    const branch = `fleet-promote/pr-${fleet.parent}/env-testing`
    const lock = 'fleet-promote-lock/eu-test-1'
    expect(fleet.gh.state.refSha(FULL_NAME, lock)).toBeDefined()
    await misplaceEuTest1()
    const refused = await run('.unlock eu-test-1')
    expect(refused.decision).toBe('refused')
    expect(refused.reason).toBe(
      'the child of eu-test-1 says folder us-test-1, the configuration says eu-test-1: re-render (push or re-run the pull request workflow), then unlock; the locks stay',
    )
    // Still on the child at its own folder, still locked.
    expect(fleet.argocd.getApplication('eu-test-1-addons')?.spec.source).toMatchObject({
      targetRevision: branch,
      path: 'eu-test-1',
    })
    expect(fleet.gh.state.refSha(FULL_NAME, lock)).toBeDefined()

    await setBody(body)
    const unlocked = await run('.unlock eu-test-1')
    expect(unlocked.decision, unlocked.reason).toBe('done')
    expect(fleet.argocd.getApplication('eu-test-1-addons')?.spec.source).toMatchObject({
      targetRevision: 'env/testing',
      path: 'eu-test-1',
    })
    expect(fleet.gh.state.refSha(FULL_NAME, lock)).toBeUndefined()
  })

  it("reads the base tip's tree only for an environment the pinned head removed", async () => {
    const trees = () =>
      fleet.gh.requests.filter((r) => r.route === 'GET /repos/{owner}/{repo}/git/trees/{tree_sha}')
        .length
    fleet.gh.resetRequests()
    const dry = await run('.promote testing --noop')
    expect(dry.decision, dry.reason).not.toBe('refused')
    expect(trees()).toBe(1)

    // The head retires us-test-1: its folder now comes from the base branch's tree.
    await fleet.work.run(['checkout', '--quiet', '-f', 'feature/bump'])
    await fleet.work.run(['rm', '-rq', 'clusters/us/test-1'])
    await fleet.work.run(['commit', '-qm', 'retire us-test-1'])
    await fleet.work.run(['push', '--quiet', 'origin', 'HEAD:refs/heads/feature/bump'])
    await fleet.gh.refreshRefs(FULL_NAME)
    fleet.gh.resetRequests()
    const unlocked = await run('.unlock us-test-1')
    expect(unlocked.decision, unlocked.reason).toBe('done')
    expect(trees()).toBe(2)
    expect(fleet.argocd.getApplication('us-test-1-addons')?.spec.source).toMatchObject({
      targetRevision: 'env/testing',
      path: 'us-test-1',
    })
  })
})
