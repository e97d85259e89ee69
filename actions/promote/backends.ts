// Deploy backends for one environment of a promotion. Each reports the
// environment's `fleet-promote/<environment>` status on the parent head SHA:
// pending while it works, then success or failure with the reason.
//
//   argocd   point the Application at the child branch, sync, wait for Synced
//            and Healthy at the child head SHA; a GitHub deployment records it
//   merge    merge the child PR into the WET branch, bound to its head SHA
//   external pending "waiting for <system>"; the caller's own step (Kargo, …)
//            deploys and reports back through the status API

import type { ArgoCdClient } from '../lib/argocd/client.js'
import { ArgoCdError } from '../lib/argocd/client.js'
import type { DeployBackend } from '../lib/config/types.js'
import { errorMessage } from '../lib/errors.js'
import type { GitHubClient } from '../lib/github/client.js'
import { environmentContext, statusDescription, type RepoRef } from '../lib/statuses.js'
import { setStatus } from '../lib/github/statuses.js'
import { type ChildPr, mergeAtSha } from '../lib/github/pulls.js'
import { createDeployment, findDeployment, setDeploymentStatus } from '../lib/github/deployments.js'

export type EnvironmentResult = 'success' | 'failure' | 'waiting' | 'skipped' | 'noop'

export interface DeployTarget {
  environment: string
  stage: string
  backend: DeployBackend
  child: ChildPr
  /** Argo CD Application name (argocd backend). */
  application?: string
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
  /** Link to this workflow run, for deployment statuses. */
  runUrl?: string
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
  const base = {
    environment: target.environment,
    stage: target.stage,
    backend: target.backend,
    child: { number: target.child.number, url: target.child.url },
  }
  const finish = (result: EnvironmentResult, detail: string, url?: string): EnvironmentOutcome => ({
    ...base,
    result,
    detail,
    ...(url ? { url } : {}),
    durationMs: now() - started,
  })
  try {
    switch (target.backend) {
      case 'argocd': {
        const outcome = await deployWithArgoCd(ctx, target)
        return finish(outcome.ok ? 'success' : 'failure', outcome.detail, outcome.url)
      }
      case 'merge': {
        const outcome = await deployByMerge(ctx, target)
        return finish(outcome.ok ? 'success' : 'failure', outcome.detail, target.child.url)
      }
      case 'external': {
        const detail = `waiting for ${ctx.externalSystem}`
        await report(ctx, target, 'pending', detail, target.child.url)
        return finish('waiting', detail, target.child.url)
      }
    }
  } catch (error) {
    // Whatever broke, the environment must not stay pending: report and move on.
    const detail = errorMessage(error)
    ctx.log(`${target.environment}: ${detail}`)
    await report(ctx, target, 'failure', detail).catch((reportError: unknown) =>
      ctx.log(
        `${target.environment}: could not set the failure status: ${errorMessage(reportError)}`,
      ),
    )
    return finish('failure', detail)
  }
}

async function report(
  ctx: DeployContext,
  target: DeployTarget,
  state: 'pending' | 'success' | 'failure',
  description: string,
  targetUrl?: string,
): Promise<void> {
  await setStatus(ctx.client, ctx.repo, ctx.parentSha, {
    context: environmentContext(target.environment),
    state,
    description,
    ...(targetUrl ? { targetUrl } : {}),
  })
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
  )
  const deployment = await findOrCreateDeployment(ctx, target)
  await reportDeployment(ctx, target, deployment, 'in_progress', `syncing ${application}`, url)

  let verdict: BackendOutcome
  try {
    const current = await argocd.client.getApplication(application)
    const multiSource = (current.spec.sources ?? []).length > 0
    await argocd.client.setTargetRevision(application, branch, { sourceRepoURL: ctx.repoUrl })
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
  } catch (error) {
    if (!(error instanceof ArgoCdError)) throw error
    verdict = { ok: false, detail: error.message, url }
  }
  await report(ctx, target, verdict.ok ? 'success' : 'failure', verdict.detail, url)
  await reportDeployment(
    ctx,
    target,
    deployment,
    verdict.ok ? 'success' : 'failure',
    verdict.detail,
    url,
  )
  return verdict
}

const DEPLOYMENT_TASK = 'deploy:fleet-promote'

/**
 * One deployment per environment and child head SHA: a re-run finds the
 * deployment of its first attempt instead of creating a duplicate.
 */
async function findOrCreateDeployment(ctx: DeployContext, target: DeployTarget): Promise<number> {
  const query = {
    sha: target.child.headSha,
    environment: target.environment,
    task: DEPLOYMENT_TASK,
  }
  const found = await findDeployment(ctx.client, ctx.repo, query)
  if (found !== undefined) return found
  return createDeployment(ctx.client, ctx.repo, {
    ...query,
    production: /prod/i.test(target.stage),
    description: statusDescription(`#${ctx.parent} → ${target.environment} (${target.stage})`),
    payload: { parent: ctx.parent, parentSha: ctx.parentSha, branch: target.child.branch },
  })
}

async function reportDeployment(
  ctx: DeployContext,
  target: DeployTarget,
  deployment: number,
  state: 'in_progress' | 'success' | 'failure',
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

async function deployByMerge(ctx: DeployContext, target: DeployTarget): Promise<BackendOutcome> {
  const { child } = target
  await report(ctx, target, 'pending', `merging #${child.number} into ${child.base}`, child.url)
  const merge = await mergeAtSha(ctx.client, ctx.repo, {
    number: child.number,
    sha: child.headSha,
    title: `fleet-promote: ${target.environment} from #${ctx.parent} (#${child.number})`,
  })
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
