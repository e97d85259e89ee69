import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PIPELINE_CONTEXT } from '../actions/lib/aggregate.js'
import { promote } from '../actions/promote/promote.js'
import {
  ENVIRONMENTS,
  FULL_NAME,
  MULTI_SOURCE_ENV,
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

function latest(context: string) {
  return fleet.gh.state.latestStatuses(FULL_NAME, fleet.headSha).find((s) => s.context === context)
}

describe('happy path: .promote testing, then .promote production', () => {
  it('deploys testing through Argo CD and leaves the gate pending', async () => {
    const trigger = fleet.comment(fleet.users.writer, '.promote testing')
    const statusesBefore = fleet.gh.state.statuses(FULL_NAME, fleet.headSha).length
    const result = await promote(fleet.settings(), trigger)
    expect(result.decision, result.reason).toBe('deployed')
    expect(result.environments.map((e) => [e.environment, e.result])).toEqual([
      ['ap-test-1', 'success'],
      ['eu-test-1', 'success'],
      ['us-test-1', 'success'],
    ])
    // Already pending from open-child-prs: no "deploying" status, only the verdict.
    const written = fleet.gh.state.statuses(FULL_NAME, fleet.headSha).slice(statusesBefore)
    expect(
      written
        .filter((s) => s.context !== PIPELINE_CONTEXT)
        .map((s) => `${s.context}=${s.state}`)
        .sort(),
    ).toEqual([
      'fleet-promote/ap-test-1=success',
      'fleet-promote/eu-test-1=success',
      'fleet-promote/us-test-1=success',
    ])
    for (const env of ENVIRONMENTS.filter((e) => e.stage === 'testing')) {
      const app = fleet.argocd.getApplication(`${env.name}-addons`)
      const revision =
        env.name === MULTI_SOURCE_ENV
          ? app?.spec.sources?.[1]?.targetRevision
          : app?.spec.source?.targetRevision
      expect(revision).toBe(`fleet-promote/pr-${fleet.parent}/${env.name}`)
      expect(latest(`fleet-promote/${env.name}`)?.state).toBe('success')
    }
    // The chart source of the multi-source Application is untouched.
    expect(
      fleet.argocd.getApplication(`${MULTI_SOURCE_ENV}-addons`)?.spec.sources?.[0]?.targetRevision,
    ).toBe('v1.16.0')
    expect(fleet.argocd.getApplication('eu-prod-1-addons')?.spec.source?.targetRevision).toBe(
      'env/eu-prod-1',
    )
    expect(latest(PIPELINE_CONTEXT)?.state).toBe('pending')
    const deployments = fleet.gh.state.deployments(FULL_NAME)
    expect(deployments.map((d) => d.environment).sort()).toEqual([
      'ap-test-1',
      'eu-test-1',
      'us-test-1',
    ])
    for (const deployment of deployments) {
      expect(deployment.statuses.at(-1)?.state).toBe('success')
      expect(deployment.statuses.at(-1)?.environmentUrl).toBe(
        `${fleet.argocd.url}/applications/${deployment.environment}-addons`,
      )
    }
    const reactions = fleet.gh.state
      .reactions(trigger.kind === 'comment' ? trigger.commentId : 0)
      .map((r) => r.content)
    expect(reactions).toEqual(['eyes', 'rocket'])
    const replies = fleet.gh.state
      .comments(FULL_NAME, fleet.parent)
      .filter((c) => c.body.includes('fleet-promote:'))
    expect(replies).toHaveLength(1)
    await expectGolden('happy-testing.md', normalizeReply(replies[0]?.body ?? '', fleet))
  })

  it('answers a repeated promotion with "already deployed"; --force deploys again', async () => {
    const again = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.promote testing'),
    )
    expect(again.decision, again.reason).toBe('done')
    expect(again.reason).toBe(
      `already deployed at ${fleet.headSha.slice(0, 7)}: ap-test-1, eu-test-1, us-test-1 (add --force to deploy again)`,
    )
    const syncs = () => fleet.argocd.requests.filter((r) => r.path.endsWith('/sync')).length
    const before = syncs()
    const forced = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.promote eu-test-1 --force'),
    )
    expect(forced.decision, forced.reason).toBe('deployed')
    expect(forced.environments.map((e) => [e.environment, e.result])).toEqual([
      ['eu-test-1', 'success'],
    ])
    expect(syncs()).toBe(before + 1)
  })

  it('deploys production after an approval by a maintainer, and the gate turns green', async () => {
    fleet.gh.review(FULL_NAME, fleet.parent, {
      user: fleet.users.approver.login,
      state: 'APPROVED',
      commitId: fleet.headSha,
    })
    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.maintainer, '.promote production'),
    )
    expect(result.decision, result.reason).toBe('deployed')
    expect(result.environments).toHaveLength(5)
    for (const env of ENVIRONMENTS)
      expect(latest(`fleet-promote/${env.name}`)?.state).toBe('success')
    expect(latest(PIPELINE_CONTEXT)).toMatchObject({
      state: 'success',
      description: 'all 8 environments succeeded',
    })
    const replies = fleet.gh.state
      .comments(FULL_NAME, fleet.parent)
      .filter((c) => c.body.includes('fleet-promote:'))
    await expectGolden('happy-production.md', normalizeReply(replies.at(-1)?.body ?? '', fleet))
    // Locks stay with the PR until merge-cleanup.
    const locks = [
      ...(await fleet.work.lsRemote(fleet.gh.remoteUrl(FULL_NAME), [
        'refs/heads/fleet-promote-lock/*',
      ])),
    ]
    expect(locks).toHaveLength(8)
  })
})
