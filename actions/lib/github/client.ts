// One of the two toolkit adapters in lib/ (test/contract.test.ts holds them to
// it): getOctokit gives the one client the runner's defaults (GITHUB_API_URL,
// the runner's proxy settings) for the actions, the CLI and the tests alike;
// the event context is read only in main.ts.
import { setTimeout as sleep } from 'node:timers/promises'
import { getOctokit } from '@actions/github'
import { retry } from '@octokit/plugin-retry'
import { throttling } from '@octokit/plugin-throttling'
import Bottleneck from 'bottleneck/light.js'
import { RateLimitBudgetError, RateLimitLedger, rateLimitWait } from './rate-limit.js'

export type GitHubClient = ReturnType<typeof getOctokit>

export interface GitHubClientOptions {
  /** REST base URL; defaults to GITHUB_API_URL, as on a runner. */
  baseUrl?: string
  /** Minimum spacing of write requests (GitHub asks for ≥ 1 s between content-creating calls). */
  writeIntervalMs?: number
  /** How many times a failed request (5xx, reset connection) is retried. */
  retries?: number
  /**
   * Rate limits are waited out, as GitHub asks, until the waits add up to
   * `budgetSeconds` (default 900); past it a request fails with a
   * RateLimitBudgetError. Pass a ledger to read the waits (job summary).
   */
  rateLimits?: RateLimitLedger
  /**
   * GitHub seconds per real second, for simulators with an accelerated clock
   * (tests only; default FLEET_PROMOTE_CLOCK_SCALE, else 1): sleeps are divided by it.
   */
  clockScale?: number
  /** Back-off unit of retried failures (5xx, resets): retry n waits n² times this. */
  retryBaseMs?: number
  log?: (message: string) => void
}

/** The wait budget when the caller does not choose one. */
export const DEFAULT_RATE_LIMIT_BUDGET_SECONDS = 900

/** Tests run the simulator's clock fast; FLEET_PROMOTE_CLOCK_SCALE tells the client by how much. */
export function defaultClockScale(): number {
  const value = Number(process.env.FLEET_PROMOTE_CLOCK_SCALE)
  return Number.isFinite(value) && value > 0 ? value : 1
}

/** A duration in milliseconds from the environment (for simulators), else the fallback. */
function msFromEnv(name: string, fallback: number): number {
  const raw = process.env[name]
  const value = Number(raw)
  return raw !== undefined && raw !== '' && Number.isFinite(value) && value >= 0 ? value : fallback
}

/** The default write pacing, overridable for simulators through FLEET_PROMOTE_WRITE_INTERVAL_MS. */
export function defaultWriteIntervalMs(): number {
  return msFromEnv('FLEET_PROMOTE_WRITE_INTERVAL_MS', 1000)
}

/** The default retry back-off unit (plugin-retry's 1 s), overridable through FLEET_PROMOTE_RETRY_BASE_MS. */
function defaultRetryBaseMs(): number {
  return msFromEnv('FLEET_PROMOTE_RETRY_BASE_MS', 1000)
}

/**
 * The one GitHub client: Octokit with retry (5xx, resets), paced writes
 * (plugin-throttling), and rate limits waited out within a budget.
 */
export function createGitHubClient(token: string, options: GitHubClientOptions = {}): GitHubClient {
  if (!token) throw new Error('a GitHub token is required')
  const retries = options.retries ?? 3
  const log = options.log ?? (() => undefined)
  const writeIntervalMs = options.writeIntervalMs ?? defaultWriteIntervalMs()
  const ledger = options.rateLimits ?? new RateLimitLedger(DEFAULT_RATE_LIMIT_BUDGET_SECONDS)
  const clockScale = options.clockScale ?? defaultClockScale()
  const retryAfterBaseValue = options.retryBaseMs ?? defaultRetryBaseMs()
  const octokit = getOctokit(
    token,
    {
      ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
      // plugin-retry's own option: a `request.retries` would make it retry every error (403/404/422 too) at once.
      // 405 (not mergeable) and 409 (head moved) are answers to act on, not faults to repeat.
      // 403 and 429 are rate limits (waited out below) or refusals, never faults to repeat at once.
      retry: {
        retries,
        retryAfterBaseValue,
        doNotRetry: [400, 401, 403, 404, 405, 409, 410, 422, 429, 451],
      },
      throttle: {
        write: new Bottleneck.Group({ maxConcurrent: 1, minTime: writeIntervalMs }),
        // Writes that notify (PRs, issues, comments, reviews, merges): plugin-throttling's default is 3 s apart.
        notifications: new Bottleneck.Group({ maxConcurrent: 1, minTime: writeIntervalMs * 3 }),
        // Waiting is the budgeted wrapper's job: plugin-throttling only paces.
        onRateLimit: () => false,
        onSecondaryRateLimit: () => false,
      },
    },
    retry,
    throttling,
  )
  octokit.hook.wrap('request', async (request, requestOptions) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await request(requestOptions)
      } catch (error) {
        const refused = refusedResponse(error)
        const wait = refused && rateLimitWait(refused, attempt, Date.now() / 1000)
        if (!wait) throw error
        const { method, url } = octokit.request.endpoint.parse(requestOptions)
        const what = `${method} ${url}`
        if (!ledger.allows(wait.seconds)) throw new RateLimitBudgetError(what, wait, ledger)
        log(`${wait.kind} rate limit on ${what}; waiting ${wait.seconds} s as GitHub asks`)
        ledger.waits.push({ kind: wait.kind, seconds: wait.seconds, request: what })
        await sleep((wait.seconds * 1000) / clockScale)
      }
    }
  })
  return octokit
}

/** Status, headers and message of an Octokit RequestError; undefined for other errors. */
function refusedResponse(error: unknown) {
  if (typeof error !== 'object' || error === null) return undefined
  const { status, response } = error as {
    status?: unknown
    response?: { headers?: Record<string, string | number | undefined>; data?: unknown }
  }
  if (typeof status !== 'number' || !response?.headers) return undefined
  const data = response.data as { message?: unknown } | undefined
  const message =
    typeof data?.message === 'string' ? data.message : String((error as Error).message)
  return { status, headers: response.headers, message }
}
