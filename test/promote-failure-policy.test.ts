// The failure policy of a stage on the simulators: testing fails fast (the
// default) and rolls a failed environment back to its WET branch (the default
// with Argo CD); production goes on past failures up to maxFailures and, with
// rollback off, leaves a failed cluster on its child, lock and all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { promote } from '../actions/promote/promote.js'
import { branchTip } from '../actions/lib/github/git-data.js'
import {
  fleetConfig,
  FULL_NAME,
  REPO,
  startPromoteFleet,
  type PromoteFleet,
  endPromoteFleet,
} from './support/promote-fleet.js'

let fleet: PromoteFleet

beforeAll(async () => {
  fleet = await startPromoteFleet({
    config: (url) =>
      fleetConfig(url)
        .replace('match: ["*-test-*"]', 'match: ["*-test-*"]\n    maxParallel: 1')
        .replace(
          'permission: maintain',
          'permission: maintain\n    maxParallel: 1\n    failFast: false\n    maxFailures: 2\n    rollback: false',
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

async function locked(): Promise<string[]> {
  const refs = await fleet.work.lsRemote(fleet.gh.remoteUrl(FULL_NAME), [
    'refs/heads/fleet-promote-lock/*',
  ])
  return [...refs.keys()].map((ref) => ref.replace('refs/heads/fleet-promote-lock/', '')).sort()
}

const degraded = (application: string) =>
  fleet.argocd.script(application, [
    { health: 'Degraded', message: 'Back-off restarting failed container' },
  ])

const syncedSince = (from: number) =>
  fleet.argocd.syncs.slice(from).map((s) => `${s.application}@${s.targetRevision}`)

describe('failure policy', () => {
  it('failFast: the first failed environment stops the stage and is rolled back; the cluster runs its WET branch again', async () => {
    degraded('eu-test-1-addons')
    const from = fleet.argocd.syncs.length
    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.promote testing'),
    )
    expect(result.decision).toBe('failed')
    expect(result.reason).toMatch(
      /eu-test-1: rolled back to env\/eu-test-1; Argo CD: health Degraded/,
    )
    // One at a time: ap-test-1 succeeds, eu-test-1 fails and goes back, us-test-1 never starts.
    expect(syncedSince(from).slice(1)).toEqual([
      `eu-test-1-addons@fleet-promote/pr-${fleet.parent}/eu-test-1`,
      'eu-test-1-addons@env/eu-test-1',
    ])
    const byName = new Map(result.environments.map((e) => [e.environment, e]))
    expect(byName.get('ap-test-1')?.result).toBe('success')
    expect(byName.get('us-test-1')?.result).toBe('skipped')
    expect(byName.get('us-test-1')?.detail).toBe(
      'not deployed: the stage stopped after 1 failed environment (failFast)',
    )
    expect(status('eu-test-1')?.description).toMatch(/^rolled back to env\/eu-test-1; Argo CD: /)
    expect(result.reply).toContain('rolled back to env/eu-test-1')
    // What Argo CD runs: the WET branch at its tip, Synced and Healthy.
    const app = fleet.argocd.getApplication('eu-test-1-addons')!
    const wetTip = await branchTip(fleet.admin, REPO, 'env/eu-test-1')
    expect(app.spec.source?.targetRevision).toBe('env/eu-test-1')
    expect(app.status?.sync?.status).toBe('Synced')
    expect(app.status?.sync?.revision).toBe(wetTip)
    expect(app.status?.health?.status).toBe('Healthy')
    expect(await locked()).toEqual(['ap-test-1'])
  })

  it('a re-run deploys the stage', async () => {
    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.promote testing'),
    )
    expect(result.decision, result.reason).toBe('deployed')
  })

  it('failFast: false goes on up to maxFailures; rollback: false leaves failed clusters on their child with their locks', async () => {
    fleet.gh.review(FULL_NAME, fleet.parent, {
      user: fleet.users.approver.login,
      state: 'APPROVED',
      commitId: fleet.headSha,
    })
    degraded('eu-prod-1-addons')
    degraded('eu-prod-2-addons')
    const from = fleet.argocd.syncs.length
    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.maintainer, '.promote production'),
    )
    expect(result.decision).toBe('failed')
    const child = (env: string) => `fleet-promote/pr-${fleet.parent}/${env}`
    expect(syncedSince(from)).toEqual([
      `ap-prod-1-addons@${child('ap-prod-1')}`,
      `eu-prod-1-addons@${child('eu-prod-1')}`,
      `eu-prod-2-addons@${child('eu-prod-2')}`,
    ])
    const byName = new Map(result.environments.map((e) => [e.environment, e]))
    expect(byName.get('ap-prod-1')?.result).toBe('success')
    expect(byName.get('eu-prod-1')?.detail).toMatch(
      /^left on the child \(rollback: false\); Argo CD: health Degraded/,
    )
    for (const env of ['us-prod-1', 'us-prod-2'])
      expect(byName.get(env)?.detail).toBe(
        'not deployed: the stage stopped after 2 failed environments (maxFailures: 2)',
      )
    expect(fleet.argocd.getApplication('eu-prod-1-addons')?.spec.source?.targetRevision).toBe(
      child('eu-prod-1'),
    )
    expect((await locked()).filter((env) => env.includes('-prod-'))).toEqual([
      'ap-prod-1',
      'eu-prod-1',
      'eu-prod-2',
    ])
  })
})
