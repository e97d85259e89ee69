// examples/kargo/ against the GitHub and Argo CD simulators: fleet-promote's
// `external` backend hands environments to Kargo, the example's promotions
// (played by test/support/kargo/player.ts from the manifests) report on the
// parent's `fleet-promote/<environment>` statuses, and the real
// aggregate-status bundle turns them into the gate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PIPELINE_CONTEXT } from '../actions/lib/aggregate.js'
import { childBranch } from '../actions/lib/children.js'
import { createArgoCdClient } from '../actions/lib/argocd/client.js'
import { promote } from '../actions/promote/promote.js'
import {
  fleetConfig,
  FULL_NAME,
  REPO,
  startPromoteFleet,
  type PromoteFleet,
  endPromoteFleet,
} from './support/promote-fleet.js'
import { runAction } from './support/runner.js'
import {
  freightFromTag,
  KargoPlayer,
  loadKargoProject,
  type Freight,
  type PromotionRecord,
} from './support/kargo/player.js'
import {
  prepareForKargo,
  KARGO_EXAMPLE_DIR,
  KARGO_REPO_URL,
  simulatorVars,
} from './support/kargo/setup.js'

const TESTING = ['sdbx-eu1', 'eu-test-1', 'us-test-1']
const PRODUCTION = ['ap-prod-1', 'eu-prod-1', 'eu-prod-2', 'us-prod-1', 'us-prod-2']

let fleet: PromoteFleet
let player: KargoPlayer
let kargoToken: string

beforeAll(async () => {
  fleet = await startPromoteFleet({
    environments: [
      ...TESTING.map((name) => ({ name, stage: 'testing' })),
      ...PRODUCTION.map((name) => ({ name, stage: 'production' })),
    ],
    config: (url) =>
      fleetConfig(url)
        .replace('match: ["*-test-*"]', 'match: ["sdbx-*", "*-test-*"]')
        .replace('backend: argocd', 'backend: external\n  external:\n    system: Kargo'),
  })
  const kargo = fleet.gh.addUser('kargo-promoter[bot]', { type: 'Bot' })
  fleet.gh.setPermission(FULL_NAME, kargo.login, 'write')
  kargoToken = kargo.token
  for (const env of [...TESTING, ...PRODUCTION]) {
    const stage = TESTING.includes(env) ? 'testing' : 'production'
    await prepareForKargo(fleet.argocd, `${env}-addons`, `fleet:${stage}`)
  }
  // open-child-prs (tag-template `{component}-pr-{pr}`) tags every child commit.
  for (const env of [...TESTING, ...PRODUCTION]) {
    await fleet.admin.rest.git.createRef({
      ...REPO,
      ref: `refs/tags/${env}-pr-${fleet.parent}`,
      sha: childHead(env),
    })
  }
  player = new KargoPlayer({
    project: loadKargoProject(KARGO_EXAMPLE_DIR),
    secrets: { github: { token: kargoToken }, argocd: { token: fleet.argocd.token } },
    argocd: createArgoCdClient({ server: fleet.argocd.url, token: fleet.argocd.token, retries: 0 }),
    vars: simulatorVars(fleet.gh.apiUrl, FULL_NAME, fleet.argocd.url),
    pollMs: 10,
    timeoutMs: 5_000,
  })
})

afterAll(async () => {
  await endPromoteFleet(fleet)
})

function childHead(env: string, parent = fleet.parent): string {
  const sha = fleet.gh.state.refSha(FULL_NAME, `refs/heads/${childBranch(parent, env)}`)
  if (!sha) throw new Error(`no child branch for ${env}`)
  return sha
}

function freight(env: string, parent = fleet.parent): Freight {
  return freightFromTag(env, KARGO_REPO_URL, `${env}-pr-${parent}`, childHead(env, parent))
}

const statusesOf = (env: string) =>
  fleet.gh.state
    .statuses(FULL_NAME)
    .filter((s) => s.sha === fleet.headSha && s.context === `fleet-promote/${env}`)
    .map((s) => [s.state, s.description])

/** The real aggregate-status bundle, on the `status` event a Kargo report causes. */
async function gate(env: string): Promise<string> {
  const result = await runAction('aggregate-status', {
    github: fleet.gh,
    eventName: 'status',
    event: fleet.gh.statusEvent(FULL_NAME, fleet.headSha, `fleet-promote/${env}`),
    inputs: { token: fleet.users.bot.token, sha: '', pr: '', environments: '' },
  })
  await result.cleanup()
  expect(result.exitCode, result.stderr + result.stdout).toBe(0)
  const pipeline = fleet.gh.state
    .latestStatuses(FULL_NAME, fleet.headSha)
    .find((s) => s.context === PIPELINE_CONTEXT)
  expect(pipeline?.state).toBe(result.outputs.state)
  return `${pipeline?.state ?? '-'}: ${pipeline?.description ?? ''}`
}

function sent(promotion: PromotionRecord) {
  return promotion.steps.flatMap((step) =>
    step.requests.map(
      (request) =>
        `${request.method} ${new URL(request.url).pathname}${new URL(request.url).search} ${request.status}`,
    ),
  )
}

function posted(promotion: PromotionRecord): Record<string, unknown>[] {
  return promotion.steps.flatMap((step) =>
    step.requests
      .filter((request) => request.method === 'POST')
      .map((request) => JSON.parse(request.body ?? '') as Record<string, unknown>),
  )
}

describe('examples/kargo reporting to fleet-promote', () => {
  it('.promote testing hands the testing environments to Kargo; the gate waits', async () => {
    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.promote testing'),
    )
    expect(result.decision, result.reason).toBe('deployed')
    expect(result.reason).toBe('handed 3 environments to Kargo')
    for (const env of TESTING)
      expect(statusesOf(env).at(-1)).toEqual(['pending', 'waiting for Kargo'])
    expect(await gate('sdbx-eu1')).toMatch(/^pending: 0\/8 succeeded; waiting for /)
  })

  it('a testing promotion sends pending "progressing", deploys the child commit, then success', async () => {
    const sha = childHead('sdbx-eu1')
    const promotion = await player.promote('testing', freight('sdbx-eu1'))
    expect(promotion.phase, JSON.stringify(promotion.steps, null, 2)).toBe('Succeeded')
    const api = '/api/v3/repos/acme/fleet'
    expect(sent(promotion)).toEqual([
      `GET ${api}/git/ref/heads/fleet-promote/pr-${fleet.parent}/sdbx-eu1 200`,
      `GET ${api}/pulls/${fleet.parent} 200`,
      `GET ${api}/commits/${fleet.headSha}/status?per_page=100 200`,
      `POST ${api}/statuses/${fleet.headSha} 201`,
      `POST ${api}/statuses/${fleet.headSha} 201`,
    ])
    const target = `https://kargo.example.com/project/fleet/promotion/${promotion.name}`
    expect(posted(promotion)).toEqual([
      {
        context: 'fleet-promote/sdbx-eu1',
        description: `progressing: syncing sdbx-eu1-addons to ${sha}`,
        state: 'pending',
        target_url: target,
      },
      {
        context: 'fleet-promote/sdbx-eu1',
        description: `Healthy and Synced: sdbx-eu1-addons at ${sha}`,
        state: 'success',
        target_url: target,
      },
    ])
    // Go's encoding/json writes the keys sorted: the body is byte for byte what Kargo sends.
    const body = promotion.steps.find((s) => s.alias === 'task-1::pending')?.requests[0]?.body
    expect(body).toBe(
      `{"context":"fleet-promote/sdbx-eu1","description":"progressing: syncing sdbx-eu1-addons to ${sha}","state":"pending","target_url":"${target}"}`,
    )
    const request = promotion.steps.find((s) => s.alias === 'task-1::pending')?.requests[0]
    expect(request?.headers).toEqual({
      Authorization: `Bearer ${kargoToken}`,
      Accept: 'application/vnd.github+json',
      'X-GitHub-Api-Version': '2022-11-28',
      'Content-Type': 'application/json',
    })
    for (const status of posted(promotion)) {
      expect(String(status.description).length).toBeLessThanOrEqual(140)
    }
    expect(statusesOf('sdbx-eu1').slice(-3)).toEqual([
      ['pending', 'waiting for Kargo'],
      ['pending', `progressing: syncing sdbx-eu1-addons to ${sha}`],
      ['success', `Healthy and Synced: sdbx-eu1-addons at ${sha}`],
    ])
    const app = fleet.argocd.getApplication('sdbx-eu1-addons')
    expect(app?.spec.source?.targetRevision).toBe(sha)
    expect(app?.status?.sync).toMatchObject({ status: 'Synced', revision: sha })
    expect(await gate('sdbx-eu1')).toMatch(/^pending: 1\/8 succeeded; waiting for /)
  })

  it('a Degraded Application is reported as a failure with its health, and fails the gate', async () => {
    fleet.argocd.script('eu-test-1-addons', [
      // The sync itself succeeds; the pods crash afterwards.
      { health: 'Progressing', phase: 'Succeeded', polls: 3 },
      { health: 'Degraded', message: 'Back-off restarting failed container' },
    ])
    const sha = childHead('eu-test-1')
    const promotion = await player.promote('testing', freight('eu-test-1'))
    expect(promotion.phase).toBe('Errored')
    const wait = promotion.steps.find((s) => s.alias === 'task-1::wait')
    expect(wait).toMatchObject({ status: 'Errored' })
    expect(wait?.message).toMatch(/health has regressed from Progressing to Degraded/)
    expect(promotion.steps.find((s) => s.alias === 'task-1::report-success')?.status).toBe(
      'Skipped',
    )
    expect(posted(promotion).map((s) => [s.state, s.description])).toEqual([
      ['pending', `progressing: syncing eu-test-1-addons to ${sha}`],
      ['failure', `Degraded and Synced: eu-test-1-addons is not Healthy and Synced at ${sha}`],
    ])
    expect(await gate('eu-test-1')).toBe('failure: failed: eu-test-1 (1/8 succeeded)')
  })

  it('deploys nothing that fleet-promote did not hand over', async () => {
    const writesBefore = fleet.argocd.requests.filter((r) => r.method !== 'GET').length
    const quick = new KargoPlayer({
      project: loadKargoProject(KARGO_EXAMPLE_DIR),
      secrets: { github: { token: kargoToken }, argocd: { token: fleet.argocd.token } },
      argocd: createArgoCdClient({
        server: fleet.argocd.url,
        token: fleet.argocd.token,
        retries: 0,
      }),
      vars: simulatorVars(fleet.gh.apiUrl, FULL_NAME, fleet.argocd.url),
      pollMs: 10,
      timeoutMs: 200,
    })
    // Production before `.promote production`: the statuses still say "promote with .promote production".
    const promotion = await quick.promote('production', freight('sdbx-eu1'))
    expect(promotion.phase).toBe('Failed')
    expect(promotion.steps.find((s) => s.alias === 'ap-prod-1::handover')).toMatchObject({
      status: 'Failed',
      message: expect.stringMatching(/timed out/) as unknown,
    })
    expect(posted(promotion)).toEqual([])
    expect(fleet.argocd.requests.filter((r) => r.method !== 'GET').length).toBe(writesBefore)
    // The first failure stops the rest: later environments are not even looked up.
    expect(promotion.steps.find((s) => s.alias === 'eu-prod-1::child')?.status).toBe('Skipped')
  })

  it('after a fix, `.promote eu-test-1` and a new Promotion turn it green', async () => {
    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.promote eu-test-1'),
    )
    expect(result.decision, result.reason).toBe('deployed')
    for (const env of ['eu-test-1', 'us-test-1']) {
      const promotion = await player.promote('testing', freight(env))
      expect(promotion.phase, `${env}: ${JSON.stringify(promotion.steps, null, 2)}`).toBe(
        'Succeeded',
      )
    }
    expect(await gate('us-test-1')).toMatch(/^pending: 3\/8 succeeded; waiting for ap-prod-1/)
  })

  it("production takes Freight that passed testing and deploys the same parent's production children; the gate turns success", async () => {
    fleet.gh.review(FULL_NAME, fleet.parent, {
      user: fleet.users.approver.login,
      state: 'APPROVED',
      commitId: fleet.headSha,
    })
    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.maintainer, '.promote production'),
    )
    expect(result.reason).toBe('handed 5 environments to Kargo')
    const promotion = await player.promote('production', freight('us-test-1'))
    expect(promotion.phase, JSON.stringify(promotion.steps, null, 2)).toBe('Succeeded')
    expect(posted(promotion).map((s) => `${String(s.context)} ${String(s.state)}`)).toEqual(
      PRODUCTION.flatMap((env) => [`fleet-promote/${env} pending`, `fleet-promote/${env} success`]),
    )
    for (const env of PRODUCTION) {
      expect(fleet.argocd.getApplication(`${env}-addons`)?.spec.source?.targetRevision).toBe(
        childHead(env),
      )
    }
    expect(await gate('us-prod-2')).toBe('success: all 8 environments succeeded')
  })

  it('skips the environments a parent does not change (no child branch)', async () => {
    const writesBefore = fleet.argocd.requests.filter((r) => r.method !== 'GET').length
    // Freight of a parent without production children: every child lookup answers 404.
    const orphan = freightFromTag(
      'sdbx-eu1',
      KARGO_REPO_URL,
      'sdbx-eu1-pr-999',
      childHead('sdbx-eu1'),
    )
    const promotion = await player.promote('production', orphan)
    expect(promotion.phase).toBe('Succeeded')
    expect(sent(promotion)).toEqual(
      PRODUCTION.map(
        (env) => `GET /api/v3/repos/acme/fleet/git/ref/heads/fleet-promote/pr-999/${env} 404`,
      ),
    )
    expect(promotion.steps.filter((s) => s.status === 'Succeeded').map((s) => s.alias)).toEqual(
      PRODUCTION.flatMap((env) => [`${env}::freight`, `${env}::child`]),
    )
    expect(fleet.argocd.requests.filter((r) => r.method !== 'GET').length).toBe(writesBefore)
  })
})
