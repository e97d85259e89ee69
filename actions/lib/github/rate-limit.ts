// What to do when GitHub refuses a request for a rate limit, as its REST docs
// say ("Rate limits for the REST API", "Best practices for using the REST
// API"): a 403 or 429 with `retry-after` → wait that many seconds; with
// `x-ratelimit-remaining: 0` → wait until `x-ratelimit-reset`; any other
// secondary limit → wait at least a minute, longer on each repeat. Pure, so
// the decision is table-testable; the client does the sleeping.

/** The parts of a refused response the decision reads. */
export interface RefusedResponse {
  status: number
  headers: Readonly<Record<string, string | number | undefined>>
  /** The `message` of GitHub's error body. */
  message: string
}

export interface RateLimitWait {
  kind: 'primary' | 'secondary'
  /** GitHub seconds to wait before the retry. */
  seconds: number
  /** What GitHub said, for logs and errors. */
  because: string
}

const SECONDARY = /secondary rate limit/i

/**
 * The wait GitHub asks for, or undefined when the response is no rate limit
 * (a 403 for missing permissions is an answer, not something to wait out).
 * `attempt` counts the earlier refusals of the same request (0 for the first);
 * `nowSeconds` is the client's clock, used only without a `date` header.
 */
export function rateLimitWait(
  response: RefusedResponse,
  attempt: number,
  nowSeconds: number,
): RateLimitWait | undefined {
  if (response.status !== 403 && response.status !== 429) return undefined
  const header = (name: string) => {
    const value = response.headers[name]
    return value === undefined || value === '' ? undefined : String(value)
  }
  const secondary = SECONDARY.test(response.message)
  const exhausted = header('x-ratelimit-remaining') === '0'
  const retryAfter = Number(header('retry-after'))
  const hasRetryAfter = header('retry-after') !== undefined && Number.isFinite(retryAfter)
  if (!secondary && !exhausted && !hasRetryAfter && response.status !== 429) return undefined
  const kind = exhausted && !secondary ? 'primary' : 'secondary'
  const because = response.message || `HTTP ${response.status}`
  if (hasRetryAfter) return { kind, seconds: Math.max(Math.ceil(retryAfter), 0), because }
  if (exhausted) {
    // The server's own clock (its `date` header) against its reset time: no skew with ours.
    const date = Date.parse(header('date') ?? '')
    const now = Number.isFinite(date) ? date / 1000 : nowSeconds
    const reset = Number(header('x-ratelimit-reset'))
    const seconds = Number.isFinite(reset) ? Math.ceil(reset - now) + 1 : 60
    return { kind, seconds: Math.max(seconds, 1), because }
  }
  return { kind, seconds: 60 * 2 ** Math.min(attempt, 6), because }
}

/** Every rate-limit wait of one client, for the job summary and the budget. */
export class RateLimitLedger {
  readonly waits: { kind: RateLimitWait['kind']; seconds: number; request: string }[] = []

  constructor(
    /** Total GitHub seconds the client may spend waiting. */
    readonly budgetSeconds: number,
  ) {}

  get waitedSeconds(): number {
    return this.waits.reduce((sum, wait) => sum + wait.seconds, 0)
  }

  /** Whether `seconds` more still fit in the budget. */
  allows(seconds: number): boolean {
    return this.waitedSeconds + seconds <= this.budgetSeconds
  }

  /** One line for a job summary; empty when the client never waited. */
  summary(): string {
    if (this.waits.length === 0) return ''
    const primary = this.waits.filter((wait) => wait.kind === 'primary').length
    const parts = [
      primary > 0 ? `${primary} primary` : '',
      this.waits.length - primary > 0 ? `${this.waits.length - primary} secondary` : '',
    ].filter(Boolean)
    return `Waited ${this.waitedSeconds} s for GitHub rate limits (${parts.join(', ')}; budget ${this.budgetSeconds} s).`
  }
}

/** A request GitHub kept refusing past the client's wait budget. */
export class RateLimitBudgetError extends Error {
  override name = 'RateLimitBudgetError'
  constructor(
    readonly request: string,
    readonly wait: RateLimitWait,
    readonly ledger: RateLimitLedger,
  ) {
    super(
      `GitHub ${wait.kind} rate limit: ${request} was refused ("${wait.because}"). GitHub asks to wait ` +
        `${wait.seconds} s more, but this run has already waited ${ledger.waitedSeconds} s of its ` +
        `${ledger.budgetSeconds} s rate-limit budget. Re-run the job later (it continues where it ` +
        'stopped), or give it a larger budget.',
    )
  }
}
