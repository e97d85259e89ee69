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

/**
 * The message of an annotation placed at `location`: without the leading
 * `file:line[:column]: ` the runner already shows for it, so the place is
 * not printed twice.
 */
export function annotationText(
  message: string,
  location: { file: string; line?: number; column?: number },
): string {
  const place = [location.file, location.line, location.column]
    .filter((part) => part !== undefined)
    .join(':')
  return message.startsWith(`${place}: `) ? message.slice(place.length + 2) : message
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
