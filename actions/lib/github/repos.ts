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
