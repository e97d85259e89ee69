// Environments a parent no longer impacts after a new push: their children
// close and their branches go in the atomic push. A cluster that an
// autoPromote stage (or a `.promote`) put on such a child must not be left on
// a branch that is about to disappear: its Application goes back to the WET
// branch first (synced, healthy), and the lock is released once the child is
// closed. When that fails, the child, its branch and the lock stay, and the
// run fails, so a re-run finishes it.

import type { ArgoCdClient } from '../lib/argocd/client.js'
import { restoreApplication, type RestoreResult } from '../lib/argocd/restore.js'
import { argoCdApplicationName, stageFor } from '../lib/config/config.js'
import type { FleetConfig } from '../lib/config/types.js'
import { errorMessage } from '../lib/errors.js'
import type { GitHubClient } from '../lib/github/client.js'
import type { ChildPr } from '../lib/github/pulls.js'
import { releaseLock, type ReleaseResult } from '../lib/locks.js'
import { inlineCode } from '../lib/markdown.js'
import type { RepoRef } from '../lib/statuses.js'

export interface RestoreOptions {
  config: FleetConfig
  /** The Argo CD client for deploy.argocd.server (absent: no token given). */
  argocd?: ArgoCdClient
  /** The DRY repository URL Argo CD tracks. */
  repoURL: string
  pollMs: number
}

export interface DroppedChild {
  environment: string
  child: ChildPr
}

export interface DropOutcome {
  environment: string
  /** Undefined when the environment does not deploy with Argo CD. */
  application?: RestoreResult
  lock?: ReleaseResult
}

/**
 * Restores the clusters of children about to close. Returns the outcome per
 * environment; `failed` lists the environments whose cluster may still run
 * the child (their child must stay).
 */
export async function restoreDropped(
  options: RestoreOptions | undefined,
  parent: number,
  dropped: readonly DroppedChild[],
  wetTips: ReadonlyMap<string, string>,
  log: (message: string) => void,
): Promise<{ outcomes: Map<string, DropOutcome>; failed: Set<string> }> {
  const outcomes = new Map<string, DropOutcome>()
  const failed = new Set<string>()
  for (const { environment, child } of dropped) {
    if (!environment || !options) continue
    const stage = stageFor(options.config, environment)
    if ((stage?.backend ?? options.config.deploy.backend) !== 'argocd') continue
    const application = await restoreOne(options, parent, environment, child, wetTips)
    log(`${environment}: ${application.detail}`)
    outcomes.set(environment, { environment, application })
    if (application.result === 'failed') failed.add(environment)
  }
  return { outcomes, failed }
}

async function restoreOne(
  options: RestoreOptions,
  parent: number,
  environment: string,
  child: ChildPr,
  wetTips: ReadonlyMap<string, string>,
): Promise<RestoreResult> {
  let name: string
  try {
    name = argoCdApplicationName(options.config, {
      name: environment,
      stage: stageFor(options.config, environment)?.name ?? '',
      branch: child.base,
    })
  } catch (error) {
    return { application: '', result: 'failed', detail: errorMessage(error) }
  }
  if (!options.argocd) {
    return {
      application: name,
      result: 'failed',
      detail: `cannot check ${name}: no Argo CD token (the argocd-token input) or deploy.argocd.server`,
    }
  }
  // The child's own branch: the environment's, or its shared WET branch's child.
  const own = child.branch
  return restoreApplication(options.argocd, {
    application: name,
    wetBranch: child.base,
    ...(child.folder ? { path: child.folder } : {}),
    wetTip: wetTips.get(`refs/heads/${child.base}`) ?? '',
    repoURL: options.repoURL,
    mayMove: (target) => target === own,
    timeoutMs: options.config.deploy.argocd.timeoutSeconds * 1000,
    pollMs: options.pollMs,
  })
}

/** After its child closed: the environment's lock goes (only when this parent holds it). */
export async function releaseDroppedLock(
  client: GitHubClient,
  repo: RepoRef,
  parent: number,
  environment: string,
  outcomes: Map<string, DropOutcome>,
): Promise<void> {
  const lock = await releaseLock(client, repo, environment, parent)
  outcomes.set(environment, { ...(outcomes.get(environment) ?? { environment }), lock })
}

/** How a closed child's environment ended, for the sticky comment. */
export function dropNote(outcome: DropOutcome | undefined, wetBranch: string): string {
  if (!outcome) return ''
  const parts: string[] = []
  const app = outcome.application
  if (app && (app.result === 'reset' || app.result === 'synced'))
    parts.push(`Argo CD ${inlineCode(app.application)} back on ${inlineCode(wetBranch)}`)
  if (outcome.lock === 'released') parts.push('lock released')
  return parts.join(', ')
}
