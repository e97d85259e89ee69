import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fakeRevision, startArgoCdSimulator } from './support/argocd/index.js'
import type { ArgoCdApplication, ArgoCdSimulator } from './support/argocd/index.js'
import { loadSwaggerValidator } from './support/argocd/schema.js'

const repoURL = 'https://github.example/acme/fleet-wet.git'
const devSha = fakeRevision('env/dev', { repoURL })

let sim: ArgoCdSimulator

async function call(
  method: string,
  path: string,
  options: { body?: unknown; token?: string | null } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const token = options.token === undefined ? sim.token : options.token
  const response = await fetch(`${sim.url}${path}`, {
    method,
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

async function getApp(name: string, query = ''): Promise<ArgoCdApplication> {
  const { status, body } = await call('GET', `/api/v1/applications/${name}${query}`)
  expect(status).toBe(200)
  return body as unknown as ArgoCdApplication
}

beforeEach(async () => {
  sim = await startArgoCdSimulator({ token: 'secret-token' })
  await sim.addApplication({
    name: 'addons-dev',
    repoURL,
    path: 'clusters/dev',
    targetRevision: 'env/dev',
    labels: { stage: 'testing', cluster: 'dev' },
  })
})

afterEach(async () => {
  await sim.stop()
})

describe('Argo CD simulator', () => {
  it('answers unauthenticated and unknown requests the way the API server does', async () => {
    expect(await call('GET', '/api/v1/applications/addons-dev', { token: null })).toEqual({
      status: 401,
      body: { error: 'no session information', code: 16, message: 'no session information' },
    })
    const wrong = await call('GET', '/api/v1/applications/addons-dev', { token: 'nope' })
    expect(wrong.status).toBe(401)
    expect(wrong.body.code).toBe(16)
    expect(await call('GET', '/api/v1/applications/ghost')).toEqual({
      status: 404,
      body: {
        error: 'applications.argoproj.io "ghost" not found',
        code: 5,
        message: 'applications.argoproj.io "ghost" not found',
      },
    })
    expect((await call('GET', '/api/v1/session/userinfo')).body).toMatchObject({ loggedIn: true })
    expect(sim.validationErrors).toEqual([])
  })

  it('starts an application Synced and Healthy at its resolved target and lists by name, selector and project', async () => {
    await sim.addApplication({
      name: 'addons-prod',
      project: 'production',
      repoURL,
      path: 'clusters/prod',
      targetRevision: 'env/prod',
      labels: { stage: 'production' },
    })
    const dev = await getApp('addons-dev')
    expect(dev.status?.sync).toMatchObject({ status: 'Synced', revision: devSha })
    expect(dev.status?.health?.status).toBe('Healthy')
    expect(dev.spec.source).toEqual({ repoURL, path: 'clusters/dev', targetRevision: 'env/dev' })

    const names = async (query: string): Promise<string[]> => {
      const { body } = await call('GET', `/api/v1/applications${query}`)
      return (body.items as ArgoCdApplication[]).map((app) => app.metadata.name ?? '')
    }
    expect(await names('')).toEqual(['addons-dev', 'addons-prod'])
    expect(await names('?selector=stage%3Dproduction')).toEqual(['addons-prod'])
    expect(await names('?selector=stage!%3Dproduction,cluster')).toEqual(['addons-dev'])
    expect(await names('?name=addons-dev')).toEqual(['addons-dev'])
    expect(await names('?projects=production')).toEqual(['addons-prod'])
    expect(sim.validationErrors).toEqual([])
  })

  it('patches with JSON merge patch and JSON patch, goes OutOfSync, and refuses bad patches unchanged', async () => {
    const merged = await call('PATCH', '/api/v1/applications/addons-dev', {
      body: {
        name: 'addons-dev',
        patchType: 'merge',
        patch: JSON.stringify({ spec: { source: { targetRevision: 'child/dev' } } }),
      },
    })
    expect(merged.status).toBe(200)
    const afterMerge = await getApp('addons-dev')
    expect(afterMerge.spec.source?.targetRevision).toBe('child/dev')
    expect(afterMerge.status?.sync).toMatchObject({
      status: 'OutOfSync',
      revision: fakeRevision('child/dev', { repoURL }),
    })
    expect(afterMerge.metadata.generation).toBe(2)

    const patched = await call('PATCH', '/api/v1/applications/addons-dev', {
      body: {
        patchType: 'json',
        patch: JSON.stringify([
          { op: 'replace', path: '/spec/source/targetRevision', value: 'env/dev' },
        ]),
      },
    })
    expect(patched.status).toBe(200)
    expect((await getApp('addons-dev')).status?.sync?.status).toBe('Synced')

    const failedTest = await call('PATCH', '/api/v1/applications/addons-dev', {
      body: {
        patchType: 'json',
        patch: JSON.stringify([
          { op: 'test', path: '/spec/source/repoURL', value: 'https://elsewhere/x.git' },
          { op: 'replace', path: '/spec/source/targetRevision', value: 'oops' },
        ]),
      },
    })
    expect(failedTest).toMatchObject({ status: 400, body: { code: 3 } })
    const unsupported = await call('PATCH', '/api/v1/applications/addons-dev', {
      body: { patchType: 'strategic', patch: '{}' },
    })
    expect(unsupported).toMatchObject({
      status: 400,
      body: { message: "Patch type 'strategic' is not supported" },
    })
    expect(sim.getApplication('addons-dev')?.spec.source?.targetRevision).toBe('env/dev')
    expect(sim.validationErrors).toEqual([])
  })

  it('updates with PUT and refuses a stale resourceVersion with 409', async () => {
    const current = await getApp('addons-dev')
    const edited = structuredClone(current)
    edited.spec.source!.targetRevision = 'child/dev'
    delete edited.status
    expect((await call('PUT', '/api/v1/applications/addons-dev', { body: edited })).status).toBe(
      200,
    )
    expect(sim.getApplication('addons-dev')?.spec.source?.targetRevision).toBe('child/dev')
    const stale = await call('PUT', '/api/v1/applications/addons-dev', { body: edited })
    expect(stale).toMatchObject({ status: 409, body: { code: 10 } })
    expect(sim.validationErrors).toEqual([])
  })

  it('plays the scripted transitions after a sync, one step per poll, and refuses a second sync meanwhile', async () => {
    sim.script('addons-dev', [
      { sync: 'OutOfSync', health: 'Progressing', polls: 2 },
      { sync: 'Synced', health: 'Degraded', message: 'Back-off restarting failed container' },
    ])
    const synced = await call('POST', '/api/v1/applications/addons-dev/sync', {
      body: { name: 'addons-dev', revision: 'child/dev', prune: true },
    })
    expect(synced.status).toBe(200)
    const childSha = fakeRevision('child/dev', { repoURL })
    expect((synced.body as unknown as ArgoCdApplication).operation?.sync).toEqual({
      revision: childSha,
      prune: true,
    })

    const busy = await call('POST', '/api/v1/applications/addons-dev/sync', {
      body: { name: 'addons-dev' },
    })
    expect(busy).toMatchObject({
      status: 400,
      body: { code: 9, message: 'another operation is already in progress' },
    })

    const seen: string[] = []
    for (let i = 0; i < 4; i++) {
      const app = await getApp('addons-dev')
      seen.push(
        `${app.status?.sync?.status}/${app.status?.health?.status}/${app.status?.operationState?.phase}`,
      )
      expect(app.operation).toBeUndefined()
      expect(app.status?.sync?.revision).toBe(childSha)
    }
    expect(seen).toEqual([
      'OutOfSync/Progressing/Running',
      'OutOfSync/Progressing/Running',
      'Synced/Degraded/Succeeded',
      'Synced/Degraded/Succeeded',
    ])
    const final = sim.getApplication('addons-dev')
    expect(final?.status?.resources?.[0]?.health).toEqual({
      status: 'Degraded',
      message: 'Back-off restarting failed container',
    })
    expect(final?.status?.history?.map((entry) => entry.revision)).toEqual([devSha, childSha])

    // The script was for that sync only: the next one goes Progressing → Healthy.
    expect(
      (await call('POST', '/api/v1/applications/addons-dev/sync', { body: { name: 'addons-dev' } }))
        .status,
    ).toBe(200)
    expect((await getApp('addons-dev')).status?.health?.status).toBe('Progressing')
    expect((await getApp('addons-dev')).status).toMatchObject({
      health: { status: 'Healthy' },
      sync: { status: 'Synced', revision: devSha },
      operationState: { phase: 'Succeeded' },
    })
    expect(sim.validationErrors).toEqual([])
  })

  it('syncs multi-source applications per source and refuses other revisions under auto-sync', async () => {
    await sim.addApplication({
      name: 'multi',
      repoURL,
      path: '',
      targetRevision: '',
      multiSource: [
        { repoURL: 'https://charts.example/repo.git', path: 'chart', targetRevision: 'v1.2.3' },
        { repoURL, path: 'clusters/dev', targetRevision: 'env/dev' },
      ],
    })
    const sync = await call('POST', '/api/v1/applications/multi/sync', {
      body: { name: 'multi', revisions: ['child/dev'], sourcePositions: ['2'] },
    })
    expect(sync.status).toBe(200)
    const app = await getApp('multi')
    expect(app.status?.sync?.revisions).toEqual([
      fakeRevision('v1.2.3', { repoURL: 'https://charts.example/repo.git' }),
      fakeRevision('child/dev', { repoURL }),
    ])
    expect(app.status?.sync?.revision).toBeUndefined()

    await sim.addApplication({
      name: 'auto',
      repoURL,
      path: 'p',
      targetRevision: 'env/dev',
      automated: true,
    })
    const refused = await call('POST', '/api/v1/applications/auto/sync', {
      body: { name: 'auto', revision: 'other' },
    })
    expect(refused).toMatchObject({
      status: 400,
      body: { message: 'Cannot sync to other: auto-sync currently set to env/dev' },
    })
    expect(sim.validationErrors).toEqual([])
  })

  it('keeps the status of an application given in full', async () => {
    await sim.addApplication({
      metadata: { name: 'given', labels: { team: 'platform' } },
      spec: { source: { repoURL, path: 'p', targetRevision: 'env/dev' } },
      status: {
        sync: { status: 'OutOfSync', revision: 'c'.repeat(40) },
        health: { status: 'Missing' },
      },
    })
    const app = await getApp('given')
    expect(app.metadata).toMatchObject({
      name: 'given',
      namespace: 'argocd',
      labels: { team: 'platform' },
    })
    expect(app.spec.project).toBe('default')
    expect(app.status).toEqual({
      sync: { status: 'OutOfSync', revision: 'c'.repeat(40) },
      health: { status: 'Missing' },
    })
    await expect(
      sim.addApplication({ name: 'given', repoURL, path: 'p', targetRevision: 'x' }),
    ).rejects.toThrow(/already exists/)
    expect(sim.validationErrors).toEqual([])
  })

  it('resolves revisions with the given resolver and notices a moved branch on refresh', async () => {
    let head = 'a'.repeat(40)
    sim.resolveRevision = async (target) => {
      await Promise.resolve()
      return target === 'env/dev' ? head : 'f'.repeat(40)
    }
    await sim.addApplication({ name: 'real', repoURL, path: 'p', targetRevision: 'env/dev' })
    expect((await getApp('real')).status?.sync?.revision).toBe(head)
    head = 'b'.repeat(40)
    expect((await getApp('real')).status?.sync?.status).toBe('Synced')
    const refreshed = await getApp('real', '?refresh=normal')
    expect(refreshed.status?.sync).toMatchObject({ status: 'OutOfSync', revision: head })
    expect(sim.validationErrors).toEqual([])
  })

  it('injects faults by method and path pattern, a given number of times, and can clear them', async () => {
    sim.faults.add({
      method: 'GET',
      path: /^\/api\/v1\/applications\/addons-/,
      status: 503,
      times: 2,
    })
    expect((await call('GET', '/api/v1/applications/addons-dev')).status).toBe(503)
    expect((await call('GET', '/api/v1/applications/addons-dev')).body).toMatchObject({ code: 14 })
    expect((await call('GET', '/api/v1/applications/addons-dev')).status).toBe(200)

    sim.faults.add({
      path: '/api/v1/applications/addons-dev',
      status: 403,
      body: { code: 7, message: 'permission denied' },
      times: Infinity,
    })
    expect((await call('GET', '/api/v1/applications/addons-dev')).body).toEqual({
      code: 7,
      message: 'permission denied',
    })
    expect((await call('GET', '/api/v1/applications')).status).toBe(200)
    sim.faults.clear()
    expect((await call('GET', '/api/v1/applications/addons-dev')).status).toBe(200)

    sim.faults.add({ reset: true })
    await expect(call('GET', '/api/v1/applications/addons-dev')).rejects.toThrow()
    sim.faults.add({ delayMs: 50 })
    const started = Date.now()
    expect((await call('GET', '/api/v1/applications/addons-dev')).status).toBe(200)
    expect(Date.now() - started).toBeGreaterThanOrEqual(45)

    expect(sim.requests.map((r) => r.status)).toEqual([503, 503, 200, 403, 200, 200, -1, 200])
  })

  it('reports request bodies that do not match the swagger', async () => {
    await call('POST', '/api/v1/applications/addons-dev/sync', {
      body: { name: 'addons-dev', revison: 'typo' },
    })
    await call('PATCH', '/api/v1/applications/addons-dev', {
      body: { patchType: 'merge', patch: { not: 'a string' } },
    })
    expect(sim.validationErrors).toEqual([
      'request POST /api/v1/applications/addons-dev/sync (applicationApplicationSyncRequest): / must NOT have additional properties (revison)',
      'request PATCH /api/v1/applications/addons-dev (applicationApplicationPatchRequest): /patch must be string',
    ])
  })

  it('validates against the swagger definitions strictly', () => {
    const validator = loadSwaggerValidator()
    expect(
      validator.validate('v1alpha1Application', {
        metadata: { name: 'x', generation: 2 },
        spec: {},
      }),
    ).toEqual([])
    expect(
      validator.validate('v1alpha1Application', {
        metadata: { generation: '2' },
        status: { health: { state: 'Healthy' } },
      }),
    ).toEqual([
      '/metadata/generation must be integer',
      '/status/health must NOT have additional properties (state)',
    ])
    expect(validator.validate('runtimeError', { code: 16, message: 'x', error: 'x' })).toEqual([])
    expect(validator.validate('v1Time', '2026-11-23 06:00')).toEqual([
      '/ must match format "date-time"',
    ])
  })
})
