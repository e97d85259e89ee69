// The suite's GitHub client: the actions' one client, built on the toolkit's
// getOctokit as every main.ts builds it.
import { getOctokit } from '@actions/github'
import {
  createGitHubClient as createClient,
  type GitHubClient,
  type GitHubClientOptions,
} from '../../actions/lib/github/client.js'

export type { GitHubClient }

export function createGitHubClient(token: string, options: GitHubClientOptions = {}): GitHubClient {
  return createClient(getOctokit, token, options)
}
