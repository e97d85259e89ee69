// The one GitHub client. Octokit itself comes from @actions/github's
// getOctokit, which main.ts passes in (only main.ts imports the toolkit,
// test/contract.test.ts): it gives the client the runner's defaults
// (GITHUB_API_URL, the runner's proxy settings) for the actions, the CLI and
// the tests alike; the event context is read only in main.ts.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Octokit } from '@octokit/core'
import type { OctokitOptions, OctokitPlugin } from '@octokit/core/types'
import type { Api } from '@octokit/plugin-rest-endpoint-methods'
import type { PaginateInterface } from '@octokit/plugin-paginate-rest'
import { retry } from '@octokit/plugin-retry'
import { throttling } from '@octokit/plugin-throttling'
import Bottleneck from 'bottleneck/light.js'
import { describeFailedRequest, RETRYABLE_NEVER } from './errors.js'
import { RateLimitBudgetError, RateLimitLedger, rateLimitWait } from './rate-limit.js'

/** What getOctokit returns: Octokit with the REST methods and pagination. */
export type GitHubClient = Octokit & Api & { paginate: PaginateInterface }

/** @actions/github's getOctokit (main.ts passes it). */
export type OctokitFactory = (
  token: string,
  options: OctokitOptions,
  ...plugins: OctokitPlugin[]
) => GitHubClient

export interface GitHubClientOptions {
  /** REST base URL; defaults to GITHUB_API_URL, as on a runner. */
  baseUrl?: string
  /** Where baseUrl came from, for errors (`from the api-url input`); default "from the baseUrl option". */
  baseUrlSource?: string
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

/** A ledger with the default budget, for an action to read its client's waits (job summary). */
export function rateLimitLedger(): RateLimitLedger {
  return new RateLimitLedger(DEFAULT_RATE_LIMIT_BUDGET_SECONDS)
}

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
export function defaultRetryBaseMs(): number {
  return msFromEnv('FLEET_PROMOTE_RETRY_BASE_MS', 1000)
}

/**
 * The one GitHub client: Octokit with retry (5xx, resets), paced writes
 * (plugin-throttling), and rate limits waited out within a budget.
 */
export function createGitHubClient(
  getOctokit: OctokitFactory,
  token: string,
  options: GitHubClientOptions = {},
): GitHubClient {
  if (!token) throw new Error('a GitHub token is required')
  const retries = options.retries ?? 3
  const log = options.log ?? (() => undefined)
  const writeIntervalMs = options.writeIntervalMs ?? defaultWriteIntervalMs()
  const ledger = options.rateLimits ?? new RateLimitLedger(DEFAULT_RATE_LIMIT_BUDGET_SECONDS)
  const clockScale = options.clockScale ?? defaultClockScale()
  const retryAfterBaseValue = options.retryBaseMs ?? defaultRetryBaseMs()
  const api = apiUrlOf(options)
  const octokit = getOctokit(
    token,
    {
      baseUrl: api.url,
      // plugin-retry's own option: a `request.retries` would make it retry every error (403/404/422 too) at once.
      // 405 (not mergeable) and 409 (head moved) are answers to act on, not faults to repeat.
      // 403 and 429 are rate limits (waited out below) or refusals, never faults to repeat at once.
      retry: {
        retries,
        retryAfterBaseValue,
        doNotRetry: [...RETRYABLE_NEVER],
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
    retryLog({ retries, retryBaseMs: retryAfterBaseValue, log }),
    retry,
    throttling,
  )
  waitOutRateLimits(octokit, { token, api, ledger, clockScale, log })
  return octokit
}

/**
 * Rate limits are waited out as GitHub asks, within the ledger's budget;
 * every other failure is explained (call, URL, cause, retries made).
 */
function waitOutRateLimits(
  octokit: GitHubClient,
  context: {
    token: string
    api: { url: string; source: string }
    ledger: RateLimitLedger
    clockScale: number
    log: (message: string) => void
  },
): void {
  const { token, api, ledger, clockScale, log } = context
  octokit.hook.wrap('request', async (request, requestOptions) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await request(requestOptions)
      } catch (error) {
        const refused = refusedResponse(error)
        const wait = refused && rateLimitWait(refused, attempt, Date.now() / 1000)
        const { method, url } = octokit.request.endpoint.parse(requestOptions)
        const what = `${method} ${url}`
        if (!wait) {
          const retryCount = (requestOptions.request as { retryCount?: number } | undefined)
            ?.retryCount
          // plugin-retry counts the failed attempt last (retries made + 1).
          throw explained(error, {
            call: what,
            token,
            api,
            retries: Math.max((retryCount ?? 0) - 1, 0),
          })
        }
        if (!ledger.allows(wait.seconds)) throw new RateLimitBudgetError(what, wait, ledger)
        log(`${wait.kind} rate limit on ${what}; waiting ${wait.seconds} s as GitHub asks`)
        ledger.waits.push({ kind: wait.kind, seconds: wait.seconds, request: what })
        await sleep((wait.seconds * 1000) / clockScale)
      }
    }
  })
}

/** The REST base URL and where it came from (GITHUB_API_URL is read per client, as the runner sets it). */
function apiUrlOf(options: GitHubClientOptions): { url: string; source: string } {
  if (options.baseUrl)
    return { url: options.baseUrl, source: options.baseUrlSource ?? 'from the baseUrl option' }
  const fromEnv = process.env.GITHUB_API_URL
  if (fromEnv) return { url: fromEnv, source: 'from GITHUB_API_URL' }
  return { url: 'https://api.github.com', source: 'the default: GITHUB_API_URL is not set' }
}

/** The network error under Octokit's "fetch failed" 500 (its code and message); undefined for an answer. */
function networkError(error: unknown): { code?: string; message: string } | undefined {
  type Cause = { code?: unknown; message?: unknown; cause?: Cause }
  const failure = error as { response?: unknown; cause?: Cause } | null
  if (failure === null || typeof failure !== 'object' || failure.response !== undefined)
    return undefined
  // fetch's TypeError('fetch failed') carries the socket's error as its cause.
  const cause = failure.cause?.cause ?? failure.cause
  const code = typeof cause?.code === 'string' ? cause.code : undefined
  const message =
    typeof cause?.message === 'string' ? cause.message : String((error as Error).message)
  return { ...(code ? { code } : {}), message }
}

/**
 * A request's final failure with its message rewritten to name the call, the
 * cause, the retries made and what to check; status and response are kept,
 * since callers act on them.
 */
function explained(
  error: unknown,
  context: {
    call: string
    token: string
    api: { url: string; source: string }
    retries: number
  },
): unknown {
  if (!(error instanceof Error)) return error
  const network = networkError(error)
  const refused = refusedResponse(error)
  if (!network && !refused) return error
  const accepted = refused?.headers['x-accepted-github-permissions']
  const line = describeFailedRequest({
    call: context.call,
    ...(network ? network : { status: refused?.status, message: refused?.message ?? '' }),
    ...(accepted !== undefined ? { acceptedPermissions: String(accepted) } : {}),
    retries: context.retries,
    apiUrl: context.api.url,
    apiUrlSource: context.api.source,
    token: context.token,
  })
  if (line) error.message = line
  return error
}

/**
 * An Octokit plugin placed before plugin-retry, so its error hook sees every
 * attempt: it logs each failure that plugin-retry is about to retry (the same
 * test as plugin-retry's), instead of seconds of silence.
 */
function retryLog(settings: { retries: number; retryBaseMs: number; log: (line: string) => void }) {
  return (octokit: Pick<GitHubClient, 'hook' | 'request'>) => {
    octokit.hook.error('request', (error, options) => {
      const status = (error as { status?: unknown }).status
      const attempt = (options.request as { retryCount?: number } | undefined)?.retryCount ?? 0
      const retryable =
        typeof status === 'number' && status >= 400 && !RETRYABLE_NEVER.includes(status)
      if (retryable && attempt < settings.retries) {
        const seconds = ((attempt + 1) ** 2 * settings.retryBaseMs) / 1000
        const network = networkError(error)
        const cause = network ? network.message : `GitHub answered ${String(status)}`
        const { method, url } = octokit.request.endpoint.parse(options)
        settings.log(
          `${method} ${url} failed (${cause}); retry ${attempt + 1} of ${settings.retries} in ${seconds} s`,
        )
      }
      throw error
    })
  }
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
