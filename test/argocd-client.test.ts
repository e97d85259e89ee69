import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  ArgoCdError,
  assessApplication,
  canonicalRepoURL,
  createArgoCdClient,
  normalizeServerUrl,
} from '../actions/lib/argocd/client.js'
import type { ArgoCdClient, ArgoCdClientOptions } from '../actions/lib/argocd/client.js'
import { fakeRevision, startArgoCdSimulator } from './support/argocd/index.js'
import type { ArgoCdSimulator } from './support/argocd/index.js'

const repoURL = 'https://github.example/acme/fleet-wet.git'
const chartRepo = 'https://charts.example/addons.git'
const childSha = fakeRevision('fleet-promote/pr-7/dev', { repoURL })

let sim: ArgoCdSimulator
let client: ArgoCdClient
let logs: string[]

function makeClient(overrides: Partial<ArgoCdClientOptions> = {}): ArgoCdClient {
  return createArgoCdClient({
    server: sim.url,
    token: sim.token,
    retryDelayMs: 1,
    log: (message) => logs.push(message),
    ...overrides,
  })
}

/** A clock that moves only when the client sleeps: timeouts without waiting. */
function fakeClock(): { now: () => number; sleep: (ms: number) => Promise<void>; slept: number[] } {
  let time = 0
  const slept: number[] = []
  return {
    now: () => time,
    sleep: (ms) => {
      slept.push(ms)
      time += ms
      return Promise.resolve()
    },
    slept,
  }
}

beforeEach(async () => {
  sim = await startArgoCdSimulator({ token: 'tok-very-secret' })
  logs = []
  client = makeClient()
  await sim.addApplication({
    name: 'addons-dev',
    repoURL,
    path: 'clusters/dev',
    targetRevision: 'env/dev',
  })
  await sim.addApplication({
    name: 'addons-multi',
    repoURL,
    path: '',
    targetRevision: '',
    multiSource: [
      { repoURL: chartRepo, path: 'charts/addons', targetRevision: 'v2.0.0' },
      { repoURL, path: 'clusters/dev', targetRevision: 'env/dev' },
      { repoURL: 'https://github.example/acme/values.git', path: 'dev', targetRevision: 'main' },
    ],
  })
})

afterEach(async () => {
  expect(logs.join('\n')).not.toContain('tok-very-secret')
  await sim.stop()
})

describe('server URLs and repository URLs', () => {
  it('adds https to a bare host and keeps a root path', () => {
    expect(normalizeServerUrl('argocd.example.com')).toBe('https://argocd.example.com')
    expect(normalizeServerUrl('https://argocd.example.com/')).toBe('https://argocd.example.com')
    expect(normalizeServerUrl('http://127.0.0.1:8080/argocd/')).toBe('http://127.0.0.1:8080/argocd')
    expect(() => normalizeServerUrl('ftp://argocd.example.com')).toThrow(/https or http/)
    expect(() => normalizeServerUrl('https://user:pw@argocd.example.com')).toThrow(/credentials/)
    expect(() => normalizeServerUrl(' ')).toThrow(/empty/)
  })

  it('compares repository URLs across spellings', () => {
    const canonical = canonicalRepoURL('https://github.com/Acme/Fleet.git/')
    expect(canonicalRepoURL('git@github.com:acme/fleet.git')).toBe(canonical)
    expect(canonicalRepoURL('ssh://git@github.com/acme/fleet')).toBe(canonical)
    expect(canonicalRepoURL('https://github.com/acme/fleet-wet')).not.toBe(canonical)
  })
})

describe('Argo CD client against the simulator', () => {
  it('points a single-source application at a revision with a merge patch, once', async () => {
    const result = await client.setTargetRevision('addons-dev', 'fleet-promote/pr-7/dev', {
      sourceRepoURL: 'git@github.example:acme/fleet-wet.git',
    })
    expect(result).toMatchObject({ changed: true, previous: 'env/dev', sourceIndex: undefined })
    expect(result.application.spec.source?.targetRevision).toBe('fleet-promote/pr-7/dev')
    expect(sim.getApplication('addons-dev')?.spec.source?.targetRevision).toBe(
      'fleet-promote/pr-7/dev',
    )
    const patch = sim.requests.find((r) => r.method === 'PATCH')
    expect(patch?.body).toMatchObject({ patchType: 'merge', name: 'addons-dev' })

    const again = await client.setTargetRevision('addons-dev', 'fleet-promote/pr-7/dev')
    expect(again.changed).toBe(false)
    expect(sim.requests.filter((r) => r.method === 'PATCH')).toHaveLength(1)

    await expect(
      client.setTargetRevision('addons-dev', 'x', { sourceRepoURL: chartRepo }),
    ).rejects.toThrow(/"addons-dev" tracks .*fleet-wet.git, not https:\/\/charts/)
    expect(sim.validationErrors).toEqual([])
  })

  it('points the matching source of a multi-source application with a guarded JSON patch', async () => {
    const byRepo = await client.setTargetRevision('addons-multi', 'fleet-promote/pr-7/dev', {
      sourceRepoURL: repoURL,
    })
    expect(byRepo).toMatchObject({ changed: true, previous: 'env/dev', sourceIndex: 1 })
    expect(sim.getApplication('addons-multi')?.spec.sources?.map((s) => s.targetRevision)).toEqual([
      'v2.0.0',
      'fleet-promote/pr-7/dev',
      'main',
    ])
    const patch = sim.requests.find((r) => r.method === 'PATCH')?.body as {
      patchType: string
      patch: string
    }
    expect(patch.patchType).toBe('json')
    expect(JSON.parse(patch.patch)).toEqual([
      { op: 'test', path: '/spec/sources/1/repoURL', value: repoURL },
      { op: 'add', path: '/spec/sources/1/targetRevision', value: 'fleet-promote/pr-7/dev' },
    ])

    const byIndex = await client.setTargetRevision('addons-multi', 'dev-values', { sourceIndex: 2 })
    expect(byIndex).toMatchObject({ changed: true, previous: 'main', sourceIndex: 2 })

    await expect(client.setTargetRevision('addons-multi', 'x')).rejects.toThrow(
      /has 3 sources; say which one/,
    )
    await expect(client.setTargetRevision('addons-multi', 'x', { sourceIndex: 3 })).rejects.toThrow(
      /source index 3 does not exist/,
    )
    await expect(
      client.setTargetRevision('addons-multi', 'x', { sourceRepoURL: 'https://nowhere/x.git' }),
    ).rejects.toThrow(/no source with repoURL https:\/\/nowhere\/x.git/)
    expect(sim.validationErrors).toEqual([])
  })

  it('syncs and waits through Progressing to Synced and Healthy at the expected revision', async () => {
    sim.script('addons-dev', [
      { sync: 'OutOfSync', health: 'Progressing', polls: 2 },
      { sync: 'Synced', health: 'Progressing', polls: 2 },
      { sync: 'Synced', health: 'Healthy' },
    ])
    await client.setTargetRevision('addons-dev', 'fleet-promote/pr-7/dev')
    const synced = await client.sync('addons-dev', { prune: true })
    expect(synced.operation?.sync?.revision).toBe(childSha)
    const clock = fakeClock()
    const result = await client.waitForSyncedHealthy('addons-dev', {
      revision: childSha,
      timeoutMs: 60_000,
      pollMs: 1_000,
      ...clock,
    })
    expect(result).toEqual({
      ok: true,
      sync: 'Synced',
      health: 'Healthy',
      revision: childSha,
      message: `Synced and Healthy at ${childSha.slice(0, 7)}`,
    })
    expect(clock.slept).toEqual([1_000, 1_000, 1_000, 1_000])
    expect(sim.requests.find((r) => r.path.endsWith('/sync'))?.body).toEqual({
      name: 'addons-dev',
      prune: true,
    })
    expect(sim.validationErrors).toEqual([])
  })

  it('reports Degraded with the resource health message', async () => {
    sim.script('addons-dev', [
      { health: 'Progressing' },
      { health: 'Degraded', message: 'Deployment "addons" exceeded its progress deadline' },
    ])
    await client.sync('addons-dev')
    const result = await client.waitForSyncedHealthy('addons-dev', {
      timeoutMs: 60_000,
      pollMs: 10,
      ...fakeClock(),
    })
    expect(result.ok).toBe(false)
    expect(result.health).toBe('Degraded')
    expect(result.message).toBe(
      'health Degraded: Deployment/addons-dev/addons-dev Degraded: Deployment "addons" exceeded its progress deadline',
    )
    expect(sim.validationErrors).toEqual([])
  })

  it('reports a failed sync operation with its message', async () => {
    sim.script('addons-dev', [
      { sync: 'OutOfSync', health: 'Missing' },
      {
        sync: 'OutOfSync',
        health: 'Missing',
        phase: 'Failed',
        message: 'one or more objects failed to apply: admission webhook denied',
      },
    ])
    await client.sync('addons-dev')
    const result = await client.waitForSyncedHealthy('addons-dev', {
      timeoutMs: 60_000,
      pollMs: 10,
      ...fakeClock(),
    })
    expect(result).toMatchObject({
      ok: false,
      sync: 'OutOfSync',
      message:
        'sync operation Failed: one or more objects failed to apply: admission webhook denied',
    })
    expect(sim.validationErrors).toEqual([])
  })

  it('times out with the last state it saw', async () => {
    sim.script('addons-dev', [{ sync: 'Synced', health: 'Progressing', phase: 'Running' }])
    await client.sync('addons-dev')
    const clock = fakeClock()
    const result = await client.waitForSyncedHealthy('addons-dev', {
      timeoutMs: 2_500,
      pollMs: 1_000,
      ...clock,
    })
    expect(result.ok).toBe(false)
    expect(result.message).toBe(
      'timed out after 2.5 s waiting for "addons-dev" to be Synced and Healthy (last: Synced/Progressing: sync operation Running: waiting for completion of hook and resources)',
    )
    expect(clock.slept).toEqual([1_000, 1_000, 500])
    expect(sim.validationErrors).toEqual([])
  })

  it('says when the application stays OutOfSync after a successful sync', async () => {
    sim.script('addons-dev', [{ sync: 'OutOfSync', health: 'Healthy' }])
    await client.sync('addons-dev')
    const result = await client.waitForSyncedHealthy('addons-dev', {
      timeoutMs: 3_000,
      pollMs: 1_000,
      ...fakeClock(),
    })
    expect(result).toMatchObject({ ok: false, sync: 'OutOfSync', health: 'Healthy' })
    expect(result.message).toBe(
      'timed out after 3 s waiting for "addons-dev" to be Synced and Healthy (last: OutOfSync/Healthy: sync status OutOfSync)',
    )
    expect(sim.validationErrors).toEqual([])
  })

  it('keeps waiting while the application is Synced and Healthy at another revision', async () => {
    const result = await client.waitForSyncedHealthy('addons-dev', {
      revision: childSha,
      timeoutMs: 1_000,
      pollMs: 500,
      ...fakeClock(),
    })
    expect(result.ok).toBe(false)
    expect(result.message).toMatch(
      /timed out after 1 s .*at revision [0-9a-f]{7}, waiting for [0-9a-f]{7}/,
    )
  })

  it('retries a 500 and a reset connection, then succeeds', async () => {
    sim.faults.add({ path: '/api/v1/applications/addons-dev', status: 500 })
    sim.faults.add({ path: '/api/v1/applications/addons-dev', reset: true })
    const app = await client.getApplication('addons-dev')
    expect(app.metadata.name).toBe('addons-dev')
    expect(sim.requests.map((r) => r.status)).toEqual([500, -1, 200])
    expect(logs).toHaveLength(2)
    expect(logs[0]).toMatch(/GET \/api\/v1\/applications\/addons-dev: HTTP 500; retry 1\/3/)
    expect(sim.validationErrors).toEqual([])
  })

  it('gives up after the bounded retries with the status and the application name', async () => {
    sim.faults.add({ status: 503, times: Infinity })
    const error = (await makeClient({ retries: 2 })
      .getApplication('addons-dev')
      .catch((e: unknown) => e)) as ArgoCdError
    expect(error).toBeInstanceOf(ArgoCdError)
    expect(error.status).toBe(503)
    expect(error.attempts).toBe(3)
    expect(error.message).toBe(
      'Argo CD get on application "addons-dev" failed (HTTP 503: simulated fault (HTTP 503))',
    )
    expect(sim.requests).toHaveLength(3)
  })

  it('rejects a bad token with 401 without retrying or echoing it', async () => {
    const error = (await makeClient({ token: 'wrong-token-value' })
      .getApplication('addons-dev')
      .catch((e: unknown) => e)) as ArgoCdError
    expect(error.status).toBe(401)
    expect(error.message).toBe(
      'Argo CD rejected the token (HTTP 401: invalid session: token signature is invalid) on get application "addons-dev"; check that the token is valid and not expired',
    )
    expect(error.message).not.toContain('wrong-token-value')
    expect(sim.requests).toHaveLength(1)
  })

  it('names an unknown application (404) and a forbidden one (403)', async () => {
    await expect(client.sync('ghost')).rejects.toThrow(
      'Argo CD application "ghost" not found (HTTP 404: applications.argoproj.io "ghost" not found)',
    )
    sim.faults.add({
      method: 'PATCH',
      status: 403,
      body: { error: 'permission denied', code: 7, message: 'permission denied' },
    })
    await expect(client.setTargetRevision('addons-dev', 'x')).rejects.toThrow(
      /^Argo CD denied update on application "addons-dev" \(HTTP 403: permission denied\)/,
    )
    expect(sim.validationErrors).toEqual([])
  })

  it('treats a retried sync that finds its own operation running as accepted', async () => {
    let syncCalls = 0
    // The first sync reaches the server but its answer is lost on the way back.
    const losingFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init)
      if (init?.method === 'POST' && ++syncCalls === 1) throw new TypeError('fetch failed')
      return response
    }
    const app = await makeClient({ fetch: losingFetch }).sync('addons-dev')
    expect(app.metadata.name).toBe('addons-dev')
    expect(sim.requests.map((r) => `${r.method} ${r.status}`)).toEqual([
      'POST 200',
      'POST 400',
      'GET 200',
    ])
    expect(logs.at(-1)).toMatch(/already in progress; waiting on it/)
    // Without a retry the same refusal is an error: another sync really is running.
    await expect(client.sync('addons-dev')).rejects.toThrow(
      /another operation is already in progress/,
    )
  })

  it('waits out an outage while polling', async () => {
    await client.sync('addons-dev')
    sim.faults.add({ method: 'GET', status: 502, times: 2 })
    const result = await makeClient({ retries: 0 }).waitForSyncedHealthy('addons-dev', {
      timeoutMs: 60_000,
      pollMs: 10,
      ...fakeClock(),
    })
    expect(result.ok).toBe(true)
    expect(sim.requests.filter((r) => r.status === 502)).toHaveLength(2)
  })

  it('refreshes and lists through the API', async () => {
    const refreshed = await client.refresh('addons-dev')
    expect(refreshed.status?.reconciledAt).toBeTruthy()
    expect(sim.requests.at(-1)?.query).toBe('?refresh=normal')
    const listed = await client.listApplications({ name: 'addons-multi' })
    expect(listed.map((app) => app.metadata.name)).toEqual(['addons-multi'])
    expect(sim.validationErrors).toEqual([])
  })
})

describe('assessApplication', () => {
  it('ignores an old failed operation for another revision', () => {
    const assessment = assessApplication(
      {
        metadata: { name: 'a' },
        spec: {},
        status: {
          sync: { status: 'Synced', revision: 'b'.repeat(40) },
          health: { status: 'Healthy' },
          operationState: {
            phase: 'Failed',
            message: 'old',
            syncResult: { revision: 'a'.repeat(40) },
          },
        },
      },
      'b'.repeat(40),
    )
    expect(assessment.state).toBe('ok')
  })

  it('reports error conditions while waiting', () => {
    const assessment = assessApplication({
      metadata: { name: 'a' },
      spec: {},
      status: {
        sync: { status: 'Unknown' },
        health: { status: 'Healthy' },
        conditions: [{ type: 'ComparisonError', message: "unable to resolve 'x' to a commit SHA" }],
      },
    })
    expect(assessment).toMatchObject({
      state: 'pending',
      message: "sync status Unknown: ComparisonError: unable to resolve 'x' to a commit SHA",
    })
  })
})
