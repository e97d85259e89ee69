// Branches and commits through the Git database API (no checkout): what the
// locks are made of.

import type { RepoRef } from '../statuses.js'
import type { GitHubClient } from './client.js'
import { httpStatus } from './errors.js'

/** The branch's tip commit; undefined when GitHub answers 404 (no such branch). */
export async function branchTip(
  client: GitHubClient,
  repo: RepoRef,
  branch: string,
): Promise<string | undefined> {
  try {
    const { data } = await client.rest.git.getRef({ ...repo, ref: `heads/${branch}` })
    return data.object.sha
  } catch (error) {
    if (httpStatus(error) === 404) return undefined
    throw error
  }
}

/** Every branch under `prefix`, with its tip. */
export async function branchesWithPrefix(
  client: GitHubClient,
  repo: RepoRef,
  prefix: string,
): Promise<{ branch: string; sha: string }[]> {
  const refs = await client.paginate(client.rest.git.listMatchingRefs, {
    ...repo,
    ref: `heads/${prefix}`,
    per_page: 100,
  })
  return refs.map((ref) => ({ branch: ref.ref.slice('refs/heads/'.length), sha: ref.object.sha }))
}

/** The tips of `branches` (absent: no such branch), from one listing under their common prefix. */
export async function branchTips(
  client: GitHubClient,
  repo: RepoRef,
  branches: readonly string[],
): Promise<Map<string, string>> {
  const wanted = new Set(branches)
  if (wanted.size === 0) return new Map()
  let prefix = branches[0] ?? ''
  for (const branch of branches) while (!branch.startsWith(prefix)) prefix = prefix.slice(0, -1)
  prefix = prefix.slice(0, prefix.lastIndexOf('/') + 1)
  const listed = await branchesWithPrefix(client, repo, prefix)
  return new Map(listed.filter((ref) => wanted.has(ref.branch)).map((ref) => [ref.branch, ref.sha]))
}

/**
 * Deletes the branch; false when it was already gone (GitHub answers 422
 * "Reference does not exist", or 404 for a ref it cannot see).
 */
export async function deleteBranch(
  client: GitHubClient,
  repo: RepoRef,
  branch: string,
): Promise<boolean> {
  try {
    await client.rest.git.deleteRef({ ...repo, ref: `heads/${branch}` })
    return true
  } catch (error) {
    const status = httpStatus(error)
    if (status === 422 || status === 404) return false
    throw error
  }
}

/**
 * Every file path of a commit or branch, from one recursive tree listing.
 * GitHub cuts the listing of a very large tree (`truncated`): then the list
 * is incomplete and the caller must not treat it as the whole tree.
 */
export async function filesAt(
  client: GitHubClient,
  repo: RepoRef,
  ref: string,
): Promise<{ files: string[]; truncated: boolean }> {
  const { data } = await client.rest.git.getTree({ ...repo, tree_sha: ref, recursive: '1' })
  return {
    files: data.tree.filter((entry) => entry.type === 'blob').map((entry) => entry.path),
    truncated: data.truncated,
  }
}
