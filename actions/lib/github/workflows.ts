// Workflow dispatches through the GitHub port.

import type { RepoRef } from '../statuses.js'
import type { GitHubClient } from './client.js'

/**
 * Starts `workflow` (a file name under .github/workflows) at `ref` with
 * `inputs`. GitHub starts workflow_dispatch runs even when GITHUB_TOKEN asks
 * (other events it causes start none); the token needs `actions: write`.
 */
export async function dispatchWorkflow(
  client: GitHubClient,
  repo: RepoRef,
  workflow: string,
  ref: string,
  inputs: Record<string, string>,
): Promise<void> {
  await client.rest.actions.createWorkflowDispatch({ ...repo, workflow_id: workflow, ref, inputs })
}
