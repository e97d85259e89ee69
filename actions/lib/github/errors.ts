// How the GitHub port reads a failed request: the HTTP status GitHub answered
// with, or none when the answer never arrived.

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
