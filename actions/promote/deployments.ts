// GitHub Deployments where the command was typed, on the parent PR's head
// SHA, for every backend, so the PR's timeline and the repository's
// Environments page show what was deployed where: one per environment, or
// one per stage (`deploy.deployments`; three content-creating requests each,
// the largest per-environment cost of a promotion at fleet scale). A re-run
// finds the deployment of its first attempt (one listing per run) instead of
// creating a duplicate. `production_environment` comes from the stage's
// `production` setting.

import type { DeploymentsMode } from '../lib/config/types.js'
import { statusDescription, type RepoRef } from '../lib/statuses.js'
import type { GitHubClient } from '../lib/github/client.js'
import {
  createDeployment,
  listDeploymentIds,
  setDeploymentStatus,
  type DeploymentState,
} from '../lib/github/deployments.js'

export const DEPLOYMENT_TASK = 'deploy:fleet-promote'

/** `deployments: auto` records one deployment per environment up to this many impacted environments in a stage. */
export const AUTO_PER_ENVIRONMENT_MAX = 3

export type DeploymentScope = 'environment' | 'stage' | 'none'

/** Where a stage's deployments are recorded, from the mode and how many of its environments the PR impacts. */
export function deploymentScope(mode: DeploymentsMode, stageEnvironments: number): DeploymentScope {
  switch (mode) {
    case 'per-environment':
      return 'environment'
    case 'per-stage':
      return 'stage'
    case 'off':
      return 'none'
    case 'auto':
      return stageEnvironments <= AUTO_PER_ENVIRONMENT_MAX ? 'environment' : 'stage'
  }
}

/** Each stage's deployment scope, from how many environments of it the PR impacts. */
export function stageScopes(
  mode: DeploymentsMode,
  impacted: readonly { stage: { name: string } }[],
): Map<string, DeploymentScope> {
  const counts = new Map<string, number>()
  for (const env of impacted) counts.set(env.stage.name, (counts.get(env.stage.name) ?? 0) + 1)
  return new Map([...counts].map(([stage, count]) => [stage, deploymentScope(mode, count)]))
}

/** A stage's one deployment ends `failure` when any environment failed, `success` when all succeeded; otherwise it stays in progress. */
export function stageDeploymentState(
  results: readonly string[],
): 'success' | 'failure' | undefined {
  if (results.some((result) => result === 'failure')) return 'failure'
  if (results.length > 0 && results.every((result) => result === 'success')) return 'success'
  return undefined
}

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
  /** The GitHub environment: the fleet environment's name, or the stage's for a stage deployment. */
  environment: string
  stage: string
  production: boolean
  /** The child PR (an environment's deployment), or the stage's children (a stage's). */
  child?: { number: number; branch: string; headSha: string }
  children?: readonly number[]
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
      description: statusDescription(
        target.child
          ? `#${ctx.parent} → ${target.environment} (${target.stage})`
          : `#${ctx.parent} → stage ${target.stage} (${target.children?.length ?? 0} environments)`,
      ),
      payload: {
        parent: ctx.parent,
        parentSha: ctx.parentSha,
        ...(target.child
          ? {
              child: target.child.number,
              branch: target.child.branch,
              childSha: target.child.headSha,
            }
          : { children: target.children ?? [] }),
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

export interface StageDeployment {
  id: number
  target: DeploymentTarget
  url: string
}

/** Finds or creates a stage's one deployment (named after the stage) and marks it started. */
export async function startStageDeployment(
  ctx: DeploymentContext,
  stage: { name: string; production: boolean; external: boolean },
  children: readonly number[],
  url: string,
): Promise<StageDeployment> {
  const target: DeploymentTarget = {
    environment: stage.name,
    stage: stage.name,
    production: stage.production,
    children,
  }
  const description = `${stage.external ? 'waiting for' : 'deploying'} ${children.length} environments of #${ctx.parent}`
  const id = await startDeployment(
    ctx,
    target,
    stage.external ? 'queued' : 'in_progress',
    description,
    url,
  )
  return { id, target, url }
}

/** The stage's deployment after its environments ran: success or failure, or left as it is. */
export async function finishStageDeployment(
  ctx: DeploymentContext,
  deployment: StageDeployment,
  results: readonly string[],
): Promise<void> {
  const state = stageDeploymentState(results)
  if (!state) return
  const failed = results.filter((result) => result === 'failure').length
  const description =
    state === 'success'
      ? `${results.length} environments deployed`
      : `${failed} of ${results.length} environments failed`
  await reportDeployment(ctx, deployment.target, deployment.id, state, description, deployment.url)
}
