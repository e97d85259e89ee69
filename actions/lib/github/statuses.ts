// Commit statuses through the GitHub port: read the latest per context, post one.

import {
  statusDescription,
  type CommitStatus,
  type RepoRef,
  type StatusState,
} from '../statuses.js'
import type { GitHubClient } from './client.js'

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
