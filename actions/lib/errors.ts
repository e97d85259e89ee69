/** An error whose message is meant for the user as-is (names the file, line, input...). */
export class UserError extends Error {
  override name = 'UserError'
  constructor(
    message: string,
    /** Where the problem is, for a GitHub annotation. */
    readonly location?: { file: string; line?: number; column?: number },
  ) {
    super(message)
  }
}

/** Any thrown value as a readable message: non-Error throws must not vanish. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name
  if (typeof error === 'string') return error
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}
