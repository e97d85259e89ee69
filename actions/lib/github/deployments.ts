// Deployments and their statuses through the GitHub port.

import type { RepoRef } from '../statuses.js'
import type { GitHubClient } from './client.js'

export interface DeploymentRequest {
  sha: string
  environment: string
  task: string
  production: boolean
  description: string
  payload: Record<string, unknown>
}

/** The newest deployment of `sha` to `environment` for `task`, if any. */
export async function findDeployment(
  client: GitHubClient,
  repo: RepoRef,
  query: { sha: string; environment: string; task: string },
): Promise<number | undefined> {
  const { data } = await client.rest.repos.listDeployments({ ...repo, ...query, per_page: 1 })
  return data[0]?.id
}

export async function createDeployment(
  client: GitHubClient,
  repo: RepoRef,
  request: DeploymentRequest,
): Promise<number> {
  const created = await client.rest.repos.createDeployment({
    ...repo,
    ref: request.sha,
    task: request.task,
    environment: request.environment,
    auto_merge: false,
    required_contexts: [],
    transient_environment: false,
    production_environment: request.production,
    description: request.description,
    payload: request.payload,
  })
  // A 202 (merge-branch message) has no id; with auto_merge off GitHub sends 201.
  if (!('id' in created.data))
    throw new Error(`GitHub did not create a deployment for ${request.environment}`)
  return created.data.id
}

export interface DeploymentStatusUpdate {
  state: 'in_progress' | 'success' | 'failure'
  description: string
  environment: string
  environmentUrl: string
  logUrl?: string
}

export async function setDeploymentStatus(
  client: GitHubClient,
  repo: RepoRef,
  deployment: number,
  update: DeploymentStatusUpdate,
): Promise<void> {
  await client.rest.repos.createDeploymentStatus({
    ...repo,
    deployment_id: deployment,
    state: update.state,
    description: update.description,
    environment: update.environment,
    environment_url: update.environmentUrl,
    ...(update.logUrl ? { log_url: update.logUrl } : {}),
    auto_inactive: update.state === 'success',
  })
}
