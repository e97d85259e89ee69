/** Fault injection: matching requests fail (status, rate limit, reset) or slow down, a given number of times. */
import type { Fault } from './types.js'

export interface ActiveFault extends Fault {
  remaining: number
}

export class Faults {
  private readonly active: ActiveFault[] = []

  get pending(): readonly Fault[] {
    return this.active
  }

  add(fault: Fault): void {
    this.active.push({ ...fault, remaining: fault.times ?? 1 })
  }

  clear(): void {
    this.active.length = 0
  }

  /** Takes the first fault matching this request (consuming one of its calls). */
  take(method: string, template: string, path: string): ActiveFault | undefined {
    const index = this.active.findIndex((fault) => matches(fault, method, template, path))
    if (index === -1) return undefined
    const fault = this.active[index] as ActiveFault
    fault.remaining -= 1
    if (fault.remaining <= 0) this.active.splice(index, 1)
    return fault
  }
}

function matches(fault: Fault, method: string, template: string, path: string): boolean {
  if (fault.method && fault.method.toUpperCase() !== method) return false
  const route = fault.route
  if (route === undefined) return true
  if (route instanceof RegExp) return route.test(`${method} ${template}`) || route.test(path)
  return route === template || route === `${method} ${template}`
}

/** The 403 GitHub sends for a secondary rate limit. */
export function secondaryRateLimitBody() {
  return {
    message:
      'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.',
    documentation_url:
      'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
    status: '403',
  }
}
