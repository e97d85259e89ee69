// Issue 17's acceptance on the simulators, where the other wave tests leave a
// gap: a later wave starts only after the earlier one's bake has ended;
// `maxParallel` is reached and never exceeded, counted on the Argo CD
// simulator's concurrent syncs; manual waves continue from a failure exactly
// where it stopped; and a re-run after success writes nothing anywhere.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { promote } from '../actions/promote/promote.js'
import type { EnvironmentOutcome } from '../actions/promote/backends.js'
import {
  fleetConfig,
  FULL_NAME,
  startPromoteFleet,
  type PromoteFleet,
  endPromoteFleet,
} from './support/promote-fleet.js'

let fleet: PromoteFleet

beforeAll(async () => {
  fleet = await startPromoteFleet({
    config: (url) =>
      fleetConfig(url)
        .replace(
          'match: ["*-test-*"]',
          'match: ["*-test-*"]\n    waves: [eu-test-1]\n    bakeSeconds: 0.1',
        )
        .replace(
          'permission: maintain',
          'permission: maintain\n    waves: [eu-prod-1]\n    waveMode: manual\n    maxParallel: 2',
        ),
  })
})

afterAll(async () => {
  await endPromoteFleet(fleet)
})

const state = (env: string) =>
  fleet.gh.state
    .latestStatuses(FULL_NAME, fleet.headSha)
    .find((s) => s.context === `fleet-promote/${env}`)?.state

const run = (user: 'writer' | 'maintainer', body: string) =>
  promote(fleet.settings(), fleet.comment(fleet.users[user], body))

/** The environments synced since `from` (rollbacks to the WET branch left out), in order. */
const deployedSince = (from: number) =>
  fleet.argocd.syncs
    .slice(from)
    .filter((sync) => !sync.targetRevision.startsWith('env/'))
    .map((sync) => sync.application.replace(/-addons$/, ''))

const maxRunning = (from: number) =>
  Math.max(...fleet.argocd.syncs.slice(from).map((sync) => sync.running))

/** A sync that runs for a few looks before it turns Healthy, so that syncs overlap. */
const slow = (env: string, end: 'Healthy' | 'Degraded' = 'Healthy') =>
  fleet.argocd.script(`${env}-addons`, [
    { sync: 'Synced', health: 'Progressing', polls: 4 },
    end === 'Healthy'
      ? { sync: 'Synced', health: 'Healthy' }
      : { health: 'Degraded', message: 'Back-off restarting failed container' },
  ])

const byResult = (outcomes: readonly EnvironmentOutcome[], result: string) =>
  outcomes
    .filter((o) => o.result === result)
    .map((o) => o.environment)
    .sort()

const SECOND_WAVE = ['ap-prod-1', 'eu-prod-2', 'us-prod-1', 'us-prod-2']

describe('waves: acceptance', () => {
  it('waves run in order: the second wave syncs only after the canary has baked', async () => {
    const from = fleet.argocd.requests.length
    const syncsFrom = fleet.argocd.syncs.length
    const result = await run('writer', '.promote testing')
    expect(result.decision, result.reason).toBe('deployed')
    const requests = fleet.argocd.requests.slice(from)
    const canaryLooks = requests
      .map((r, i) => (r.method === 'GET' && r.path.endsWith('/eu-test-1-addons') ? i : -1))
      .filter((i) => i >= 0)
    const syncOf = (app: string) =>
      requests.findIndex((r) => r.method === 'POST' && r.path.endsWith(`/${app}/sync`))
    expect(syncOf('eu-test-1-addons')).toBeGreaterThanOrEqual(0)
    for (const app of ['ap-test-1-addons', 'us-test-1-addons'])
      expect(syncOf(app), app).toBeGreaterThan(Math.max(...canaryLooks))
    expect(deployedSince(syncsFrom)[0]).toBe('eu-test-1')
    expect(deployedSince(syncsFrom).slice(1).sort()).toEqual(['ap-test-1', 'us-test-1'])
  })

  it('maxParallel: 2 is reached and never exceeded; a manual stage stops after its failed wave', async () => {
    fleet.gh.review(FULL_NAME, fleet.parent, {
      user: fleet.users.approver.login,
      state: 'APPROVED',
      commitId: fleet.headSha,
    })
    const first = await run('maintainer', '.promote production')
    expect(first.decision, first.reason).toBe('deployed')
    expect(state('eu-prod-1')).toBe('success')

    for (const env of SECOND_WAVE) slow(env, env === 'us-prod-2' ? 'Degraded' : 'Healthy')
    const from = fleet.argocd.syncs.length
    const second = await run('maintainer', '.promote production')
    expect(second.decision).toBe('failed')
    expect(deployedSince(from)).not.toContain('eu-prod-1')
    expect(deployedSince(from)).toContain('us-prod-2')
    expect(maxRunning(from)).toBe(2)
    expect(state('us-prod-2')).toBe('failure')
  })

  it('the next command continues where the manual stage stopped: only what did not succeed deploys', async () => {
    const unfinished = SECOND_WAVE.filter((env) => state(env) !== 'success')
    expect(unfinished).toContain('us-prod-2')
    const from = fleet.argocd.syncs.length
    const third = await run('maintainer', '.promote production')
    expect(third.decision, third.reason).toBe('deployed')
    expect(deployedSince(from).sort()).toEqual(unfinished)
    expect(maxRunning(from)).toBeLessThanOrEqual(2)
    expect(byResult(third.environments, 'success')).toEqual(unfinished)
    for (const env of ['eu-prod-1', ...SECOND_WAVE]) expect(state(env), env).toBe('success')
  })

  it('a re-run after success changes nothing: no sync, no ref, status or deployment written, only the reply', async () => {
    const before = await fleet.snapshot()
    const ghFrom = fleet.gh.requests.length
    const argoFrom = fleet.argocd.requests.length
    for (const [user, command] of [
      ['maintainer', '.promote production'],
      ['writer', '.promote testing'],
    ] as const) {
      const again = await run(user, command)
      expect(again.decision, again.reason).toBe('done')
      expect(again.reason).toMatch(/^already deployed/)
    }
    expect(await fleet.snapshot()).toEqual(before)
    expect(fleet.argocd.requests.slice(argoFrom).filter((r) => r.method !== 'GET')).toEqual([])
    const writes = fleet.gh.requests
      .slice(ghFrom)
      // A fetch is a POST to git-upload-pack, and reads; a push (git-receive-pack) would count.
      .filter((r) => !['GET', 'HEAD'].includes(r.method) && !r.route.endsWith('/git-upload-pack'))
      .map((r) => r.route)
    // The two commands themselves (the test posts them) and their replies and reactions.
    expect(new Set(writes)).toEqual(
      new Set([
        'POST /repos/{owner}/{repo}/issues/{issue_number}/comments',
        'POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions',
      ]),
    )
  })
})
