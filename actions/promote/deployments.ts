// GitHub Deployments where the command was typed: one per environment on the
// parent PR's head SHA, for every backend, so the PR's timeline and the
// repository's Environments page show what was deployed where. A re-run finds
// the deployment of its first attempt (one listing per run) instead of
// creating a duplicate. `production_environment` comes from the stage's
// `production` setting.

import { statusDescription, type RepoRef } from '../lib/statuses.js'
import type { GitHubClient } from '../lib/github/client.js'
import {
  createDeployment,
  listDeploymentIds,
  setDeploymentStatus,
  type DeploymentState,
} from '../lib/github/deployments.js'

export const DEPLOYMENT_TASK = 'deploy:fleet-promote'

export interface DeploymentContext {
  client: GitHubClient
  repo: RepoRef
  parent: number
  parentSha: string
  /** Deployments this task already has on the parent head, by environment. */
  existing: ReadonlyMap<string, number>
  runUrl?: string
}

export interface DeploymentTarget {
  environment: string
  stage: string
  production: boolean
  child: { number: number; branch: string; headSha: string }
}

/** The task's deployments on the parent head, newest per environment (one paginated listing). */
export function existingDeployments(
  client: GitHubClient,
  repo: RepoRef,
  parentSha: string,
): Promise<Map<string, number>> {
  return listDeploymentIds(client, repo, { sha: parentSha, task: DEPLOYMENT_TASK })
}

/** Finds or creates the environment's deployment and gives it its first status. */
export async function startDeployment(
  ctx: DeploymentContext,
  target: DeploymentTarget,
  state: DeploymentState,
  description: string,
  environmentUrl: string,
): Promise<number> {
  const deployment =
    ctx.existing.get(target.environment) ??
    (await createDeployment(ctx.client, ctx.repo, {
      sha: ctx.parentSha,
      environment: target.environment,
      task: DEPLOYMENT_TASK,
      production: target.production,
      description: statusDescription(`#${ctx.parent} → ${target.environment} (${target.stage})`),
      payload: {
        parent: ctx.parent,
        parentSha: ctx.parentSha,
        child: target.child.number,
        branch: target.child.branch,
        childSha: target.child.headSha,
      },
    }))
  await reportDeployment(ctx, target, deployment, state, description, environmentUrl)
  return deployment
}

export async function reportDeployment(
  ctx: DeploymentContext,
  target: DeploymentTarget,
  deployment: number,
  state: DeploymentState,
  description: string,
  environmentUrl: string,
): Promise<void> {
  await setDeploymentStatus(ctx.client, ctx.repo, deployment, {
    state,
    description: statusDescription(description),
    environment: target.environment,
    environmentUrl,
    ...(ctx.runUrl ? { logUrl: ctx.runUrl } : {}),
  })
}
