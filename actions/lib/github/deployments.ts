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

/** The newest deployment of `sha` for `task` per environment (GitHub lists newest first). */
export async function listDeploymentIds(
  client: GitHubClient,
  repo: RepoRef,
  query: { sha: string; task: string },
): Promise<Map<string, number>> {
  const deployments = await client.paginate(client.rest.repos.listDeployments, {
    ...repo,
    ...query,
    per_page: 100,
  })
  const ids = new Map<string, number>()
  for (const deployment of deployments) {
    if (!ids.has(deployment.environment)) ids.set(deployment.environment, deployment.id)
  }
  return ids
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

export type DeploymentState = 'queued' | 'in_progress' | 'success' | 'failure'

export interface DeploymentStatusUpdate {
  state: DeploymentState
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
