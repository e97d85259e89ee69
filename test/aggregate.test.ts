import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { computeAggregate, PIPELINE_CONTEXT, setAggregateStatus } from '../actions/lib/aggregate.js'
import { actionBundles, type ActionBundles } from './support/bundles.js'
import { runAction } from './support/runner.js'
import { webhookExampleFor } from './support/webhook-examples.js'
import { FULL_NAME, REPO, startPromoteFleet, type PromoteFleet } from './support/promote-fleet.js'

const s = (context: string, state: string, description = '') => ({ context, state, description })

describe('computeAggregate', () => {
  it('is success only when every impacted environment succeeded', () => {
    const result = computeAggregate(
      [s('fleet-promote/a', 'success'), s('fleet-promote/b', 'success')],
      ['a', 'b'],
    )
    expect(result).toMatchObject({ state: 'success', description: 'all 2 environments succeeded' })
  })

  it('is failure when any environment failed or errored', () => {
    expect(
      computeAggregate(
        [s('fleet-promote/a', 'success'), s('fleet-promote/b', 'error')],
        ['a', 'b'],
      ),
    ).toMatchObject({
      state: 'failure',
      description: 'failed: b (1/2 succeeded)',
    })
    expect(
      computeAggregate(
        [s('fleet-promote/a', 'failure'), s('fleet-promote/b', 'pending')],
        ['a', 'b'],
      ).state,
    ).toBe('failure')
  })

  it('counts missing and unknown states as pending, never success (fail closed)', () => {
    const result = computeAggregate(
      [s('fleet-promote/a', 'success'), s('fleet-promote/b', 'neutral')],
      ['a', 'b', 'c'],
    )
    expect(result.state).toBe('pending')
    expect(result.description).toBe('1/3 succeeded; waiting for b, c')
    expect(result.environments.find((e) => e.name === 'c')).toMatchObject({
      state: 'pending',
      description: 'no status yet',
    })
  })

  it('takes the first (newest) status per context and never reads its own context', () => {
    const statuses = [
      s('fleet-promote/a', 'failure'),
      s('fleet-promote/a', 'success'),
      s(PIPELINE_CONTEXT, 'success'),
    ]
    expect(computeAggregate(statuses, ['a']).state).toBe('failure')
    // A green pipeline status does not make anything green.
    expect(computeAggregate([s(PIPELINE_CONTEXT, 'success')], ['pipeline']).state).toBe('pending')
  })

  it('keeps descriptions within 140 characters', () => {
    const names = Array.from({ length: 40 }, (_, i) => `environment-with-a-long-name-${i}`)
    const result = computeAggregate([], names)
    expect(result.description.length).toBeLessThanOrEqual(140)
    expect(result.description).toMatch(/^0\/40 succeeded; waiting for /)
  })

  it('is success for an empty impacted set (the caller decides whether that set is known)', () => {
    expect(computeAggregate([], []).state).toBe('success')
  })
})

describe('aggregate-status against the simulator', () => {
  let fleet: PromoteFleet
  // The bundle, as a runner runs it: the real status, check_run and check_suite payloads go through it.
  let bundles: ActionBundles

  beforeAll(async () => {
    fleet = await startPromoteFleet()
    bundles = await actionBundles(['aggregate-status'])
  })

  afterAll(async () => {
    expect(fleet.gh.validationErrors).toEqual([])
    await fleet.cleanup()
    await bundles.cleanup()
  })

  const pipeline = (sha = fleet.headSha) =>
    fleet.gh.state
      .latestStatuses(FULL_NAME, sha)
      .find((status) => status.context === PIPELINE_CONTEXT)

  async function run(
    eventName: string,
    event: Record<string, unknown>,
    inputs: Record<string, string> = {},
  ) {
    const result = await runAction('aggregate-status', {
      github: fleet.gh,
      eventName,
      event,
      distDir: bundles.distDir,
      inputs: { token: fleet.gh.adminToken, sha: '', pr: '', environments: '', ...inputs },
    })
    await result.cleanup()
    expect(result.exitCode, result.stderr + result.stdout).toBe(0)
    return result
  }

  it('sets pending from the per-environment statuses on a status event for the parent head', async () => {
    const event = fleet.gh.statusEvent(FULL_NAME, fleet.headSha, 'fleet-promote/eu-test-1')
    const result = await run('status', event)
    expect(result.outputs.state).toBe('pending')
    expect(pipeline()).toMatchObject({
      state: 'pending',
      description:
        '0/8 succeeded; waiting for ap-prod-1, ap-test-1, eu-prod-1, eu-prod-2, eu-test-1, us-prod-1 and 2 more',
    })
  })

  it('does nothing for a status on a SHA that is no open parent head', async () => {
    const before = fleet.gh.state.statuses(FULL_NAME).length
    const child = fleet.gh.state
      .pulls(FULL_NAME)
      .find((p) => p.headRef.startsWith('fleet-promote/pr-'))!
    await fleet.admin.rest.repos.createCommitStatus({
      ...REPO,
      sha: child.headSha,
      context: 'fleet-promote/eu-test-1',
      state: 'success',
    })
    const result = await run(
      'status',
      fleet.gh.statusEvent(FULL_NAME, child.headSha, 'fleet-promote/eu-test-1'),
    )
    expect(result.outputs.state).toBe('skipped')
    expect(result.outputs.description).toMatch(
      /no open parent pull request has [0-9a-f]{7} as its head/,
    )
    expect(fleet.gh.state.statuses(FULL_NAME)).toHaveLength(before + 1)
  })

  it('ignores status events of its own context', async () => {
    const before = fleet.gh.state.statuses(FULL_NAME).length
    const result = await run(
      'status',
      fleet.gh.statusEvent(FULL_NAME, fleet.headSha, PIPELINE_CONTEXT),
    )
    expect(result.outputs.state).toBe('skipped')
    expect(fleet.gh.state.statuses(FULL_NAME)).toHaveLength(before)
  })

  it('turns success when every environment succeeded, and failure when one fails', async () => {
    for (const env of [
      'ap-test-1',
      'eu-test-1',
      'us-test-1',
      'ap-prod-1',
      'eu-prod-1',
      'eu-prod-2',
      'us-prod-1',
      'us-prod-2',
    ]) {
      await fleet.admin.rest.repos.createCommitStatus({
        ...REPO,
        sha: fleet.headSha,
        context: `fleet-promote/${env}`,
        state: 'success',
      })
    }
    const ok = await run('workflow_dispatch', fleet.gh.workflowDispatchEvent(FULL_NAME, 'main'), {
      pr: String(fleet.parent),
    })
    expect(ok.outputs.state).toBe('success')
    expect(pipeline()?.state).toBe('success')
    await fleet.admin.rest.repos.createCommitStatus({
      ...REPO,
      sha: fleet.headSha,
      context: 'fleet-promote/eu-prod-2',
      state: 'failure',
      description: 'Degraded',
    })
    const failed = await run(
      'status',
      fleet.gh.statusEvent(FULL_NAME, fleet.headSha, 'fleet-promote/eu-prod-2'),
    )
    expect(failed.outputs.state).toBe('failure')
    expect(pipeline()).toMatchObject({
      state: 'failure',
      description: 'failed: eu-prod-2 (7/8 succeeded)',
    })
  })

  it('keeps the gate pending when an open child has no status on a new head', async () => {
    const moved = await fleet.moveHead()
    const result = await setAggregateStatus(fleet.admin, REPO, { sha: moved, parent: fleet.parent })
    expect(result).toMatchObject({ written: true, state: 'pending' })
    expect(pipeline(moved)?.state).toBe('pending')
  })

  it('follows check_run and check_suite events to the parent whose head they ran on', async () => {
    const head = fleet.gh.state.pull(FULL_NAME, fleet.parent).headSha
    for (const name of ['check_run', 'check_suite'] as const) {
      const checks = (sha: string) =>
        webhookExampleFor(name, 'completed', FULL_NAME, (payload) => {
          const key = name === 'check_run' ? payload.check_run : payload.check_suite
          Object.assign(key as object, { head_sha: sha })
        })
      const current = await run(name, checks(head))
      expect(current.outputs.state, name).toBe('pending')
      expect(pipeline(head)?.state).toBe('pending')
      // The old head is no parent's head any more.
      const stale = await run(name, checks(fleet.headSha))
      expect(stale.outputs.state, name).toBe('skipped')
    }
  })

  it('skips a CI status of another context without a write (a real status payload)', async () => {
    const head = fleet.gh.state.pull(FULL_NAME, fleet.parent).headSha
    const before = fleet.gh.state.statuses(FULL_NAME).length
    const event = webhookExampleFor('status', undefined, FULL_NAME, (payload) => {
      Object.assign(payload, { sha: head })
    })
    expect(event.context).toBe('default')
    const result = await run('status', event)
    expect(result.outputs).toMatchObject({
      state: 'skipped',
      description:
        "status default is not fleet-promote's; the gate reads only fleet-promote/<environment>",
    })
    expect(fleet.gh.state.statuses(FULL_NAME)).toHaveLength(before)
  })

  it('sets nothing while nothing is known about a commit', async () => {
    const main = fleet.gh.state.refSha(FULL_NAME, 'refs/heads/main')!
    const result = await setAggregateStatus(fleet.admin, REPO, { sha: main })
    expect(result.written).toBe(false)
    expect(pipeline(main)).toBeUndefined()
    // open-child-prs knows an empty impact: then the gate is green.
    const known = await setAggregateStatus(fleet.admin, REPO, { sha: main, impacted: [] })
    expect(known).toMatchObject({
      written: true,
      state: 'success',
      description: 'no environment impacted',
    })
  })
})
