// Deploy backends for one environment of a promotion. Each reports the
// environment's `fleet-promote/<environment>` status on the parent head SHA
// (with `statuses: per-stage`, its entry on the stage's check run):
// pending while it works (only when it was not pending already: at fleet
// scale every status write counts), then success or failure with the reason.
//
//   argocd   point the Application at the child branch, sync, wait for Synced
//            and Healthy at the child head SHA
//   merge    land the child PR on its WET branch at its head SHA: the wave's
//            one landing push (landing.ts), else GitHub's merge, bound to the SHA
//   external pending "waiting for <system>"; the caller's own step (Kargo, …)
//            deploys and reports back through the status API
//
// Every backend also records a GitHub deployment for the environment, unless
// its stage records one for all (deployments.ts).

import type { ArgoCdClient } from '../lib/argocd/client.js'
import { ArgoCdError } from '../lib/argocd/client.js'
import type { DeployBackend, VerifyConfig } from '../lib/config/types.js'
import { errorMessage } from '../lib/errors.js'
import type { GitHubClient } from '../lib/github/client.js'
import { environmentContext, type CommitStatus, type RepoRef } from '../lib/statuses.js'
import type { StatusWriter } from '../lib/github/status-board.js'
import { type ChildPr, type MergeResult, mergeAtSha } from '../lib/github/pulls.js'
import { reportDeployment, startDeployment, type DeploymentContext } from './deployments.js'
import { bake, runChecks, type CheckContext } from './verify.js'

/** `queued`: its wave comes after this command's (`waveMode: manual`). */
export type EnvironmentResult = 'success' | 'failure' | 'waiting' | 'skipped' | 'noop' | 'queued'

export interface DeployTarget {
  environment: string
  stage: string
  backend: DeployBackend
  child: ChildPr
  /** Argo CD Application name (argocd backend). */
  application?: string
  /** The stage's `production`: the deployment's `production_environment`. */
  production: boolean
  /** Seconds it must stay Synced and Healthy after its sync (argocd). */
  bakeSeconds: number
  /** Whether this environment gets its own GitHub deployment (`deploy.deployments`). */
  recordDeployment: boolean
  /** Checks it must pass after the bake (argocd). */
  verify: VerifyConfig
  /** merge: the wave's landing push put the WET branch at the child head already (landing.ts). */
  landed?: boolean
}

export interface EnvironmentOutcome {
  environment: string
  stage: string
  backend: DeployBackend
  result: EnvironmentResult
  /** Why (failure, skip) or what happened (success). */
  detail: string
  /** Where to look: the Argo CD Application, or the child PR. */
  url?: string
  child: { number: number; url: string }
  durationMs: number
}

export interface DeployContext {
  client: GitHubClient
  repo: RepoRef
  parent: number
  /** The parent head SHA the statuses go on. */
  parentSha: string
  /** The DRY repository as Argo CD knows it (matched ignoring scheme and `.git`). */
  repoUrl: string
  argocd?: { client: ArgoCdClient; timeoutMs: number; pollMs: number }
  externalSystem: string
  checks: CheckContext
  /** Link to this workflow run, for deployment statuses. */
  runUrl?: string
  /** Deployments already made on the parent head by environment (a re-run reuses them). */
  deployments: ReadonlyMap<string, number>
  /** The statuses on the parent head: read once per run, then kept up to date by `report` (per-stage: written at `flush`). */
  statuses: StatusWriter
  /**
   * GitHub merges asked for by this run, by child PR: the folders of a shared
   * WET branch are one child, merged once for all of them.
   */
  merges?: Map<number, Promise<MergeResult>>
  log: (message: string) => void
  now?: () => number
}

export function applicationUrl(server: string, application: string): string {
  return `${server}/applications/${encodeURIComponent(application)}`
}

export async function deployEnvironment(
  ctx: DeployContext,
  target: DeployTarget,
): Promise<EnvironmentOutcome> {
  const now = ctx.now ?? Date.now
  const started = now()
  const finish = (result: EnvironmentResult, detail: string, url?: string): EnvironmentOutcome => ({
    environment: target.environment,
    stage: target.stage,
    backend: target.backend,
    result,
    detail,
    ...(url ? { url } : {}),
    child: { number: target.child.number, url: target.child.url },
    durationMs: now() - started,
  })
  const url = environmentUrl(ctx, target)
  let deployment: number | undefined
  try {
    const waiting = target.backend === 'external'
    if (target.recordDeployment)
      deployment = await startDeployment(
        deploymentContext(ctx),
        target,
        waiting ? 'queued' : 'in_progress',
        waiting ? `waiting for ${ctx.externalSystem}` : `deploying ${target.child.branch}`,
        url,
      )
    const outcome = await runBackend(ctx, target)
    // The external system finishes what it deploys; the deployment stays queued for it.
    if (deployment !== undefined && outcome.result !== 'waiting')
      await reportDeployment(
        deploymentContext(ctx),
        target,
        deployment,
        outcome.result,
        outcome.detail,
        url,
      )
    return finish(outcome.result, outcome.detail, outcome.url)
  } catch (error) {
    // Whatever broke, the environment must not stay pending: report and move on.
    const detail = errorMessage(error)
    ctx.log(`${target.environment}: ${detail}`)
    await report(ctx, target, 'failure', detail).catch((reportError: unknown) =>
      ctx.log(
        `${target.environment}: could not set the failure status: ${errorMessage(reportError)}`,
      ),
    )
    if (deployment !== undefined) {
      await reportDeployment(
        deploymentContext(ctx),
        target,
        deployment,
        'failure',
        detail,
        url,
      ).catch((reportError: unknown) =>
        ctx.log(
          `${target.environment}: could not fail the deployment: ${errorMessage(reportError)}`,
        ),
      )
    }
    return finish('failure', detail)
  }
}

async function runBackend(
  ctx: DeployContext,
  target: DeployTarget,
): Promise<{ result: 'success' | 'failure' | 'waiting'; detail: string; url?: string }> {
  switch (target.backend) {
    case 'argocd': {
      const outcome = await deployWithArgoCd(ctx, target)
      return {
        result: outcome.ok ? 'success' : 'failure',
        detail: outcome.detail,
        url: outcome.url ?? '',
      }
    }
    case 'merge': {
      const outcome = await deployByMerge(ctx, target)
      return {
        result: outcome.ok ? 'success' : 'failure',
        detail: outcome.detail,
        url: target.child.url,
      }
    }
    case 'external': {
      const detail = `waiting for ${ctx.externalSystem}`
      await report(ctx, target, 'pending', detail, target.child.url)
      return { result: 'waiting', detail, url: target.child.url }
    }
  }
}

/** Where the deployment can be seen: the Argo CD Application, or the child PR. */
function environmentUrl(ctx: DeployContext, target: DeployTarget): string {
  return target.backend === 'argocd' && ctx.argocd && target.application
    ? applicationUrl(ctx.argocd.client.server, target.application)
    : target.child.url
}

export function deploymentContext(ctx: DeployContext): DeploymentContext {
  return {
    client: ctx.client,
    repo: ctx.repo,
    parent: ctx.parent,
    parentSha: ctx.parentSha,
    existing: ctx.deployments,
    ...(ctx.runUrl ? { runUrl: ctx.runUrl } : {}),
  }
}

/** The failure status again with what happened since (a rollback); nothing when it says that already. */
export async function reportFailure(
  ctx: DeployContext,
  target: DeployTarget,
  detail: string,
): Promise<void> {
  await report(ctx, target, 'failure', detail, environmentUrl(ctx, target))
}

/**
 * Sets the environment's status unless GitHub already shows it. A `progress`
 * status (pending while deploying) is written only when the state was not
 * pending already: its description alone is not worth a write per environment.
 */
async function report(
  ctx: DeployContext,
  target: DeployTarget,
  state: 'pending' | 'success' | 'failure',
  description: string,
  targetUrl?: string,
  progress = false,
): Promise<void> {
  const status: CommitStatus = {
    context: environmentContext(target.environment),
    state,
    description,
    ...(targetUrl ? { targetUrl } : {}),
  }
  if (progress && ctx.statuses.shown.get(status.context)?.state === 'pending') return
  await ctx.statuses.set([status])
}

interface BackendOutcome {
  ok: boolean
  detail: string
  url?: string
}

async function deployWithArgoCd(ctx: DeployContext, target: DeployTarget): Promise<BackendOutcome> {
  const argocd = ctx.argocd
  const application = target.application
  if (!argocd || !application)
    throw new Error('the argocd backend needs deploy.argocd.server and an Argo CD token')
  const url = applicationUrl(argocd.client.server, application)
  const { branch, headSha } = target.child
  await report(
    ctx,
    target,
    'pending',
    `deploying ${branch} with Argo CD application ${application}`,
    url,
    true,
  )

  let verdict: BackendOutcome
  try {
    const current = await argocd.client.getApplication(application)
    const multiSource = (current.spec.sources ?? []).length > 0
    // On a shared WET branch's child the environment is its folder: the source path goes with it.
    const folder = target.child.folder
    await argocd.client.setTargetRevision(application, branch, {
      sourceRepoURL: ctx.repoUrl,
      ...(folder ? { path: folder } : {}),
    })
    // A multi-source sync syncs every source at its spec revision; a single source can name it.
    await argocd.client.sync(application, multiSource ? {} : { revision: branch })
    const waited = await argocd.client.waitForSyncedHealthy(application, {
      revision: headSha,
      timeoutMs: argocd.timeoutMs,
      pollMs: argocd.pollMs,
    })
    verdict = {
      ok: waited.ok,
      // Multi-source Applications report the first source's revision; name the one waited for.
      detail: waited.ok
        ? `${application} Synced and Healthy at ${headSha.slice(0, 7)}`
        : `Argo CD: ${waited.message}`,
      url,
    }
    if (verdict.ok) verdict = await verifyEnvironment(ctx, target, application, verdict)
  } catch (error) {
    if (!(error instanceof ArgoCdError)) throw error
    verdict = { ok: false, detail: error.message, url }
  }
  await report(ctx, target, verdict.ok ? 'success' : 'failure', verdict.detail, url)
  return verdict
}

/** After Synced and Healthy: the bake, then the checks; each adds its clause to the detail. */
async function verifyEnvironment(
  ctx: DeployContext,
  target: DeployTarget,
  application: string,
  healthy: BackendOutcome,
): Promise<BackendOutcome> {
  const argocd = ctx.argocd!
  let verdict = healthy
  if (target.bakeSeconds > 0) {
    const baked = await bake(argocd.client, {
      application,
      revision: target.child.headSha,
      seconds: target.bakeSeconds,
      pollMs: argocd.pollMs,
    })
    if (!baked.ok) return { ...verdict, ok: false, detail: `${application} ${baked.detail}` }
    verdict = { ...verdict, detail: `${verdict.detail}, ${baked.detail}` }
  }
  const { http, prometheus } = target.verify
  if (http.length + prometheus.length === 0) return verdict
  const checked = await runChecks(target.verify, target.environment, ctx.checks)
  return checked.ok
    ? { ...verdict, detail: `${verdict.detail}; checks: ${checked.detail}` }
    : { ...verdict, ok: false, detail: `${application} ${checked.detail}` }
}

/** GitHub's merge of the target's child, asked once per run and child PR. */
function mergeOnce(ctx: DeployContext, target: DeployTarget): Promise<MergeResult> {
  const { child } = target
  const asked = ctx.merges?.get(child.number)
  if (asked) return asked
  const what = child.unit ?? target.environment
  const merge = mergeAtSha(ctx.client, ctx.repo, {
    number: child.number,
    sha: child.headSha,
    title: `fleet-promote: ${what} from #${ctx.parent} (#${child.number})`,
  })
  ctx.merges?.set(child.number, merge)
  return merge
}

async function deployByMerge(ctx: DeployContext, target: DeployTarget): Promise<BackendOutcome> {
  const { child } = target
  await report(
    ctx,
    target,
    'pending',
    `merging #${child.number} into ${child.base}`,
    child.url,
    true,
  )
  const merge = target.landed ? { merged: true as const } : await mergeOnce(ctx, target)
  if (!merge.merged) {
    const why = merge.reason === 'head-moved' ? 'its head moved since it was read' : merge.message
    const detail = `could not merge #${child.number} into ${child.base}: ${why}`
    await report(ctx, target, 'failure', detail, child.url)
    return { ok: false, detail }
  }
  const detail = `merged #${child.number} into ${child.base} at ${child.headSha.slice(0, 7)}`
  await report(ctx, target, 'success', detail, child.url)
  return { ok: true, detail }
}
