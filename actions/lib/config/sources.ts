// Configuration sources other than a directory: a git revision (no checkout)
// and a branch through the contents API (never the PR head, never the local
// checkout, which for `issue_comment` is the default branch, not the base).

import type { Git } from '../git/git.js'
import type { GitHubClient } from '../github/client.js'
import { readFileAt } from '../github/contents.js'
import type { RepoRef } from '../statuses.js'
import { loadConfigFrom, type ConfigSource } from './config.js'
import type { FleetConfig } from './types.js'

/** The files of one git revision; `where` defaults to `at <sha prefix>`, `revision` to the prefix. */
export function gitRevisionSource(
  git: Git,
  rev: string,
  where = `at ${rev.slice(0, 12)}`,
  revision = rev.slice(0, 12),
): ConfigSource {
  return { where, revision, read: (file) => git.showFile(rev, file) }
}

/** A branch as GitHub has it right now, through the contents API. */
export function branchContentsSource(
  client: GitHubClient,
  repo: RepoRef,
  branch: string,
): ConfigSource {
  return {
    where: `on ${branch}`,
    revision: branch,
    read: (file) => readFileAt(client, repo, file, `refs/heads/${branch}`),
  }
}

/** The configuration as the PR's base branch has it right now. */
export function loadBaseConfig(
  client: GitHubClient,
  repo: RepoRef,
  baseRef: string,
  file?: string,
): Promise<FleetConfig> {
  return loadConfigFrom(branchContentsSource(client, repo, baseRef), file)
}
