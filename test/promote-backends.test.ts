// The merge and external backends, chosen per stage.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PIPELINE_CONTEXT, setAggregateStatus } from '../actions/lib/aggregate.js'
import { promote } from '../actions/promote/promote.js'
import { expectGolden, normalizeReply } from './support/promote-golden.js'
import {
  fleetConfig,
  FULL_NAME,
  REPO,
  startPromoteFleet,
  type PromoteFleet,
} from './support/promote-fleet.js'

let fleet: PromoteFleet

beforeAll(async () => {
  fleet = await startPromoteFleet({
    config: (url) =>
      fleetConfig(url)
        .replace('match: ["*-test-*"]', 'match: ["*-test-*"]\n    backend: merge')
        .replace(
          'permission: maintain',
          'permission: maintain\n    backend: external\n    production: true',
        )
        .concat('\n  external:\n    system: Kargo\n  deployments: per-environment\n'),
  })
})

afterAll(async () => {
  expect(fleet.gh.validationErrors).toEqual([])
  await fleet.cleanup()
})

const lastReply = () => fleet.gh.state.comments(FULL_NAME, fleet.parent).at(-1)?.body ?? ''

const status = (env: string) =>
  fleet.gh.state
    .latestStatuses(FULL_NAME, fleet.headSha)
    .find((s) => s.context === `fleet-promote/${env}`)

const deploymentsOf = (environments: string[]) =>
  fleet.gh.state
    .deployments(FULL_NAME)
    .filter((d) => environments.includes(d.environment))
    .sort((a, b) => a.environment.localeCompare(b.environment))
    .map((d) => ({
      environment: d.environment,
      sha: d.sha,
      production: d.productionEnvironment,
      states: d.statuses.map((s) => s.state),
    }))

describe('deploy backends', () => {
  it("merge: lands the stage's child PRs on their WET branches in one push, GitHub marks them merged", async () => {
    fleet.gh.resetRequests()
    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.promote testing'),
    )
    expect(result.decision, result.reason).toBe('deployed')
    for (const env of ['ap-test-1', 'eu-test-1', 'us-test-1']) {
      const child = fleet.gh.state
        .pulls(FULL_NAME)
        .find((p) => p.headRef === `fleet-promote/pr-${fleet.parent}/${env}`)
      expect(child?.merged).toBe(true)
      // A fast-forward: the WET branch is the child's head, the pusher merged it.
      expect(fleet.gh.state.refSha(FULL_NAME, `env/${env}`)).toBe(child?.headSha)
      expect(child?.mergeCommitSha).toBe(child?.headSha)
      expect(child?.mergedBy).toBe(fleet.gh.adminLogin)
      expect(status(env)).toMatchObject({ state: 'success' })
      expect(status(env)?.description).toMatch(
        new RegExp(`^merged #${child?.number} into env/${env} at [0-9a-f]{7}$`),
      )
    }
    // The single-wave stage's locks and landing in ONE push (the locks are held), no merge call.
    expect(fleet.gh.routeCounts()['POST /{owner}/{repo}.git/git-receive-pack']).toBe(1)
    for (const env of ['ap-test-1', 'eu-test-1', 'us-test-1'])
      expect(fleet.gh.state.refSha(FULL_NAME, `fleet-promote-lock/${env}`)).toBeDefined()
    expect(fleet.gh.routeCounts()['PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge']).toBe(
      undefined,
    )
    // No Argo CD call for the merge backend.
    expect(fleet.argocd.requests.filter((r) => r.method !== 'GET')).toEqual([])
    // A GitHub deployment per environment on the parent head, not production (the stage says so).
    expect(deploymentsOf(['ap-test-1', 'eu-test-1', 'us-test-1'])).toEqual([
      {
        environment: 'ap-test-1',
        sha: fleet.headSha,
        production: false,
        states: ['in_progress', 'success'],
      },
      {
        environment: 'eu-test-1',
        sha: fleet.headSha,
        production: false,
        states: ['in_progress', 'success'],
      },
      {
        environment: 'us-test-1',
        sha: fleet.headSha,
        production: false,
        states: ['in_progress', 'success'],
      },
    ])
  })

  it('.status still shows the merged environments; repeating the promotion says they are deployed', async () => {
    const shown = await promote(fleet.settings(), fleet.comment(fleet.users.writer, '.status'))
    expect(shown.decision, shown.reason).toBe('done')
    expect(shown.reason).toMatch(
      new RegExp(
        `^8 environments impacted by #${fleet.parent} at [0-9a-f]{7}: 3 succeeded, 5 pending; 3 locked$`,
      ),
    )
    expect(shown.rows.map((row) => [row.environment, row.result])).toEqual([
      ['ap-test-1', 'success'],
      ['eu-test-1', 'success'],
      ['us-test-1', 'success'],
      ['ap-prod-1', 'pending'],
      ['eu-prod-1', 'pending'],
      ['eu-prod-2', 'pending'],
      ['us-prod-1', 'pending'],
      ['us-prod-2', 'pending'],
    ])
    const merged = shown.rows.find((row) => row.environment === 'eu-test-1')
    expect(merged?.detail).toMatch(
      /^child merged or closed; merged #\d+ into env\/eu-test-1 at [0-9a-f]{7} · 🔒 locked by #\d+ \(wendy, promoted by wendy\)$/,
    )
    await expectGolden('status-after-merge.md', normalizeReply(lastReply(), fleet))

    const again = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.promote testing'),
    )
    expect(again.decision, again.reason).toBe('done')
    expect(again.reason).toBe(
      `already deployed at ${fleet.headSha.slice(0, 7)}: ap-test-1, eu-test-1, us-test-1`,
    )
    expect(again.rows.map((row) => row.result)).toEqual([
      'already deployed',
      'already deployed',
      'already deployed',
    ])
    await expectGolden('repeat-merged.md', normalizeReply(lastReply(), fleet))
  })

  it('external: sets "waiting for Kargo" and lists the environments; the gate stays pending', async () => {
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
    expect(result.reason).toBe('handed 5 environments to Kargo')
    expect(result.environments.map((e) => e.result)).toEqual([
      'waiting',
      'waiting',
      'waiting',
      'waiting',
      'waiting',
    ])
    expect(status('eu-prod-1')).toMatchObject({
      state: 'pending',
      description: 'waiting for Kargo',
    })
    // Queued deployments for Kargo to finish; production from the stage's `production: true`.
    expect(deploymentsOf(['eu-prod-1', 'us-prod-2'])).toEqual(
      ['eu-prod-1', 'us-prod-2'].map((environment) => ({
        environment,
        sha: fleet.headSha,
        production: true,
        states: ['queued'],
      })),
    )
    const pipeline = () =>
      fleet.gh.state
        .latestStatuses(FULL_NAME, fleet.headSha)
        .find((s) => s.context === PIPELINE_CONTEXT)
    expect(pipeline()?.state).toBe('pending')
    // Kargo reports back through the status API; the aggregate follows.
    for (const env of ['ap-prod-1', 'eu-prod-1', 'eu-prod-2', 'us-prod-1', 'us-prod-2']) {
      await fleet.admin.rest.repos.createCommitStatus({
        ...REPO,
        sha: fleet.headSha,
        context: `fleet-promote/${env}`,
        state: 'success',
      })
    }
    await setAggregateStatus(fleet.admin, REPO, { sha: fleet.headSha, parent: fleet.parent })
    expect(pipeline()?.state).toBe('success')
  })
})
