// After a parent lands, the other open parents' children on the same WET
// branches were built on the tips before it and lack its change. Their
// statuses say so (pending, and their gate with them) until a push or a
// re-run of their pull request workflow re-renders them; promote refuses to
// deploy them meanwhile (its "renders" check).

import { setAggregateStatus } from '../lib/aggregate.js'
import { branchTips } from '../lib/github/git-data.js'
import { allChildren, listOpenPulls, type ChildPr } from '../lib/github/pulls.js'
import { latestStatuses, setStatus } from '../lib/github/statuses.js'
import { environmentContext, sameStatus, type CommitStatus } from '../lib/statuses.js'
import type { EnvironmentCleanup, RunContext } from './types.js'

/** Marks the stale children of other parents on the environments this run landed; returns `#<parent> <env>` for each. */
export async function markStaleSiblings(
  ctx: RunContext,
  results: readonly EnvironmentCleanup[],
): Promise<string[]> {
  const landed = new Set(
    results
      .filter((r) => r.action === 'merged' || r.action === 'current')
      .map((r) => r.environment),
  )
  if (landed.size === 0) return []
  const pulls = await listOpenPulls(ctx.client, ctx.repo)
  const siblings = allChildren(pulls, ctx.repo).filter(
    (child) =>
      child.parent !== ctx.parent &&
      landed.has(child.environment) &&
      child.marker?.wetSha !== undefined,
  )
  if (siblings.length === 0) return []
  const tips = await branchTips(ctx.client, ctx.repo, [...new Set(siblings.map((c) => c.base))])
  const stale = new Map<number, ChildPr[]>()
  for (const child of siblings) {
    if (child.marker?.wetSha === (tips.get(child.base) ?? '')) continue
    stale.set(child.parent, [...(stale.get(child.parent) ?? []), child])
  }
  const marked: string[] = []
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
    }
    await setAggregateStatus(ctx.client, ctx.repo, { sha: head, parent, pulls })
  }
  return marked
}
