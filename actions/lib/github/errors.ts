// How the GitHub port reads a failed request: the HTTP status GitHub answered
// with, or none when the answer never arrived.

import { UserError } from '../errors.js'

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
 * what was being done, that it is transient and what to do (`then`); a
 * refusal (4xx) is left as it is, since trying again would not help.
 */
export async function transientAs<T>(what: string, then: string, call: Promise<T>): Promise<T> {
  try {
    return await call
  } catch (error) {
    if (!answerLost(error)) throw error
    const status = httpStatus(error)
    const answer =
      status === undefined ? 'the connection to GitHub failed' : `GitHub answered ${status}`
    throw new UserError(`${what}: ${answer} (transient); ${then}`)
  }
}
