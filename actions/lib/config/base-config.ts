// The configuration as a pull request's base branch has it, read through the
// contents API (promote and open-child-prs both decide from it).

import type { FleetConfig } from './types.js'
import { defaultConfig, parseConfig, DEFAULT_CONFIG_FILE } from './config.js'
import type { GitHubClient } from '../github/client.js'
import { httpStatus } from '../locks.js'
import type { RepoRef } from '../statuses.js'

/**
 * The configuration as the PR's base branch has it right now, through the
 * contents API: never the PR head, never the local checkout (which, for
 * `issue_comment`, is the default branch and not necessarily the base).
 */
export async function loadBaseConfig(
  client: GitHubClient,
  repo: RepoRef,
  baseRef: string,
  file = DEFAULT_CONFIG_FILE,
): Promise<FleetConfig> {
  try {
    const { data } = await client.rest.repos.getContent({
      ...repo,
      path: file,
      ref: `refs/heads/${baseRef}`,
    })
    const content = data as { type?: string; content?: string }
    if (content.type !== 'file' || typeof content.content !== 'string') {
      throw new Error(`${file} on ${baseRef} is not a file`)
    }
    return parseConfig(Buffer.from(content.content, 'base64').toString('utf8'), file)
  } catch (error) {
    if (httpStatus(error) === 404 && file === DEFAULT_CONFIG_FILE) return defaultConfig()
    throw error
  }
}
