// Commit statuses the suite sets on the parent PR head: one context per
// environment. GitHub rejects descriptions over 140 characters with a 422.

import type { GitHubClient } from './github/client.js'

export const STATUS_CONTEXT_PREFIX = 'fleet-promote/'
export const MAX_STATUS_DESCRIPTION = 140

export type StatusState = 'pending' | 'success' | 'failure' | 'error'

export interface CommitStatus {
  context: string
  state: StatusState
  description: string
  targetUrl?: string
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

/** The latest status per context on a commit (one paginated read). */
export async function latestStatuses(
  client: GitHubClient,
  repo: RepoRef,
  sha: string,
): Promise<Map<string, CommitStatus>> {
  const latest = new Map<string, CommitStatus>()
  for await (const page of client.paginate.iterator(client.rest.repos.getCombinedStatusForRef, {
    ...repo,
    ref: sha,
    per_page: 100,
  })) {
    const statuses = (page.data as unknown as { statuses: RawStatus[] }).statuses
    for (const status of statuses) {
      if (!latest.has(status.context)) latest.set(status.context, fromRaw(status))
    }
  }
  return latest
}

interface RawStatus {
  context: string
  state: string
  description: string | null
  target_url: string | null
}

function fromRaw(status: RawStatus): CommitStatus {
  return {
    context: status.context,
    state: status.state as StatusState,
    description: status.description ?? '',
    ...(status.target_url ? { targetUrl: status.target_url } : {}),
  }
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

export async function setStatus(
  client: GitHubClient,
  repo: RepoRef,
  sha: string,
  status: CommitStatus,
): Promise<void> {
  await client.rest.repos.createCommitStatus({
    ...repo,
    sha,
    context: status.context,
    state: status.state,
    description: statusDescription(status.description),
    ...(status.targetUrl ? { target_url: status.targetUrl } : {}),
  })
}
