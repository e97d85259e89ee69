// Files through the contents API: the one reader other modules use to read a
// file at a ref without a checkout.

import type { RepoRef } from '../statuses.js'
import type { GitHubClient } from './client.js'
import { httpStatus } from './errors.js'

/** The path exists at the ref but is a directory, symlink or submodule. */
export class NotAFileError extends Error {}

/** The file's text at `ref`; undefined when GitHub answers 404 (no such path or ref). */
export async function readFileAt(
  client: GitHubClient,
  repo: RepoRef,
  path: string,
  ref: string,
): Promise<string | undefined> {
  let data: { type?: string; content?: string }
  try {
    data = (await client.rest.repos.getContent({ ...repo, path, ref })).data as typeof data
  } catch (error) {
    if (httpStatus(error) === 404) return undefined
    throw error
  }
  if (data.type !== 'file' || typeof data.content !== 'string') {
    throw new NotAFileError(`${path} at ${ref} is not a file`)
  }
  return Buffer.from(data.content, 'base64').toString('utf8')
}
