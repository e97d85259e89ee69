// Repository roles through the GitHub port.

import type { RepoRef } from '../statuses.js'
import type { GitHubClient } from './client.js'
import { httpStatus } from './errors.js'

/** What GitHub reports for a collaborator: the role and its legacy base permission. */
export interface CollaboratorPermission {
  role_name?: string
  permission: string
}

/** The user's permission on the repository, live; undefined for a non-collaborator. */
export async function collaboratorPermission(
  client: GitHubClient,
  repo: RepoRef,
  login: string,
): Promise<CollaboratorPermission | undefined> {
  try {
    const { data } = await client.rest.repos.getCollaboratorPermissionLevel({
      ...repo,
      username: login,
    })
    return data
  } catch (error) {
    // GitHub answers 404 when the user is not a collaborator (or does not exist).
    if (httpStatus(error) === 404) return undefined
    throw error
  }
}

/** Whether `ancestor` is `descendant` or one of its ancestors (GitHub's compare: identical or ahead). */
export async function isAncestorCommit(
  client: GitHubClient,
  repo: RepoRef,
  ancestor: string,
  descendant: string,
): Promise<boolean> {
  try {
    const { data } = await client.rest.repos.compareCommitsWithBasehead({
      ...repo,
      basehead: `${ancestor}...${descendant}`,
      // Only the verdict is needed, not the commit list.
      per_page: 1,
    })
    return data.status === 'identical' || data.status === 'ahead'
  } catch (error) {
    // GitHub answers 404 when a commit is unknown or the two share no history.
    if (httpStatus(error) === 404) return false
    throw error
  }
}
