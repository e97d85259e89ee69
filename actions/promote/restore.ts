// Before promote gives a lock back (`.unlock`, or a deploy that failed), the
// environment's cluster leaves this parent's child: an Application on a
// child whose parent no longer holds the lock would run something nobody
// holds (SPEC.md §3, what a cluster runs).

import type { ArgoCdClient } from '../lib/argocd/client.js'
import { restoreApplication, type RestoreResult } from '../lib/argocd/restore.js'
import { argoCdApplicationName } from '../lib/config/config.js'
import type { FleetConfig, StageConfig } from '../lib/config/types.js'
import type { GitHubClient } from '../lib/github/client.js'
import { branchTip } from '../lib/github/git-data.js'
import type { ChildPr } from '../lib/github/pulls.js'
import type { RepoRef } from '../lib/statuses.js'
import type { EnvironmentOutcome } from './backends.js'
import type { RunState } from './run.js'

export interface ClusterToRestore {
  environment: string
  stage: StageConfig
  child: ChildPr
}

export interface RestoreContext {
  client: GitHubClient
  repo: RepoRef
  config: FleetConfig
  argocd?: ArgoCdClient
  parent: number
  /** The DRY repository URL Argo CD tracks. */
  repoUrl: string
  pollMs: number
  log: (message: string) => void
}

/** Puts each argocd-backed environment that runs this parent's child back on its WET branch. */
export async function restoreClusters(
  ctx: RestoreContext,
  clusters: readonly ClusterToRestore[],
): Promise<Map<string, RestoreResult>> {
  const results = new Map<string, RestoreResult>()
  const argocd = ctx.argocd
  for (const env of clusters.filter((e) => e.stage.backend === 'argocd')) {
    const wetBranch = env.child.base
    const application = argoCdApplicationName(ctx.config, {
      name: env.environment,
      stage: env.stage.name,
      branch: wetBranch,
    })
    if (!argocd) {
      results.set(env.environment, {
        application,
        result: 'failed',
        detail: `cannot check ${application}: no Argo CD token or deploy.argocd.server`,
      })
      continue
    }
    // The environment's child, or its shared WET branch's.
    const own = env.child.branch
    const result = await restoreApplication(argocd, {
      application,
      wetBranch,
      ...(env.child.folder ? { path: env.child.folder } : {}),
      wetTip: (await branchTip(ctx.client, ctx.repo, wetBranch)) ?? '',
      repoURL: ctx.repoUrl,
      mayMove: (target) => target === own,
      timeoutMs: ctx.config.deploy.argocd.timeoutSeconds * 1000,
      pollMs: ctx.pollMs,
    })
    ctx.log(`${env.environment}: ${result.detail}`)
    results.set(env.environment, result)
  }
  return results
}

/**
 * Puts the clusters of `environments` that run this parent's child back on
 * their WET branch; returns those that could not be (environment → why):
 * their locks must stay.
 */
export async function clustersStillOnChild(
  state: RunState,
  impacted: readonly ClusterToRestore[],
  environments: readonly string[],
): Promise<Map<string, string>> {
  const wanted = new Set(environments)
  const restored = await restoreClusters(
    restoreContext(state),
    impacted.filter((env) => wanted.has(env.environment)),
  )
  const stuck = new Map<string, string>()
  for (const [environment, result] of restored) {
    if (result.result === 'failed') stuck.set(environment, result.detail)
  }
  return stuck
}

export function restoreContext(state: RunState): RestoreContext {
  const { settings, config, pull } = state
  const server = config.deploy.argocd.server
  return {
    client: settings.client,
    repo: settings.repo,
    config,
    ...(server && settings.argocd ? { argocd: settings.argocd(server) } : {}),
    parent: pull.number,
    repoUrl: `${settings.serverUrl}/${settings.repo.owner}/${settings.repo.repo}`,
    pollMs: settings.argocdPollMs,
    log: settings.log,
  }
}

/**
 * `stages[].rollback`: a failed argocd environment goes back on its WET branch
 * (what ran before) right away, before anything else of the stage starts; the
 * outcome says so. Without rollback its cluster stays on the child for
 * inspection (and the environment keeps its lock).
 */
export async function rollBackFailed(
  state: RunState,
  env: ClusterToRestore,
  outcome: EnvironmentOutcome,
): Promise<EnvironmentOutcome> {
  if (outcome.result !== 'failure' || env.stage.backend !== 'argocd') return outcome
  if (!env.stage.rollback)
    return { ...outcome, detail: `left on the child (rollback: false); ${outcome.detail}` }
  const restored = (await restoreClusters(restoreContext(state), [env])).get(env.environment)
  const wet = env.child.base
  // First: a status description keeps only its first 140 characters.
  const said: Record<RestoreResult['result'], string> = {
    reset: `rolled back to ${wet}`,
    synced: `rolled back to ${wet}`,
    unchanged: `runs ${wet}`,
    kept: `not rolled back (${restored?.detail})`,
    // An Argo CD that failed the deploy often fails the rollback the same way: say it once.
    failed: `rollback to ${wet} failed${restored && !outcome.detail.includes(restored.detail) ? ` (${restored.detail})` : ''}`,
  }
  return restored ? { ...outcome, detail: `${said[restored.result]}; ${outcome.detail}` } : outcome
}
