/**
 * GitHub's documented REST rate limits, on demand, over an accelerated clock
 * ("Rate limits for the REST API", docs.github.com):
 *
 * - primary, per token kind, in a one-hour window that starts with the
 *   window's first request: a user's token 5,000/h, a GitHub App installation
 *   5,000/h, a workflow's GITHUB_TOKEN 1,000/h per repository; anonymous 60/h.
 *   Refused with 403, `x-ratelimit-remaining: 0` and `x-ratelimit-reset`.
 * - secondary, per token holder: at most 100 concurrent requests; 900 points
 *   per minute per REST endpoint (GET/HEAD/OPTIONS 1 point, other methods 5);
 *   80 content-creating requests per minute and 500 per hour. Refused with 429,
 *   the "secondary rate limit" message and `retry-after` in seconds (none for
 *   concurrency, where GitHub's advice is to wait at least a minute).
 *
 * Content-creating requests here are POST, PUT and PATCH (DELETE removes
 * content). Every time is on the simulator's clock: `clockScale` simulated
 * seconds pass per real second, the `date` header carries that clock, and
 * `retry-after` and `x-ratelimit-reset` are in its seconds, so a client that
 * scales its sleeps by the same factor waits exactly as long as GitHub asks.
 */
import { secondaryRateLimitBody } from './faults.js'
import type { SimUser, TokenKind } from './types.js'

export interface RateLimitOptions {
  /** Simulated seconds per real second (default 1: real time). */
  clockScale?: number
  /** Override documented numbers, e.g. a smaller hourly budget for a short test. */
  limits?: Partial<RateLimitNumbers>
}

export interface RateLimitNumbers {
  userPerHour: number
  installationPerHour: number
  githubTokenPerRepoPerHour: number
  anonymousPerHour: number
  concurrent: number
  pointsPerEndpointPerMinute: number
  contentPerMinute: number
  contentPerHour: number
}

export const GITHUB_RATE_LIMITS: RateLimitNumbers = {
  userPerHour: 5000,
  installationPerHour: 5000,
  githubTokenPerRepoPerHour: 1000,
  anonymousPerHour: 60,
  concurrent: 100,
  pointsPerEndpointPerMinute: 900,
  contentPerMinute: 80,
  contentPerHour: 500,
}

/** A refusal: status, headers and body as GitHub sends them. */
export interface RateLimitRefusal {
  status: 403 | 429
  headers: Record<string, string>
  body: { message: string; documentation_url: string; status: string }
  /** Which limit: `primary`, `concurrent`, `endpoint-points`, `content-per-minute`, `content-per-hour`. */
  limit: string
}

export interface RateLimitRequest {
  method: string
  /** `METHOD /template` of the route. */
  route: string
  user: SimUser | undefined
  /** `owner/repo` when the route is under a repository. */
  repo: string | undefined
}

const DOCS = 'https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api'
const MINUTE = 60_000
const HOUR = 3_600_000

/** Timestamps of the last window's requests, oldest first. */
class SlidingWindow {
  private readonly times: number[] = []
  constructor(private readonly spanMs: number) {}
  /** Requests within the span ending at `now`. */
  used(now: number): number {
    while (this.times.length > 0 && this.times[0]! <= now - this.spanMs) this.times.shift()
    return this.times.length
  }
  add(now: number) {
    this.times.push(now)
  }
  /** Milliseconds until the oldest `count` entries have left the window. */
  freeIn(now: number, count: number): number {
    const at = this.times[Math.min(count, this.times.length) - 1]
    return at === undefined ? 0 : at + this.spanMs - now
  }
}

/** Points spent on one endpoint, as (time, points) entries. */
class PointsWindow {
  private readonly entries: { at: number; points: number }[] = []
  used(now: number): number {
    while (this.entries.length > 0 && this.entries[0]!.at <= now - MINUTE) this.entries.shift()
    return this.entries.reduce((sum, entry) => sum + entry.points, 0)
  }
  add(now: number, points: number) {
    this.entries.push({ at: now, points })
  }
  /** Milliseconds until `points` more fit under `limit`. */
  freeIn(now: number, points: number, limit: number): number {
    let used = this.used(now)
    for (const entry of this.entries) {
      if (used + points <= limit) break
      used -= entry.points
      if (used + points <= limit) return entry.at + MINUTE - now
    }
    return 0
  }
}

interface PrimaryWindow {
  resetAt: number
  used: number
}

export class RateLimiter {
  readonly limits: RateLimitNumbers
  readonly clockScale: number
  private readonly origin = Date.now()
  private readonly primary = new Map<string, PrimaryWindow>()
  private readonly inFlight = new Map<string, number>()
  private readonly points = new Map<string, PointsWindow>()
  private readonly contentMinute = new Map<string, SlidingWindow>()
  private readonly contentHour = new Map<string, SlidingWindow>()
  /** Refusals so far, by limit. */
  readonly refusals: Record<string, number> = {}

  constructor(options: RateLimitOptions) {
    this.clockScale = options.clockScale ?? 1
    if (!(this.clockScale > 0)) throw new Error(`rateLimits.clockScale must be > 0`)
    this.limits = { ...GITHUB_RATE_LIMITS, ...options.limits }
  }

  /** Milliseconds since the epoch on the simulator's clock. */
  now(): number {
    return this.origin + (Date.now() - this.origin) * this.clockScale
  }

  /**
   * Counts a request against every limit and says whether GitHub would
   * refuse it. An admitted request must be ended with `finish(request)`.
   */
  admit(request: RateLimitRequest): {
    headers: Record<string, string>
    refusal?: RateLimitRefusal
  } {
    const now = this.now()
    const holder = request.user?.login ?? ''
    const kind = tokenKindOf(request.user)
    const { key, limit, who } = this.primaryBudget(kind, request)
    let window = this.primary.get(key)
    if (!window || now >= window.resetAt)
      this.primary.set(key, (window = { resetAt: now + HOUR, used: 0 }))
    const exhausted = window.used >= limit
    if (!exhausted) window.used += 1
    const headers = {
      'x-ratelimit-limit': String(limit),
      'x-ratelimit-remaining': String(Math.max(limit - window.used, 0)),
      'x-ratelimit-reset': String(Math.ceil(window.resetAt / 1000)),
      'x-ratelimit-used': String(window.used),
      'x-ratelimit-resource': 'core',
      date: new Date(now).toUTCString(),
    }
    if (exhausted) {
      return {
        headers,
        refusal: this.refuse('primary', 403, headers, `API rate limit exceeded for ${who}.`),
      }
    }

    const inFlight = this.inFlight.get(holder) ?? 0
    if (inFlight >= this.limits.concurrent) {
      return { headers, refusal: this.refuse('concurrent', 429, headers, SECONDARY_MESSAGE) }
    }
    const points = ['GET', 'HEAD', 'OPTIONS'].includes(request.method) ? 1 : 5
    const endpoint = lazy(this.points, `${holder}\0${request.route}`, () => new PointsWindow())
    if (endpoint.used(now) + points > this.limits.pointsPerEndpointPerMinute) {
      const waitMs = endpoint.freeIn(now, points, this.limits.pointsPerEndpointPerMinute)
      return { headers, refusal: this.secondary('endpoint-points', headers, waitMs) }
    }
    const creating = ['POST', 'PUT', 'PATCH'].includes(request.method)
    if (creating) {
      const minute = lazy(this.contentMinute, holder, () => new SlidingWindow(MINUTE))
      const hour = lazy(this.contentHour, holder, () => new SlidingWindow(HOUR))
      const perMinute = minute.used(now)
      if (perMinute >= this.limits.contentPerMinute) {
        const waitMs = minute.freeIn(now, perMinute - this.limits.contentPerMinute + 1)
        return { headers, refusal: this.secondary('content-per-minute', headers, waitMs) }
      }
      const perHour = hour.used(now)
      if (perHour >= this.limits.contentPerHour) {
        const waitMs = hour.freeIn(now, perHour - this.limits.contentPerHour + 1)
        return { headers, refusal: this.secondary('content-per-hour', headers, waitMs) }
      }
      minute.add(now)
      hour.add(now)
    }
    endpoint.add(now, points)
    this.inFlight.set(holder, inFlight + 1)
    return { headers }
  }

  /** Ends an admitted request (for the concurrency limit). */
  finish(request: RateLimitRequest): void {
    const holder = request.user?.login ?? ''
    this.inFlight.set(holder, Math.max((this.inFlight.get(holder) ?? 1) - 1, 0))
  }

  private primaryBudget(kind: TokenKind | 'anonymous', request: RateLimitRequest) {
    const user = request.user
    switch (kind) {
      case 'github-token':
        return {
          key: `repo\0${request.repo ?? ''}`,
          limit: this.limits.githubTokenPerRepoPerHour,
          who: `installation ID ${user?.id ?? 0}`,
        }
      case 'installation':
        return {
          key: `installation\0${user?.login ?? ''}`,
          limit: this.limits.installationPerHour,
          who: `installation ID ${user?.id ?? 0}`,
        }
      case 'user':
        return {
          key: `user\0${user?.login ?? ''}`,
          limit: this.limits.userPerHour,
          who: `user ID ${user?.id ?? 0}`,
        }
      case 'anonymous':
        return { key: 'anonymous', limit: this.limits.anonymousPerHour, who: '127.0.0.1' }
    }
  }

  private secondary(limit: string, headers: Record<string, string>, waitMs: number) {
    const retryAfter = String(Math.max(Math.ceil(waitMs / 1000), 1))
    return this.refuse(limit, 429, { ...headers, 'retry-after': retryAfter }, SECONDARY_MESSAGE)
  }

  private refuse(
    limit: string,
    status: 403 | 429,
    headers: Record<string, string>,
    message: string,
  ): RateLimitRefusal {
    this.refusals[limit] = (this.refusals[limit] ?? 0) + 1
    return {
      status,
      headers,
      limit,
      body: { message, documentation_url: DOCS, status: String(status) },
    }
  }
}

const SECONDARY_MESSAGE = secondaryRateLimitBody().message

/** A workflow's GITHUB_TOKEN belongs to the github-actions app; other bots are App installations. */
export function tokenKindOf(user: SimUser | undefined): TokenKind | 'anonymous' {
  if (!user) return 'anonymous'
  return user.tokenKind ?? (user.type === 'Bot' ? 'installation' : 'user')
}

function lazy<V>(map: Map<string, V>, key: string, create: () => V): V {
  let value = map.get(key)
  if (value === undefined) map.set(key, (value = create()))
  return value
}
