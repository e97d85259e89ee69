// A wrong API URL, a host that does not resolve and a token that is not one:
// each final failure is one line naming the call, the cause, the retries made
// and what to check, and every retry is logged as it happens.
import { createServer } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createGitHubClient } from './support/github-client.js'
import { describeFailedRequest, transientAs } from '../actions/lib/github/errors.js'
import { startGitHubSimulator, type GitHubSimulator } from './support/github/index.js'

let gh: GitHubSimulator
beforeAll(async () => {
  gh = await startGitHubSimulator()
  await gh.createRepo('acme/errors')
})
afterAll(async () => {
  await gh.stop()
})

const savedApiUrl = process.env.GITHUB_API_URL
afterEach(() => {
  if (savedApiUrl === undefined) delete process.env.GITHUB_API_URL
  else process.env.GITHUB_API_URL = savedApiUrl
})

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (typeof address !== 'object' || address === null) throw new Error('no port')
  return address.port
}

async function failure(call: Promise<unknown>): Promise<string> {
  try {
    await call
  } catch (error) {
    return (error as Error).message
  }
  throw new Error('the call succeeded')
}

describe('request failures name their cause', () => {
  it('a closed port (GITHUB_API_URL): connection refused, the URL and its source, each retry logged', async () => {
    const port = await closedPort()
    process.env.GITHUB_API_URL = `http://127.0.0.1:${port}`
    const logs: string[] = []
    const octokit = createGitHubClient(gh.adminToken, { retryBaseMs: 1, log: (l) => logs.push(l) })
    const message = await failure(octokit.rest.repos.get({ owner: 'acme', repo: 'errors' }))
    expect(message).toBe(
      `GET http://127.0.0.1:${port}/repos/acme/errors: connection refused ` +
        `(connect ECONNREFUSED 127.0.0.1:${port}) after 3 retries; check that the API URL ` +
        `http://127.0.0.1:${port} (from GITHUB_API_URL) names a running GitHub API`,
    )
    expect(logs).toEqual(
      [1, 2, 3].map(
        (n) =>
          `GET http://127.0.0.1:${port}/repos/acme/errors failed (connect ECONNREFUSED 127.0.0.1:${port}); ` +
          `retry ${n} of 3 in ${(n * n) / 1000} s`,
      ),
    )
  })

  it('a host that does not resolve: host not found, and DNS to check', async () => {
    const octokit = createGitHubClient(gh.adminToken, {
      baseUrl: 'http://no-such-host.invalid',
      baseUrlSource: 'from the api-url input',
      retries: 1,
      retryBaseMs: 1,
    })
    const message = await failure(octokit.rest.repos.get({ owner: 'acme', repo: 'errors' }))
    expect(message).toMatch(
      /^GET http:\/\/no-such-host\.invalid\/repos\/acme\/errors: host not found \(getaddrinfo (ENOTFOUND|EAI_AGAIN) no-such-host\.invalid\) after 1 retry; check the API URL http:\/\/no-such-host\.invalid \(from the api-url input\) and the runner's DNS$/,
    )
  })

  it('an unexpanded ${{ github.token }}: 401 named, no retry', async () => {
    const octokit = createGitHubClient('${{ github.token }}', { baseUrl: gh.apiUrl })
    gh.resetRequests()
    const message = await failure(octokit.rest.repos.get({ owner: 'acme', repo: 'errors' }))
    expect(message).toBe(
      `GET ${gh.apiUrl}/repos/acme/errors: GitHub refused the token (401 Bad credentials); the token is ` +
        'the unexpanded expression "${{ github.token }}": pass it through a `with:` input or `env:`, where GitHub expands it',
    )
    expect(gh.requests).toHaveLength(1)
  })

  it('a wrong token: 401 with the host it must be made for', async () => {
    const octokit = createGitHubClient('ghp_not-a-token', { baseUrl: gh.apiUrl })
    const message = await failure(octokit.rest.repos.get({ owner: 'acme', repo: 'errors' }))
    expect(message).toBe(
      `GET ${gh.apiUrl}/repos/acme/errors: GitHub refused the token (401 Bad credentials); check the token ` +
        `input (expired, revoked, or made for another host than ${gh.apiUrl}, from the baseUrl option)`,
    )
  })

  it('a 403 that is no rate limit: the token source, no retry, and the permissions to check', async () => {
    gh.setPermission('acme/errors', 'reader', 'read')
    const { token } = gh.addUser('reader')
    const octokit = createGitHubClient(token, { baseUrl: gh.apiUrl, retryBaseMs: 1 })
    gh.resetRequests()
    const message = await failure(
      octokit.rest.repos.createCommitStatus({
        owner: 'acme',
        repo: 'errors',
        sha: 'a'.repeat(40),
        state: 'pending',
        context: 'fleet-promote/x',
      }),
    )
    expect(message).toBe(
      `POST ${gh.apiUrl}/repos/acme/errors/statuses/${'a'.repeat(40)}: GitHub refused the token from the ` +
        'token input (403 Resource not accessible by integration); check what it may do: the `permissions:` ' +
        "of the workflow or job for GITHUB_TOKEN (the input's default), else the GitHub App's or token's " +
        'repository permissions',
    )
    expect(gh.requests).toHaveLength(1)
  })

  it('a 5xx through transientAs keeps the call, the URL and the retries', async () => {
    gh.faults.add({
      route: '/repos/{owner}/{repo}',
      status: 503,
      body: { message: 'Unavailable' },
      times: 3,
    })
    const octokit = createGitHubClient(gh.adminToken, {
      baseUrl: gh.apiUrl,
      retries: 2,
      retryBaseMs: 1,
    })
    const message = await failure(
      transientAs(
        'reading the repository',
        're-run the command',
        octokit.rest.repos.get({ owner: 'acme', repo: 'errors' }),
      ),
    )
    expect(message).toBe(
      `reading the repository: GET ${gh.apiUrl}/repos/acme/errors: GitHub answered 503 "Unavailable" after 2 retries (transient); re-run the command`,
    )
    gh.faults.clear()
  })

  it('a 404 keeps its own message (callers act on it)', async () => {
    const octokit = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
    const error = await octokit.rest.repos
      .get({ owner: 'acme', repo: 'missing' })
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ status: 404 })
    expect((error as Error).message).not.toMatch(/^GET /)
  })
})

describe('describeFailedRequest', () => {
  const base = {
    call: 'GET https://api.github.com/repos/a/b',
    retries: 3,
    apiUrl: 'https://api.github.com',
    apiUrlSource: 'the default: GITHUB_API_URL is not set',
    token: 'ghs_x',
  }
  it.each([
    [
      { code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND api.github.com' },
      "GET https://api.github.com/repos/a/b: host not found (getaddrinfo ENOTFOUND api.github.com) after 3 retries; check the API URL https://api.github.com (the default: GITHUB_API_URL is not set) and the runner's DNS",
    ],
    [
      { code: 'ETIMEDOUT', message: 'connect ETIMEDOUT 1.2.3.4:443' },
      "GET https://api.github.com/repos/a/b: no answer (connect ETIMEDOUT 1.2.3.4:443) after 3 retries; check the API URL https://api.github.com (the default: GITHUB_API_URL is not set) and the runner's network or proxy",
    ],
    [
      { status: 502, message: 'Bad Gateway' },
      'GET https://api.github.com/repos/a/b: GitHub answered 502 "Bad Gateway" after 3 retries (transient)',
    ],
    [
      {
        status: 403,
        message: 'Resource not accessible by integration',
        acceptedPermissions: 'statuses=write',
      },
      "GET https://api.github.com/repos/a/b: GitHub refused the token from the token input (403 Resource not accessible by integration; GitHub asks for statuses=write); check what it may do: the `permissions:` of the workflow or job for GITHUB_TOKEN (the input's default), else the GitHub App's or token's repository permissions",
    ],
    [{ status: 404, message: 'Not Found' }, undefined],
    [{ status: 422, message: 'Validation Failed' }, undefined],
  ])('%j', (facts, expected) => {
    expect(describeFailedRequest({ ...base, ...facts })).toBe(expected)
  })
})
