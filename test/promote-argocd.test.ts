// Argo CD going wrong: a Degraded rollout, a sync that never converges, and
// an API answering 500 each fail their environment with Argo CD's reason,
// turn the gate red, give back the locks of the failed environments, and a
// re-run after Argo CD recovers succeeds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PIPELINE_CONTEXT } from '../actions/lib/aggregate.js'
import { promote } from '../actions/promote/promote.js'
import {
  FULL_NAME,
  startPromoteFleet,
  type PromoteFleet,
  endPromoteFleet,
} from './support/promote-fleet.js'
import { expectGolden, normalizeReply } from './support/promote-golden.js'

let fleet: PromoteFleet

beforeAll(async () => {
  fleet = await startPromoteFleet()
})

afterAll(async () => {
  await endPromoteFleet(fleet)
})

const status = (context: string) =>
  fleet.gh.state.latestStatuses(FULL_NAME, fleet.headSha).find((s) => s.context === context)

async function lockedEnvironments(): Promise<string[]> {
  const refs = await fleet.work.lsRemote(fleet.gh.remoteUrl(FULL_NAME), [
    'refs/heads/fleet-promote-lock/*',
  ])
  return [...refs.keys()].map((ref) => ref.replace('refs/heads/fleet-promote-lock/', '')).sort()
}

describe('Argo CD failures', () => {
  it('reports Degraded, timeout and HTTP 500 per environment and fails the gate', async () => {
    fleet.argocd.script('eu-test-1-addons', [
      { health: 'Progressing', polls: 2 },
      { health: 'Degraded', message: 'Back-off restarting failed container (CrashLoopBackOff)' },
    ])
    fleet.argocd.script('us-test-1-addons', [{ sync: 'Synced', health: 'Progressing' }])
    fleet.argocd.faults.add({ path: /ap-test-1-addons/, status: 500, times: Infinity })

    const trigger = fleet.comment(fleet.users.writer, '.promote testing')
    const result = await promote(fleet.settings(), trigger)
    expect(result.decision).toBe('failed')
    const byEnv = Object.fromEntries(result.environments.map((e) => [e.environment, e]))
    expect(byEnv['eu-test-1']).toMatchObject({ result: 'failure' })
    expect(byEnv['eu-test-1']?.detail).toMatch(/Degraded.*CrashLoopBackOff/)
    expect(byEnv['us-test-1']?.detail).toMatch(/timed out after 2 s/)
    expect(byEnv['ap-test-1']?.detail).toMatch(/HTTP 500/)

    for (const env of ['ap-test-1', 'eu-test-1', 'us-test-1']) {
      expect(status(`fleet-promote/${env}`)?.state).toBe('failure')
      expect(status(`fleet-promote/${env}`)?.description?.length).toBeLessThanOrEqual(140)
    }
    expect(status(`fleet-promote/eu-test-1`)?.description).toMatch(/Degraded/)
    expect(status(PIPELINE_CONTEXT)).toMatchObject({ state: 'failure' })
    expect(status(PIPELINE_CONTEXT)?.description).toMatch(
      /^failed: ap-test-1, eu-test-1, us-test-1/,
    )
    // Locks taken by the failed run went back, except where Argo CD could not say the cluster
    // left the child (every request for ap-test-1 answers 500): that lock stays, and the reply says so.
    expect(await lockedEnvironments()).toEqual(['ap-test-1'])
    expect(result.reason).toMatch(/the locks of ap-test-1 stay/)
    expect(
      fleet.gh.state
        .reactions(trigger.kind === 'comment' ? trigger.commentId : 0)
        .map((r) => r.content),
    ).toEqual(['eyes', 'confused'])
    const reply = fleet.gh.state.comments(FULL_NAME, fleet.parent).at(-1)?.body ?? ''
    await expectGolden('argocd-failures.md', normalizeReply(reply, fleet))
  })

  it('succeeds when re-run after Argo CD recovered, reusing the deployments', async () => {
    fleet.argocd.faults.clear()
    const deploymentsBefore = fleet.gh.state.deployments(FULL_NAME).length
    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.promote testing'),
    )
    expect(result.decision, result.reason).toBe('deployed')
    for (const env of ['ap-test-1', 'eu-test-1', 'us-test-1'])
      expect(status(`fleet-promote/${env}`)?.state).toBe('success')
    // Production is still to come: the gate waits.
    expect(status(PIPELINE_CONTEXT)?.state).toBe('pending')
    expect(fleet.gh.state.deployments(FULL_NAME)).toHaveLength(deploymentsBefore)
    expect(await lockedEnvironments()).toEqual(['ap-test-1', 'eu-test-1', 'us-test-1'])
  })

  it('runs .promote all stage by stage and skips production when testing fails in the same run', async () => {
    fleet.gh.review(FULL_NAME, fleet.parent, {
      user: fleet.users.approver.login,
      state: 'APPROVED',
      commitId: fleet.headSha,
    })
    // Testing already succeeded: make a testing environment fail this time.
    fleet.argocd.script('eu-test-1-addons', [{ health: 'Degraded', message: 'OOMKilled' }])
    const result = await promote(
      fleet.settings(),
      // --force: testing succeeded in the run before; this run deploys it again, and it fails.
      fleet.comment(fleet.users.maintainer, '.promote all --force'),
    )
    expect(result.decision).toBe('failed')
    const production = result.environments.filter((e) => e.stage === 'production')
    expect(production.map((e) => e.result)).toEqual([
      'skipped',
      'skipped',
      'skipped',
      'skipped',
      'skipped',
    ])
    expect(production[0]?.detail).toBe('not deployed: testing did not succeed in this run')
    expect(fleet.argocd.getApplication('eu-prod-1-addons')?.spec.source?.targetRevision).toBe(
      'env/eu-prod-1',
    )
    // Production locks were taken for this run and given back. Testing locks were
    // held from the earlier successful run (the clusters still run this PR), so they stay.
    expect(await lockedEnvironments()).toEqual(['ap-test-1', 'eu-test-1', 'us-test-1'])
  })
})
