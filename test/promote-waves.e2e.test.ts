// Waves end to end: the promote bundle (dist/) as the runner starts it, against
// the GitHub and Argo CD simulators. Testing runs its waves in one command and
// stops at a failed canary; production is `waveMode: manual`, one wave per
// command, at most two environments syncing at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runAction } from './support/runner.js'
import {
  fleetConfig,
  FULL_NAME,
  promoteActionInputs,
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
          'match: ["*-test-*"]\n    waves: [eu-test-1]\n    maxParallel: 1',
        )
        .replace(
          'permission: maintain',
          'permission: maintain\n    waves: [eu-prod-1, "eu-prod-*"]\n    waveMode: manual\n    maxParallel: 2',
        ),
  })
})

afterAll(async () => {
  await endPromoteFleet(fleet)
})

async function command(user: keyof PromoteFleet['users'], body: string) {
  const { event } = fleet.gh.comment(FULL_NAME, fleet.parent, {
    user: fleet.users[user].login,
    body,
  })
  const result = await runAction('promote', {
    github: fleet.gh,
    eventName: 'issue_comment',
    event,
    inputs: promoteActionInputs(fleet),
  })
  await result.cleanup()
  expect(result.exitCode === 0 || result.outputs.decision === 'failed', result.stderr).toBe(true)
  const environments = JSON.parse(result.outputs.environments ?? '[]') as {
    name: string
    result: string
  }[]
  const reply = fleet.gh.state.comments(FULL_NAME, fleet.parent).at(-1)?.body ?? ''
  return {
    decision: result.outputs.decision,
    reason: result.outputs.reason ?? '',
    environments,
    reply,
  }
}

/** A stage's rows of a reply's table, in order: `<environment> <wave>`. */
const waveColumn = (reply: string, stage: string) =>
  [...reply.matchAll(new RegExp(`^\\| \`([^\`]+)\` \\| ${stage} \\| ([^|]+) \\|`, 'gm'))].map(
    ([, env, wave]) => `${env} ${wave?.trim()}`,
  )

/** The applications synced since `from`, in order. */
const syncedSince = (from: number) =>
  fleet.argocd.syncs.slice(from).map((sync) => sync.application.replace(/-addons$/, ''))

const state = (env: string) =>
  fleet.gh.state
    .latestStatuses(FULL_NAME, fleet.headSha)
    .find((s) => s.context === `fleet-promote/${env}`)?.state

describe('waves', () => {
  it('a failed first wave stops the stage: the second never syncs', async () => {
    fleet.argocd.script('eu-test-1-addons', [
      { health: 'Degraded', message: 'Back-off restarting failed container' },
    ])
    const from = fleet.argocd.syncs.length
    const run = await command('writer', '.promote testing')
    expect(run.decision).toBe('failed')
    // The canary syncs its child, then is restored to its WET branch (a
    // failed deploy never leaves a cluster on a child); nothing else syncs.
    expect(syncedSince(from)).toEqual(['eu-test-1', 'eu-test-1'])
    expect(fleet.argocd.syncs.slice(from).map((sync) => sync.targetRevision)).toEqual([
      `fleet-promote/pr-${fleet.parent}/eu-test-1`,
      'env/eu-test-1',
    ])
    expect(run.environments).toEqual([
      expect.objectContaining({ name: 'eu-test-1', result: 'failure' }),
      expect.objectContaining({ name: 'ap-test-1', result: 'skipped' }),
      expect.objectContaining({ name: 'us-test-1', result: 'skipped' }),
    ])
    expect(run.reply).toContain('not deployed: wave 1 (eu-test-1) did not succeed')
    expect(run.reply).toContain('❌ wave 1 (eu-test-1) of 2: failed, 0/1 succeeded, 1 failed')
    expect(waveColumn(run.reply, 'testing')).toEqual([
      'eu-test-1 1 of 2',
      'ap-test-1 2 of 2',
      'us-test-1 2 of 2',
    ])
    expect(state('eu-test-1')).toBe('failure')
    expect(state('ap-test-1')).toBe('pending')
  })

  it('the next command retries the failed wave, then runs the rest one at a time', async () => {
    const from = fleet.argocd.syncs.length
    const run = await command('writer', '.promote testing')
    expect(run.decision, run.reason).toBe('deployed')
    expect(syncedSince(from)).toEqual(['eu-test-1', 'ap-test-1', 'us-test-1'])
    expect(Math.max(...fleet.argocd.syncs.slice(from).map((sync) => sync.running))).toBe(1)
    for (const env of ['eu-test-1', 'ap-test-1', 'us-test-1']) expect(state(env)).toBe('success')
    expect(run.reply).toContain('✅ wave 2 (the rest) of 2: done, 2/2 succeeded')
  })

  it('a re-run after success changes nothing', async () => {
    const from = fleet.argocd.syncs.length
    const run = await command('writer', '.promote testing')
    expect(run.decision).toBe('done')
    expect(run.reason).toMatch(/^already deployed/)
    expect(syncedSince(from)).toEqual([])
  })

  it('manual waves: each .promote production deploys the next wave, at most two at once', async () => {
    fleet.gh.review(FULL_NAME, fleet.parent, {
      user: fleet.users.approver.login,
      state: 'APPROVED',
      commitId: fleet.headSha,
    })
    const from = fleet.argocd.syncs.length
    const first = await command('maintainer', '.promote production')
    expect(first.decision, first.reason).toBe('deployed')
    expect(first.reason).toMatch(/deployed 1 environment .*; 4 wait for the next wave/)
    expect(syncedSince(from)).toEqual(['eu-prod-1'])
    const queued = first.environments.filter((e) => e.result === 'queued').map((e) => e.name)
    expect(queued.sort()).toEqual(['ap-prod-1', 'eu-prod-2', 'us-prod-1', 'us-prod-2'])
    expect(first.reply).toContain('▶️ wave 2 (eu-prod-*) of 3: next (next command), 0/1 succeeded')
    // The promote reply's table as .status's: wave order, a Wave column.
    expect(waveColumn(first.reply, 'production')).toEqual([
      'eu-prod-1 1 of 3',
      'eu-prod-2 2 of 3',
      'ap-prod-1 3 of 3',
      'us-prod-1 3 of 3',
      'us-prod-2 3 of 3',
    ])
    expect(state('eu-prod-2')).toBe('pending')

    const status = await command('writer', '.status')
    expect(status.reply).toContain(
      '**Waves of production**: 1 of 3 waves done, wave 2 (eu-prod-*) next (next command)',
    )
    expect(status.reply).toContain('✅ wave 1 (eu-prod-1) of 3: done, 1/1 succeeded')
    expect(status.reply).toContain('⏸️ wave 3 (the rest) of 3: waiting, 0/3 succeeded')
    // The production rows in wave order, each with its wave.
    expect(waveColumn(status.reply, 'production')).toEqual([
      'eu-prod-1 1 of 3',
      'eu-prod-2 2 of 3',
      'ap-prod-1 3 of 3',
      'us-prod-1 3 of 3',
      'us-prod-2 3 of 3',
    ])

    const second = await command('maintainer', '.promote production')
    expect(second.decision, second.reason).toBe('deployed')
    expect(syncedSince(from)).toEqual(['eu-prod-1', 'eu-prod-2'])

    const third = await command('maintainer', '.promote production')
    expect(third.decision, third.reason).toBe('deployed')
    const last = fleet.argocd.syncs.slice(from + 2)
    expect(last.map((sync) => sync.application).sort()).toEqual([
      'ap-prod-1-addons',
      'us-prod-1-addons',
      'us-prod-2-addons',
    ])
    expect(Math.max(...last.map((sync) => sync.running))).toBeLessThanOrEqual(2)
    for (const env of ['ap-prod-1', 'eu-prod-1', 'eu-prod-2', 'us-prod-1', 'us-prod-2'])
      expect(state(env)).toBe('success')

    const again = await command('maintainer', '.promote production')
    expect(again.decision).toBe('done')
    expect(fleet.argocd.syncs.length).toBe(from + 5)
  })
})
