import { getOctokit } from '@actions/github'
import { retry } from '@octokit/plugin-retry'
import { throttling } from '@octokit/plugin-throttling'
import Bottleneck from 'bottleneck/light.js'

export type GitHubClient = ReturnType<typeof getOctokit>

export interface GitHubClientOptions {
  /** REST base URL; defaults to GITHUB_API_URL, as on a runner. */
  baseUrl?: string
  /** Minimum spacing of write requests (GitHub asks for ≥ 1 s between content-creating calls). */
  writeIntervalMs?: number
  /** How many times a rate-limited or failed request is retried. */
  retries?: number
  log?: (message: string) => void
}

/** The default write pacing, overridable for simulators through FLEET_PROMOTE_WRITE_INTERVAL_MS. */
export function defaultWriteIntervalMs(): number {
  const value = Number(process.env.FLEET_PROMOTE_WRITE_INTERVAL_MS)
  return Number.isFinite(value) &&
    value >= 0 &&
    process.env.FLEET_PROMOTE_WRITE_INTERVAL_MS !== '' &&
    process.env.FLEET_PROMOTE_WRITE_INTERVAL_MS !== undefined
    ? value
    : 1000
}

/**
 * The one GitHub client: Octokit with retry (5xx, resets) and throttling
 * (primary and secondary rate limits, `retry-after`, paced writes).
 */
export function createGitHubClient(token: string, options: GitHubClientOptions = {}): GitHubClient {
  if (!token) throw new Error('a GitHub token is required')
  const retries = options.retries ?? 3
  const log = options.log ?? (() => undefined)
  const writeIntervalMs = options.writeIntervalMs ?? defaultWriteIntervalMs()
  return getOctokit(
    token,
    {
      ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
      // plugin-retry's own option: a `request.retries` would make it retry every error (403/404/422 too) at once.
      // 405 (not mergeable) and 409 (head moved) are answers to act on, not faults to repeat.
      retry: { retries, doNotRetry: [400, 401, 403, 404, 405, 409, 410, 422, 451] },
      throttle: {
        write: new Bottleneck.Group({ maxConcurrent: 1, minTime: writeIntervalMs }),
        // Writes that notify (PRs, issues, comments, reviews, merges): plugin-throttling's default is 3 s apart.
        notifications: new Bottleneck.Group({ maxConcurrent: 1, minTime: writeIntervalMs * 3 }),
        onRateLimit: (
          retryAfter: number,
          request: { method: string; url: string },
          _octokit: unknown,
          retryCount: number,
        ) => {
          log(`rate limit on ${request.method} ${request.url}; retrying in ${retryAfter} s`)
          return retryCount < retries
        },
        onSecondaryRateLimit: (
          retryAfter: number,
          request: { method: string; url: string },
          _octokit: unknown,
          retryCount: number,
        ) => {
          log(
            `secondary rate limit on ${request.method} ${request.url}; retrying in ${retryAfter} s`,
          )
          return retryCount < retries
        },
      },
    },
    retry,
    throttling,
  )
}
