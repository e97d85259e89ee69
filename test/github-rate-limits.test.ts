// The simulator's rate limits (GitHub's documented numbers, on an accelerated
// clock) and the client that waits them out within a budget.
import { afterEach, describe, expect, it } from 'vitest'
import { createGitHubClient } from './support/github-client.js'
import { noteRateLimitWaits } from '../actions/lib/action-io.js'
import {
  RateLimitBudgetError,
  RateLimitLedger,
  rateLimitWait,
} from '../actions/lib/github/rate-limit.js'
import {
  GITHUB_RATE_LIMITS,
  startGitHubSimulator,
  type GitHubSimulator,
  type RateLimitOptions,
} from './support/github/index.js'

let gh: GitHubSimulator | undefined
afterEach(async () => {
  await gh?.stop()
  gh = undefined
})

async function simulator(rateLimits?: RateLimitOptions) {
  gh = await startGitHubSimulator(rateLimits ? { rateLimits } : {})
  await gh.createRepo('acme/one')
  await gh.createRepo('acme/two')
  const workflow = gh.addUser('github-actions[bot]', { type: 'Bot', tokenKind: 'github-token' })
  const app = gh.addUser('fleet-app[bot]', { type: 'Bot' })
  for (const repo of ['acme/one', 'acme/two']) {
    gh.setPermission(repo, workflow.login, 'write')
    gh.setPermission(repo, app.login, 'write')
  }
  const sha = gh.state.refSha('acme/one', 'main') ?? ''
  return { gh, workflow, app, sha }
}

/** Sends `count` requests one after the other; the responses' statuses and the last response. */
async function send(count: number, url: string, token: string, init: RequestInit = {}) {
  const statuses: number[] = []
  let last: Response | undefined
  for (let i = 0; i < count; i++) {
    last = await fetch(url, {
      ...init,
      headers: { authorization: `token ${token}`, ...init.headers },
    })
    statuses.push(last.status)
    await last.arrayBuffer()
  }
  return { statuses, last: last! }
}

/**
 * Sends `count` requests, 50 at a time (under the concurrency limit); how many
 * got each status, and the responses that were not 2xx (bodies unread).
 */
async function sendMany(
  count: number,
  url: string,
  token: string,
  init: (i: number) => RequestInit,
) {
  const counts: Record<number, number> = {}
  const refused: Response[] = []
  for (let start = 0; start < count; start += 50) {
    const batch = Array.from({ length: Math.min(50, count - start) }, (_, k) => start + k)
    const responses = await Promise.all(
      batch.map((i) => {
        const request = init(i)
        return fetch(url, {
          ...request,
          headers: { authorization: `token ${token}`, ...request.headers },
        })
      }),
    )
    for (const response of responses) {
      counts[response.status] = (counts[response.status] ?? 0) + 1
      if (response.status >= 300) refused.push(response)
      else await response.arrayBuffer()
    }
  }
  return { counts, refused }
}

const statusBody = (i: number) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ state: 'success', context: `ctx-${i}` }),
})

describe('the simulator without rate limits (the default)', () => {
  it('refuses nothing and reports the old flat budget', async () => {
    const { gh, app, sha } = await simulator()
    expect(gh.rateLimits).toBeUndefined()
    const url = `${gh.apiUrl}/repos/acme/one/statuses/${sha}`
    const created = await send(81, url, app.token, statusBody(0))
    expect(created.statuses.every((status) => status === 201)).toBe(true)
    expect(created.last.headers.get('x-ratelimit-limit')).toBe('5000')
  })
})

describe('primary rate limits', () => {
  it('gives GITHUB_TOKEN 1,000 requests an hour per repository, then 403 with remaining 0 and the reset', async () => {
    // Only the hourly limit under test: 1,000 GETs of one endpoint in a minute pass its 900 points.
    const { gh, workflow } = await simulator({ limits: { pointsPerEndpointPerMinute: 1_000_000 } })
    const { counts, refused } = await sendMany(
      1001,
      `${gh.apiUrl}/repos/acme/one`,
      workflow.token,
      () => ({}),
    )
    expect(counts).toEqual({ 200: 1000, 403: 1 })
    const last = refused[0]!
    expect(last.headers.get('x-ratelimit-limit')).toBe('1000')
    expect(last.headers.get('x-ratelimit-remaining')).toBe('0')
    expect(last.headers.get('retry-after')).toBeNull()
    const reset = Number(last.headers.get('x-ratelimit-reset'))
    const date = Date.parse(last.headers.get('date') ?? '') / 1000
    expect(reset - date).toBeGreaterThan(3500)
    expect(reset - date).toBeLessThanOrEqual(3601)
    expect(((await last.json()) as { message: string }).message).toMatch(
      /^API rate limit exceeded for installation ID \d+\.$/,
    )
    // Per repository: the other repository still has its own 1,000.
    const other = await fetch(`${gh.apiUrl}/repos/acme/two`, {
      headers: { authorization: `token ${workflow.token}` },
    })
    expect(other.status).toBe(200)
    expect(other.headers.get('x-ratelimit-remaining')).toBe('999')
    expect(gh.rateLimits?.refusals).toEqual({ primary: 1 })
    expect(gh.validationErrors).toEqual([])
  })

  it('gives an App installation and a user 5,000 an hour across repositories', async () => {
    const { gh, app } = await simulator({})
    const one = await fetch(`${gh.apiUrl}/repos/acme/one`, {
      headers: { authorization: `token ${app.token}` },
    })
    const two = await fetch(`${gh.apiUrl}/repos/acme/two`, {
      headers: { authorization: `token ${app.token}` },
    })
    expect(one.headers.get('x-ratelimit-limit')).toBe(
      String(GITHUB_RATE_LIMITS.installationPerHour),
    )
    expect(two.headers.get('x-ratelimit-remaining')).toBe('4998')
    const admin = await fetch(`${gh.apiUrl}/user`, {
      headers: { authorization: `token ${gh.adminToken}` },
    })
    expect(admin.headers.get('x-ratelimit-limit')).toBe(String(GITHUB_RATE_LIMITS.userPerHour))
    expect(GITHUB_RATE_LIMITS).toMatchObject({
      userPerHour: 5000,
      installationPerHour: 5000,
      githubTokenPerRepoPerHour: 1000,
    })
  })

  it('opens a new window an hour after the first request, on the accelerated clock', async () => {
    const { gh, workflow } = await simulator({
      clockScale: 7200,
      limits: { githubTokenPerRepoPerHour: 3 },
    })
    const first = await send(4, `${gh.apiUrl}/repos/acme/one`, workflow.token)
    expect(first.statuses).toEqual([200, 200, 200, 403])
    await new Promise((resolve) => setTimeout(resolve, 600)) // 600 ms × 7200 = 72 simulated minutes
    const after = await send(1, `${gh.apiUrl}/repos/acme/one`, workflow.token)
    expect(after.statuses).toEqual([200])
    expect(after.last.headers.get('x-ratelimit-remaining')).toBe('2')
  })
})

describe('secondary rate limits', () => {
  it('allows 80 content-creating requests a minute, then 429 with retry-after', async () => {
    const { gh, app, sha } = await simulator({})
    const url = `${gh.apiUrl}/repos/acme/one/statuses/${sha}`
    const statuses: number[] = []
    let last: Response | undefined
    for (let i = 0; i < 81; i++) {
      last = await fetch(url, {
        ...statusBody(i),
        headers: { ...statusBody(i).headers, authorization: `token ${app.token}` },
      })
      statuses.push(last.status)
    }
    expect(statuses.slice(0, 80).every((status) => status === 201)).toBe(true)
    expect(last!.status).toBe(429)
    const retryAfter = Number(last!.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThan(0)
    expect(retryAfter).toBeLessThanOrEqual(60)
    expect(((await last!.json()) as { message: string }).message).toMatch(/secondary rate limit/)
    // Reads are not content-creating.
    expect(
      (
        await fetch(`${gh.apiUrl}/repos/acme/one`, {
          headers: { authorization: `token ${app.token}` },
        })
      ).status,
    ).toBe(200)
    expect(gh.state.statuses('acme/one', sha)).toHaveLength(80)
    expect(gh.rateLimits?.refusals).toEqual({ 'content-per-minute': 1 })
  })

  it('allows 500 content-creating requests an hour', async () => {
    const { gh, app, sha } = await simulator({
      // Only the hourly limit under test: the per-minute ones out of the way.
      limits: { contentPerMinute: 10_000, pointsPerEndpointPerMinute: 1_000_000 },
    })
    const url = `${gh.apiUrl}/repos/acme/one/statuses/${sha}`
    const { counts, refused } = await sendMany(501, url, app.token, statusBody)
    expect(counts).toEqual({ 201: 500, 429: 1 })
    const last = refused[0]
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(3000)
    expect(gh.rateLimits?.refusals).toEqual({ 'content-per-hour': 1 })
  })

  it('allows 900 points a minute per endpoint (a GET is 1 point), other endpoints unaffected', async () => {
    const { gh, app } = await simulator({})
    const { counts, refused } = await sendMany(
      901,
      `${gh.apiUrl}/repos/acme/one/pulls`,
      app.token,
      () => ({}),
    )
    expect(counts).toEqual({ 200: 900, 429: 1 })
    expect(Number(refused[0]!.headers.get('retry-after'))).toBeGreaterThan(0)
    expect((await send(1, `${gh.apiUrl}/repos/acme/one`, app.token)).statuses).toEqual([200])
    expect(gh.rateLimits?.refusals).toEqual({ 'endpoint-points': 1 })
  })

  it('allows 100 concurrent requests; the 101st is refused without retry-after', async () => {
    const { gh, app } = await simulator({})
    gh.faults.add({ route: 'GET /repos/{owner}/{repo}', delayMs: 400, times: 100 })
    const responses = await Promise.all(
      Array.from({ length: 101 }, (_, i) =>
        new Promise<void>((resolve) => setTimeout(resolve, i === 100 ? 150 : 0)).then(() =>
          fetch(`${gh.apiUrl}/repos/acme/one`, {
            headers: { authorization: `token ${app.token}` },
          }),
        ),
      ),
    )
    const refused = responses.filter((response) => response.status === 429)
    expect(refused).toHaveLength(1)
    expect(refused[0]!.headers.get('retry-after')).toBeNull()
    expect(gh.rateLimits?.refusals).toEqual({ concurrent: 1 })
  })
})

describe('the client waits rate limits out within its budget', () => {
  it('waits out a secondary limit on the accelerated clock and reports the wait', async () => {
    const { gh, app, sha } = await simulator({ clockScale: 60, limits: { contentPerMinute: 3 } })
    const ledger = new RateLimitLedger(300)
    const logs: string[] = []
    const client = createGitHubClient(app.token, {
      baseUrl: gh.apiUrl,
      rateLimits: ledger,
      clockScale: 60,
      log: (line) => logs.push(line),
    })
    const started = Date.now()
    for (let i = 0; i < 5; i++) {
      await client.rest.repos.createCommitStatus({
        owner: 'acme',
        repo: 'one',
        sha,
        state: 'success',
        context: `c${i}`,
      })
    }
    expect(gh.state.statuses('acme/one', sha)).toHaveLength(5)
    expect(ledger.waits.length).toBeGreaterThanOrEqual(1)
    expect(ledger.waits.every((wait) => wait.kind === 'secondary')).toBe(true)
    expect(ledger.waitedSeconds).toBeGreaterThan(0)
    expect(ledger.waitedSeconds).toBeLessThanOrEqual(61 * ledger.waits.length)
    expect(ledger.summary()).toMatch(
      /^Waited \d+ s for GitHub rate limits \(\d+ secondary; budget 300 s\)\.$/,
    )
    expect(logs.join('\n')).toMatch(/secondary rate limit on POST .*statuses.*; waiting \d+ s/)
    // Every action ends its log and job summary with that line.
    const written: string[] = []
    const io = {
      info: (line: string) => logs.push(line),
      summary: {
        addRaw: (text: string) => ({ write: () => Promise.resolve(written.push(text)) }),
      },
    }
    await noteRateLimitWaits(io, ledger)
    expect(written).toEqual([`\n${ledger.summary()}\n`])
    expect(logs.at(-1)).toBe(ledger.summary())
    await noteRateLimitWaits(io, new RateLimitLedger(300))
    expect(written).toHaveLength(1)
    // 60 simulated seconds at most per wait, i.e. 1 s of real time.
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(gh.validationErrors).toEqual([])
  })

  it('waits until the primary reset when the budget allows it', async () => {
    const { gh, workflow } = await simulator({
      clockScale: 7200,
      limits: { githubTokenPerRepoPerHour: 2 },
    })
    const ledger = new RateLimitLedger(4000)
    const client = createGitHubClient(workflow.token, {
      baseUrl: gh.apiUrl,
      rateLimits: ledger,
      clockScale: 7200,
    })
    for (let i = 0; i < 3; i++) await client.rest.repos.get({ owner: 'acme', repo: 'one' })
    expect(ledger.waits).toHaveLength(1)
    expect(ledger.waits[0]).toMatchObject({ kind: 'primary' })
    // Until the window's reset: at most an hour and a second after its first request.
    expect(ledger.waitedSeconds).toBeGreaterThan(0)
    expect(ledger.waitedSeconds).toBeLessThanOrEqual(3601)
  })

  it('gives up with a clear error, without sleeping, when the wait would pass the budget', async () => {
    const { gh, workflow } = await simulator({ limits: { githubTokenPerRepoPerHour: 2 } })
    const ledger = new RateLimitLedger(600)
    const client = createGitHubClient(workflow.token, { baseUrl: gh.apiUrl, rateLimits: ledger })
    await client.rest.repos.get({ owner: 'acme', repo: 'one' })
    await client.rest.repos.get({ owner: 'acme', repo: 'one' })
    const started = Date.now()
    const failure = client.rest.repos.get({ owner: 'acme', repo: 'one' })
    await expect(failure).rejects.toBeInstanceOf(RateLimitBudgetError)
    await expect(failure).rejects.toThrow(
      /^GitHub primary rate limit: GET http:\/\/127\.0\.0\.1:\d+\/api\/v3\/repos\/acme\/one was refused \("API rate limit exceeded for installation ID \d+\."\)\. GitHub asks to wait \d+ s more, but this run has already waited 0 s of its 600 s rate-limit budget\./,
    )
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(ledger.waits).toEqual([])
    expect(gh.routeCounts()['GET /repos/{owner}/{repo}']).toBe(3)
  })
})

describe('rateLimitWait (what GitHub asks for)', () => {
  const at = Date.parse('2026-01-01T00:00:00Z') / 1000
  const date = new Date(at * 1000).toUTCString()
  it.each([
    [
      'retry-after comes first',
      {
        status: 429,
        headers: {
          'retry-after': '30',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(at + 900),
        },
        message: 'You have exceeded a secondary rate limit.',
      },
      0,
      { kind: 'secondary', seconds: 30 },
    ],
    [
      'remaining 0: until the reset on the server clock, plus a second',
      {
        status: 403,
        headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(at + 120), date },
        message: 'API rate limit exceeded for user ID 1.',
      },
      0,
      { kind: 'primary', seconds: 121 },
    ],
    [
      'a secondary limit without headers: a minute',
      { status: 403, headers: {}, message: 'You have exceeded a secondary rate limit.' },
      0,
      { kind: 'secondary', seconds: 60 },
    ],
    [
      '… doubling on each repeat',
      { status: 429, headers: {}, message: '' },
      2,
      { kind: 'secondary', seconds: 240 },
    ],
  ] as const)('%s', (_name, response, attempt, expected) => {
    expect(rateLimitWait(response, attempt, at + 5000)).toMatchObject(expected)
  })

  it('is not a rate limit: a 403 for permissions, a 404, a 5xx', () => {
    const headers = { 'x-ratelimit-remaining': '4999' }
    expect(
      rateLimitWait(
        { status: 403, headers, message: 'Resource not accessible by integration' },
        0,
        at,
      ),
    ).toBeUndefined()
    expect(rateLimitWait({ status: 404, headers, message: 'Not Found' }, 0, at)).toBeUndefined()
    expect(
      rateLimitWait(
        { status: 502, headers: { 'retry-after': '1' }, message: 'Bad Gateway' },
        0,
        at,
      ),
    ).toBeUndefined()
  })
})
