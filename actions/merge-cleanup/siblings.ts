// After a parent lands, the other open parents' children on the same WET
// branches were built on the tips before it and lack its change. Their
// statuses say so (pending, and their gate with them) until a push or a
// re-run of their pull request workflow re-renders them; promote refuses to
// deploy them meanwhile (its "renders" check). A cluster that runs such a
// child (its parent holds the lock) goes back to its WET branch, which now
// holds every merged change; the lock stays with that parent.

import { setAggregateStatus } from '../lib/aggregate.js'
import { restoreApplication } from '../lib/argocd/restore.js'
import { argoCdApplicationName, stageFor } from '../lib/config/config.js'
import { errorMessage } from '../lib/errors.js'
import { branchTips } from '../lib/github/git-data.js'
import { allChildren, listOpenPulls, type ChildPr } from '../lib/github/pulls.js'
import { latestStatuses, setStatus } from '../lib/github/statuses.js'
import { environmentContext, sameStatus, type CommitStatus } from '../lib/statuses.js'
import { repositoryUrl } from './steps.js'
import type { EnvironmentCleanup, LeftItem, RunContext } from './types.js'

export interface StaleSiblings {
  /** `#<parent> <env>` for each stale child. */
  marked: string[]
  /** Clusters still on a stale child, and why, for merge-cleanup's `left`. */
  unrestored: LeftItem[]
}

/** Marks the stale children of other parents on the environments this run landed, and takes their clusters off them. */
export async function markStaleSiblings(
  ctx: RunContext,
  results: readonly EnvironmentCleanup[],
): Promise<StaleSiblings> {
  const none: StaleSiblings = { marked: [], unrestored: [] }
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
  const marked: string[] = []
  const unrestored: LeftItem[] = []
  for (const [parent, children] of stale) {
    const head = pulls.find((pull) => pull.number === parent)?.headSha
    if (!head) continue
    const current = await latestStatuses(ctx.client, ctx.repo, head)
    for (const child of children) {
      const status: CommitStatus = {
        context: environmentContext(child.environment),
        state: 'pending',
        description: `stale: #${ctx.parent} landed on ${child.base} since this render; push or re-run the pull request workflow to re-render`,
        targetUrl: child.url,
      }
      if (!sameStatus(current.get(status.context), status))
        await setStatus(ctx.client, ctx.repo, head, status)
      marked.push(`#${parent} ${child.environment}`)
      const why = await offStaleChild(ctx, child, tips.get(child.base) ?? '')
      if (why)
        unrestored.push({
          environment: child.environment,
          reason: `Argo CD still runs #${parent}'s child, which lacks #${ctx.parent}'s change: ${why}`,
          child: child.number,
        })
    }
    await setAggregateStatus(ctx.client, ctx.repo, { sha: head, parent, pulls })
  }
  return { marked, unrestored }
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
