// How the GitHub port reads a failed request: the HTTP status GitHub answered
// with, or none when the answer never arrived.

import { errorMessage, UserError } from '../errors.js'

export function httpStatus(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status
  return typeof status === 'number' ? status : undefined
}

/**
 * The answer was lost, so the request may have been carried out: no status
 * (connection reset, timeout) or a 5xx (Octokit reports a failed fetch as 500;
 * GitHub's own 502/504 can come after the write landed).
 */
export function answerLost(error: unknown): boolean {
  const status = httpStatus(error)
  return status === undefined || status >= 500
}

/** GitHub's 422 body names the conflict (`A pull request already exists for …`). */
export function saysAlreadyExists(error: unknown): boolean {
  const data = (error as { response?: { data?: unknown } } | null)?.response?.data
  const text = `${(error as Error | null)?.message ?? ''} ${JSON.stringify(data ?? '')}`
  return httpStatus(error) === 422 && /already exists/i.test(text)
}

/**
 * `call`, with a failure on GitHub's side (a 5xx or a lost answer) told as
 * what was being done, then the client's line (the request, the answer, the
 * retries) and what to do (`then`); a refusal (4xx) is left as it is, since
 * trying again would not help.
 */
export async function transientAs<T>(what: string, then: string, call: Promise<T>): Promise<T> {
  try {
    return await call
  } catch (error) {
    if (!answerLost(error)) throw error
    throw new UserError(`${what}: ${errorMessage(error)}; ${then}`)
  }
}

/**
 * Statuses never retried at once (plugin-retry's doNotRetry): refusals, and
 * answers to act on — 405 (not mergeable), 409 (head moved); 403 and 429 are
 * rate limits (waited out by the client) or refusals.
 */
export const RETRYABLE_NEVER: readonly number[] = [400, 401, 403, 404, 405, 409, 410, 422, 429, 451]

/** What the client knows about a request that failed for good (after its retries). */
export interface FailedRequest {
  /** `GET https://api.github.com/repos/acme/fleet` */
  call: string
  /** The HTTP status GitHub answered with; undefined when no answer arrived. */
  status?: number
  /** GitHub's error message, or the network error's (`connect ECONNREFUSED …`). */
  message: string
  /** The network error's code (ECONNREFUSED, ENOTFOUND, …), when there was one. */
  code?: string
  retries: number
  apiUrl: string
  /** Where apiUrl came from: `from GITHUB_API_URL`, `from the … input`, or the default. */
  apiUrlSource: string
  /** The token as given, only inspected for an unexpanded `${{ … }}`. */
  token: string
  /** A 403's `x-accepted-github-permissions` header (`statuses=write`), when GitHub sent one. */
  acceptedPermissions?: string
}

/** Every action takes its token from its `token` input, whose default is GITHUB_TOKEN. */
const TOKEN_SOURCE = 'the token input'

const UNEXPANDED = /\$\{\{[^}]*\}\}/

/** Why a network error happened and what to check, by its code. */
function networkCause(failure: FailedRequest, retried: string): string {
  const where = `the API URL ${failure.apiUrl} (${failure.apiUrlSource})`
  switch (failure.code) {
    case 'ECONNREFUSED':
      return `connection refused (${failure.message}) ${retried}; check that ${where} names a running GitHub API`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host not found (${failure.message}) ${retried}; check ${where} and the runner's DNS`
    default:
      return `no answer (${failure.message}) ${retried}; check ${where} and the runner's network or proxy`
  }
}

/**
 * One line naming the call, what went wrong, the retries made and what to
 * check; undefined for an answer the caller acts on (404, 409, 422, …).
 */
export function describeFailedRequest(failure: FailedRequest): string | undefined {
  const retried = failure.retries === 1 ? 'after 1 retry' : `after ${failure.retries} retries`
  if (failure.status === undefined) return `${failure.call}: ${networkCause(failure, retried)}`
  if (failure.status === 401) {
    const expression = UNEXPANDED.exec(failure.token)?.[0]
    const check = expression
      ? `the token is the unexpanded expression "${expression}": pass it through a \`with:\` input or \`env:\`, where GitHub expands it`
      : `check ${TOKEN_SOURCE} (expired, revoked, or made for another host than ${failure.apiUrl}, ${failure.apiUrlSource})`
    return `${failure.call}: GitHub refused the token (401 ${failure.message}); ${check}`
  }
  // Rate limits never reach here (the client waits them out): this 403 is a missing permission.
  if (failure.status === 403) {
    const asks = failure.acceptedPermissions
      ? `; GitHub asks for ${failure.acceptedPermissions}`
      : ''
    return (
      `${failure.call}: GitHub refused the token from ${TOKEN_SOURCE} (403 ${failure.message}${asks}); ` +
      "check what it may do: the `permissions:` of the workflow or job for GITHUB_TOKEN (the input's default), " +
      "else the GitHub App's or token's repository permissions"
    )
  }
  if (failure.status >= 500)
    return `${failure.call}: GitHub answered ${failure.status} "${failure.message}" ${retried} (transient)`
  return undefined
}
