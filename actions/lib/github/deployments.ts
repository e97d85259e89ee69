// Deployments and their statuses through the GitHub port.

import type { RepoRef } from '../statuses.js'
import type { GitHubClient } from './client.js'
import { answerLost } from './errors.js'

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

/**
 * Creates the deployment. Find-or-create: the POST goes without the client's
 * own retry, and when its answer is lost the deployment may exist anyway, so
 * the newest one of this sha, task and environment is looked for before the
 * next POST (callers create one only when there was none).
 */
export async function createDeployment(
  client: GitHubClient,
  repo: RepoRef,
  request: DeploymentRequest,
): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
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
        request: { retries: 0 },
      })
      // A 202 (merge-branch message) has no id; with auto_merge off GitHub sends 201.
      if (!('id' in created.data))
        throw new Error(`GitHub did not create a deployment for ${request.environment}`)
      return created.data.id
    } catch (error) {
      if (!answerLost(error) || attempt >= 3) throw error
      const landed = await listDeploymentIds(client, repo, { sha: request.sha, task: request.task })
      const id = landed.get(request.environment)
      if (id !== undefined) return id
    }
  }
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
