// Commit statuses the suite sets on the parent PR head: one context per
// environment. GitHub rejects descriptions over 140 characters with a 422.

export const STATUS_CONTEXT_PREFIX = 'fleet-promote/'
export const MAX_STATUS_DESCRIPTION = 140
/** The gate (aggregate.ts): a commit status in both `statuses` modes. */
export const PIPELINE_CONTEXT = `${STATUS_CONTEXT_PREFIX}pipeline`

export type StatusState = 'pending' | 'success' | 'failure' | 'error'

export interface CommitStatus {
  context: string
  state: StatusState
  description: string
  targetUrl?: string
  /** Read from this stage's board (`statuses: per-stage`, status-board.ts), not from a commit status. */
  board?: string
}

/** `fleet-promote/<environment>` */
export function environmentContext(environment: string): string {
  return `${STATUS_CONTEXT_PREFIX}${environment}`
}

/** Collapses whitespace and cuts to 140 characters with an ellipsis. */
export function statusDescription(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  const chars = [...flat]
  if (chars.length <= MAX_STATUS_DESCRIPTION) return flat
  return `${chars
    .slice(0, MAX_STATUS_DESCRIPTION - 1)
    .join('')
    .trimEnd()}…`
}

export interface RepoRef {
  owner: string
  repo: string
}

/** True when posting `next` would not change what GitHub shows for its context. */
export function sameStatus(current: CommitStatus | undefined, next: CommitStatus): boolean {
  return (
    current !== undefined &&
    current.state === next.state &&
    current.description === statusDescription(next.description) &&
    (current.targetUrl ?? '') === (next.targetUrl ?? '')
  )
}
