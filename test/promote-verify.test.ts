// Verification before success on the simulators: testing deploys a canary
// wave (eu-test-1) before the rest, and every environment must stay Synced
// and Healthy for a bake time before it counts as succeeded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { promote } from '../actions/promote/promote.js'
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
      fleetConfig(url).replace(
        'match: ["*-test-*"]',
        'match: ["*-test-*"]\n    waves: [eu-test-1]\n    bakeSeconds: 0.2',
      ),
  })
})

afterAll(async () => {
  await endPromoteFleet(fleet)
})

const status = (env: string) =>
  fleet.gh.state
    .latestStatuses(FULL_NAME, fleet.headSha)
    .find((s) => s.context === `fleet-promote/${env}`)

const canaryGets = (from: number) =>
  fleet.argocd.requests
    .slice(from)
    .filter((r) => r.method === 'GET' && r.path.endsWith('/applications/eu-test-1-addons')).length

describe('bakeSeconds', () => {
  it('a Degraded seen during the bake fails the canary: the rest never syncs, the canary runs its WET branch again', async () => {
    // The sync succeeds and the Application turns Healthy, then degrades a few looks later.
    fleet.argocd.script('eu-test-1-addons', [
      { sync: 'Synced', health: 'Progressing' },
      { sync: 'Synced', health: 'Healthy', phase: 'Succeeded', polls: 3 },
      { health: 'Degraded', message: 'Back-off restarting failed container' },
    ])
    const from = fleet.argocd.syncs.length
    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.promote testing'),
    )
    expect(result.decision).toBe('failed')
    const canary = result.environments.find((e) => e.environment === 'eu-test-1')
    expect(canary?.result).toBe('failure')
    expect(canary?.detail).toMatch(
      /^rolled back to env\/eu-test-1; eu-test-1-addons failed its 0\.2 s bake after 0\.\d s: health Degraded: .*Back-off restarting failed container$/,
    )
    expect(status('eu-test-1')?.state).toBe('failure')
    expect(status('eu-test-1')?.description).toMatch(
      /^rolled back to env\/eu-test-1; eu-test-1-addons failed its 0\.2 s bake/,
    )
    expect(fleet.argocd.syncs.slice(from).map((s) => s.targetRevision)).toEqual([
      `fleet-promote/pr-${fleet.parent}/eu-test-1`,
      'env/eu-test-1',
    ])
    expect(fleet.argocd.getApplication('eu-test-1-addons')?.spec.source?.targetRevision).toBe(
      'env/eu-test-1',
    )
    expect(status('us-test-1')?.state).toBe('pending')
  })

  it('an environment that stays Healthy for the bake succeeds, looked at through the bake', async () => {
    const requestsFrom = fleet.argocd.requests.length
    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.promote testing'),
    )
    expect(result.decision, result.reason).toBe('deployed')
    for (const env of ['ap-test-1', 'eu-test-1', 'us-test-1']) {
      expect(status(env)?.state).toBe('success')
      expect(status(env)?.description).toMatch(
        /Synced and Healthy at [0-9a-f]{7}, Healthy for 0\.2 s$/,
      )
    }
    // 0.2 s at a 20 ms poll: the bake looked at the Application several times after the wait did.
    expect(canaryGets(requestsFrom)).toBeGreaterThan(5)
  })
})
