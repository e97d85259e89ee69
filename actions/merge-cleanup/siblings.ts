// After a parent lands, the other open parents' children on the same WET
// branches were built on the tips before it and lack its change. Their
// statuses say so (pending, and their gate with them) until they are
// re-rendered; promote refuses to deploy them meanwhile (its "renders"
// check). merge-cleanup never renders their heads in its privileged job: it
// dispatches each such parent's pull request workflow (`rerender-workflow`),
// which re-renders it in the unprivileged, sandboxed jobs on the new base and
// WET tips, and says so on that parent. A cluster that runs such a child (its
// parent holds the lock) goes back to its WET branch, which now holds every
// merged change; the lock stays with that parent.

import { setAggregateStatus } from '../lib/aggregate.js'
import { restoreApplication } from '../lib/argocd/restore.js'
import { argoCdApplicationName, stageFor } from '../lib/config/config.js'
import { errorMessage } from '../lib/errors.js'
import { branchTips } from '../lib/github/git-data.js'
import {
  allChildren,
  awaitTestMerge,
  listOpenPulls,
  type ChildPr,
  type PullSummary,
} from '../lib/github/pulls.js'
import { upsertMarkedComment } from '../lib/github/comments.js'
import { readStatuses, StatusWriter } from '../lib/github/status-board.js'
import { dispatchWorkflow } from '../lib/github/workflows.js'
import { inlineCode } from '../lib/markdown.js'
import { environmentContext, type CommitStatus } from '../lib/statuses.js'
import { repositoryUrl } from './steps.js'
import type { EnvironmentCleanup, LeftItem, RunContext } from './types.js'

export interface StaleSiblings {
  /** `#<parent> <env>` for each stale child. */
  marked: string[]
  /** Clusters still on a stale child, and why, for merge-cleanup's `left`. */
  unrestored: LeftItem[]
  /** Parents whose re-render was requested (their pull request workflow dispatched). */
  rerendering: number[]
}

/** Marks the stale children of other parents on the environments this run landed, and takes their clusters off them. */
export async function markStaleSiblings(
  ctx: RunContext,
  results: readonly EnvironmentCleanup[],
): Promise<StaleSiblings> {
  const none: StaleSiblings = { marked: [], unrestored: [], rerendering: [] }
  const landed = new Set(
    results
      .filter((r) => r.action === 'merged' || r.action === 'current')
      .map((r) => r.environment),
  )
  if (landed.size === 0) return none
  const pulls = await listOpenPulls(ctx.client, ctx.repo)
  const siblings = allChildren(pulls, ctx.repo).filter(
    (child) =>
      child.parent !== ctx.parent &&
      landed.has(child.environment) &&
      child.marker?.wetSha !== undefined,
  )
  if (siblings.length === 0) return none
  const tips = await branchTips(ctx.client, ctx.repo, [...new Set(siblings.map((c) => c.base))])
  const stale = new Map<number, ChildPr[]>()
  for (const child of siblings) {
    if (child.marker?.wetSha === (tips.get(child.base) ?? '')) continue
    stale.set(child.parent, [...(stale.get(child.parent) ?? []), child])
  }
  const result: StaleSiblings = { marked: [], unrestored: [], rerendering: [] }
  for (const [parent, children] of stale) {
    const pull = pulls.find((candidate) => candidate.number === parent)
    if (!pull) continue
    const marked = await markParent(ctx, pull, children, tips)
    result.marked.push(...children.map((child) => `#${parent} ${child.environment}`))
    result.unrestored.push(...marked.unrestored)
    if (marked.rerendering) result.rerendering.push(parent)
    await setAggregateStatus(ctx.client, ctx.repo, {
      sha: pull.headSha,
      parent,
      pulls,
      statuses: ctx.config.statuses,
    })
  }
  return result
}

/**
 * One stale parent: its statuses first (so a re-render that finishes first is
 * not overwritten), its clusters off the stale children, then the re-render
 * request and the note on it.
 */
async function markParent(
  ctx: RunContext,
  pull: PullSummary,
  children: readonly ChildPr[],
  tips: ReadonlyMap<string, string>,
): Promise<{ unrestored: LeftItem[]; rerendering: boolean }> {
  const workflow = ctx.options.rerenderWorkflow ?? ''
  await markStale(ctx, pull.headSha, children, workflow !== '')
  const unrestored: LeftItem[] = []
  for (const child of children) {
    const why = await offStaleChild(ctx, child, tips.get(child.base) ?? '')
    if (why)
      unrestored.push({
        environment: child.environment,
        reason: `Argo CD still runs #${child.parent}'s child, which lacks #${ctx.parent}'s change: ${why}`,
        child: child.number,
      })
  }
  const failure = workflow ? await requestRerender(ctx, pull, workflow) : undefined
  if (failure !== undefined) await markStale(ctx, pull.headSha, children, false)
  await upsertMarkedComment(
    ctx.client,
    ctx.repo,
    pull.number,
    staleMarker(ctx.parent),
    staleNote(ctx.parent, children, workflow === '' ? 'off' : (failure ?? 'requested')),
  )
  return { unrestored, rerendering: workflow !== '' && failure === undefined }
}

/**
 * Dispatches the pull request workflow for `pull`, once GitHub has rebuilt its
 * test merge on the new base (what that run checks out and renders); why not,
 * when it could not.
 */
async function requestRerender(
  ctx: RunContext,
  pull: PullSummary,
  workflow: string,
): Promise<string | undefined> {
  let failure: string | undefined
  try {
    if (!(await awaitTestMerge(ctx.client, ctx.repo, pull.number)))
      failure = `GitHub has not rebuilt refs/pull/${pull.number}/merge on the new ${pull.baseRef} yet`
    else {
      await dispatchWorkflow(ctx.client, ctx.repo, workflow, pull.baseRef, {
        pr: String(pull.number),
      })
      ctx.log(`#${pull.number}: re-render requested (${workflow} on ${pull.baseRef})`)
    }
  } catch (error) {
    failure = `dispatching ${workflow} on ${pull.baseRef}: ${errorMessage(error)}`
  }
  if (failure) ctx.log(`#${pull.number}: no re-render: ${failure}`)
  return failure
}

/** Sets each stale child's status on the parent head, unless it already says so. */
async function markStale(
  ctx: RunContext,
  head: string,
  children: readonly ChildPr[],
  requested: boolean,
): Promise<void> {
  const mode = ctx.config.statuses
  const writer = new StatusWriter(ctx.client, ctx.repo, head, {
    mode,
    stageOf: (environment) => stageFor(ctx.config, environment)?.name,
    current: await readStatuses(ctx.client, ctx.repo, head, mode),
    ...(ctx.options.runUrl ? { runUrl: ctx.options.runUrl } : {}),
  })
  await writer.set(
    children.map((child): CommitStatus => ({
      context: environmentContext(child.environment),
      state: 'pending',
      description: `stale: #${ctx.parent} landed on ${child.base} since this render; ${requested ? 're-render requested' : 'push or re-run the pull request workflow to re-render'}`,
      targetUrl: child.url,
    })),
  )
  await writer.flush()
}

/** The note on a parent another parent landed under, one per landed parent (re-runs edit it). */
export const staleMarker = (landed: number) => `<!-- fleet-promote:landed-under #${landed} -->`

/** `rerender`: 'requested', 'off' (no `rerender-workflow`), or why the request failed. */
export function staleNote(landed: number, children: readonly ChildPr[], rerender: string): string {
  const where = children
    .map((child) => `${inlineCode(child.environment)} (${inlineCode(child.base)})`)
    .join(', ')
  const next =
    rerender === 'requested'
      ? 'Re-render requested: the pull request workflow runs again for this head on the new tips; until it has, `.promote` refuses these children.'
      : `${rerender === 'off' ? 'No re-render is requested (merge-cleanup has no `rerender-workflow`)' : `The re-render could not be requested (${rerender})`}: push, or re-run the pull request workflow; until then \`.promote\` refuses these children.`
  return `${staleMarker(landed)}\n### fleet-promote: #${landed} landed under this pull request\n\n#${landed} changed the WET branches of ${where} since their children here were rendered. ${next}\n`
}

/** Puts a cluster running the stale child back on its WET branch; why not, when that failed. */
async function offStaleChild(
  ctx: RunContext,
  child: ChildPr,
  wetTip: string,
): Promise<string | undefined> {
  const stage = stageFor(ctx.config, child.environment)
  if ((stage?.backend ?? ctx.config.deploy.backend) !== 'argocd' || !ctx.argocd) return undefined
  try {
    const application = argoCdApplicationName(ctx.config, {
      name: child.environment,
      stage: stage?.name ?? '',
      branch: child.base,
    })
    const restored = await restoreApplication(ctx.argocd, {
      application,
      wetBranch: child.base,
      ...(child.folder ? { path: child.folder } : {}),
      wetTip,
      repoURL: repositoryUrl(ctx),
      mayMove: (target) => target === child.branch,
      timeoutMs: ctx.config.deploy.argocd.timeoutSeconds * 1000,
      pollMs: ctx.options.argocdPollMs ?? 5000,
    })
    ctx.log(`${child.environment} (#${child.parent}'s stale child): ${restored.detail}`)
    return restored.result === 'failed' ? restored.detail : undefined
  } catch (error) {
    return errorMessage(error)
  }
}
