import { connect } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createGitHubClient } from './support/github-client.js'
import { startGitHubSimulator, type GitHubSimulator } from './support/github/index.js'

let gh: GitHubSimulator

beforeAll(async () => {
  gh = await startGitHubSimulator()
  await gh.createRepo('acme/faults')
})

afterAll(async () => {
  await gh.stop()
})

beforeEach(() => {
  gh.faults.clear()
  gh.resetRequests()
})

const ROUTE = 'GET /repos/{owner}/{repo}'

describe('fault injection', () => {
  it('a 502 then success: plugin-retry retries', async () => {
    gh.faults.add({ route: '/repos/{owner}/{repo}', status: 502, body: { message: 'Bad Gateway' } })
    const octokit = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
    const { data, status } = await octokit.rest.repos.get({ owner: 'acme', repo: 'faults' })
    expect(status).toBe(200)
    expect(data.full_name).toBe('acme/faults')
    expect(gh.routeCounts()[ROUTE]).toBe(2)
    expect(gh.requests.map((entry) => entry.status)).toEqual([502, 200])
  })

  it('backs off retryBaseMs × n² before retry n', async () => {
    gh.faults.add({ route: ROUTE, status: 503, times: 2 })
    const octokit = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl, retryBaseMs: 100 })
    const started = Date.now()
    const { status } = await octokit.rest.repos.get({ owner: 'acme', repo: 'faults' })
    expect(status).toBe(200)
    // 100 ms before the first retry, 400 ms before the second.
    expect(Date.now() - started).toBeGreaterThanOrEqual(480)
    expect(gh.requests.map((entry) => entry.status)).toEqual([503, 503, 200])
  })

  it('a secondary rate limit with retry-after: 1 then success: plugin-throttling waits and retries', async () => {
    gh.faults.add({ method: 'GET', route: ROUTE, secondaryRateLimit: { retryAfter: 1 } })
    const logs: string[] = []
    const octokit = createGitHubClient(gh.adminToken, {
      baseUrl: gh.apiUrl,
      log: (line) => logs.push(line),
    })
    const started = Date.now()
    const { status } = await octokit.rest.repos.get({ owner: 'acme', repo: 'faults' })
    expect(status).toBe(200)
    expect(Date.now() - started).toBeGreaterThanOrEqual(950)
    expect(gh.routeCounts()[ROUTE]).toBe(2)
    expect(gh.requests.map((entry) => entry.status)).toEqual([403, 200])
    expect(logs.join('\n')).toMatch(/secondary rate limit/)
  })

  it('does not retry client errors (a 404 costs one request)', async () => {
    const octokit = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
    await expect(octokit.rest.repos.get({ owner: 'acme', repo: 'missing' })).rejects.toMatchObject({
      status: 404,
    })
    expect(gh.routeCounts()[ROUTE]).toBe(1)
  })

  it('sends the secondary-rate-limit response GitHub sends', async () => {
    gh.faults.add({ route: /\/repos\/\{owner\}\/\{repo\}$/, secondaryRateLimit: { retryAfter: 7 } })
    const response = await fetch(`${gh.apiUrl}/repos/acme/faults`, {
      headers: { authorization: `token ${gh.adminToken}` },
    })
    expect(response.status).toBe(403)
    expect(response.headers.get('retry-after')).toBe('7')
    expect(response.headers.get('x-ratelimit-remaining')).toMatch(/^\d+$/)
    expect(((await response.json()) as { message: string }).message).toMatch(
      /^You have exceeded a secondary rate limit/,
    )
  })

  it('fails the next N calls only, by method and route', async () => {
    gh.faults.add({
      method: 'POST',
      route: 'POST /repos/{owner}/{repo}/issues',
      status: 500,
      times: 2,
    })
    const headers = { authorization: `Bearer ${gh.adminToken}` }
    expect((await fetch(`${gh.apiUrl}/repos/acme/faults`, { headers })).status).toBe(200)
    const post = () =>
      fetch(`${gh.apiUrl}/repos/acme/faults/issues`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ title: 't' }),
      })
    expect((await post()).status).toBe(500)
    expect((await post()).status).toBe(500)
    expect((await post()).status).toBe(201)
    expect(gh.faults.pending).toEqual([])
  })

  it('adds latency and custom headers', async () => {
    gh.faults.add({ route: ROUTE, delayMs: 300 })
    gh.faults.add({
      route: ROUTE,
      status: 418,
      headers: { 'x-custom': 'yes' },
      body: { message: 'teapot' },
    })
    const headers = { authorization: `token ${gh.adminToken}` }
    const started = Date.now()
    expect((await fetch(`${gh.apiUrl}/repos/acme/faults`, { headers })).status).toBe(200)
    expect(Date.now() - started).toBeGreaterThanOrEqual(280)
    const teapot = await fetch(`${gh.apiUrl}/repos/acme/faults`, { headers })
    expect(teapot.status).toBe(418)
    expect(teapot.headers.get('x-custom')).toBe('yes')
  })

  it('resets the connection, and plugin-retry recovers from it', async () => {
    gh.faults.add({ route: ROUTE, reset: true })
    await expect(
      fetch(`${gh.apiUrl}/repos/acme/faults`, {
        headers: { authorization: `token ${gh.adminToken}` },
      }),
    ).rejects.toThrow()
    gh.faults.add({ route: ROUTE, reset: true })
    const octokit = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
    const { status } = await octokit.rest.repos.get({ owner: 'acme', repo: 'faults' })
    expect(status).toBe(200)
    expect(gh.requests.filter((entry) => entry.route === ROUTE).length).toBe(3)
  })

  it('applies faults to git smart-HTTP too', async () => {
    gh.faults.add({ route: /info\/refs/, status: 503 })
    const response = await fetch(
      `${gh.remoteUrl('acme/faults')}/info/refs?service=git-upload-pack`,
      {
        headers: {
          authorization: `Basic ${Buffer.from(`x-access-token:${gh.adminToken}`).toString('base64')}`,
        },
      },
    )
    expect(response.status).toBe(503)
    expect(gh.routeCounts()['GET /{owner}/{repo}.git/info/refs']).toBe(1)
  })

  it('keeps the simulator answering after a reset socket', async () => {
    gh.faults.add({ reset: true })
    await new Promise<void>((resolve) => {
      const socket = connect(Number(new URL(gh.serverUrl).port), '127.0.0.1', () => {
        socket.write(`GET /api/v3/rate_limit HTTP/1.1\r\nHost: x\r\n\r\n`)
      })
      socket.on('close', () => resolve())
      socket.on('error', () => undefined)
    })
    expect((await fetch(`${gh.apiUrl}/rate_limit`)).status).toBe(200)
  })
})
