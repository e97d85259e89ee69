// merge-cleanup's core: finish a parent pull request once it is closed.
//
// Merged parent: render the base branch HEAD on the current WET tips; each
// child lands as a commit with the child's head as parent and that render as
// tree (a stale child's objects are replaced), all WET branches in ONE atomic
// push leased on the tips read (GitHub marks a PR merged when its head reaches
// its base). Then each Argo CD Application goes back to its WET branch, and
// ONE more atomic push deletes the child branches and releases the locks.
// Closed parent: close the children, reset the Applications, the same last push.
//
// Level-triggered and resumable: every step first reads what GitHub has and
// does only what is missing. Landing commits are deterministic (same render on
// the same tips → same SHA), so a re-run after a crash anywhere pushes nothing
// twice, lands nothing twice and edits its one comment.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { discoverEnvironments, stageFor, stageOrder, loadConfigFrom } from '../lib/config/config.js'
import type { Environment, FleetConfig } from '../lib/config/types.js'
import { gitRevisionSource } from '../lib/config/sources.js'
import { errorMessage } from '../lib/errors.js'
import type { GitHubClient } from '../lib/github/client.js'
import { upsertMarkedComment } from '../lib/github/comments.js'
import {
  childrenOf,
  getPullRequest,
  listPullsUpdatedSince,
  type ChildPr,
} from '../lib/github/pulls.js'
import { GITHUB_BODY_LIMIT, truncate } from '../lib/markdown.js'
import { mapPool } from '../lib/render/hydrate.js'
import type { RepoRef } from '../lib/statuses.js'
import { nextClosedStep } from './decide.js'
import { PushRejectedError } from '../lib/git/git.js'
import {
  planMerged,
  planSharedBranch,
  prepareMerged,
  readTips,
  type PreparedMerge,
} from './merged.js'
import { leftItems, renderCleanupReport, renderJobSummary } from './report.js'
import { markStaleSiblings, type StaleSiblings } from './siblings.js'
import { releaseAll } from './release.js'
import { baseResult, closeChildren, finish, pushLandings } from './steps.js'
import { repairApplications } from './sweep.js'
import type {
  EnvironmentCleanup,
  EnvironmentWork,
  MergeCleanupOptions,
  MergeCleanupResult,
  RunContext,
} from './types.js'

export type * from './types.js'
export { renderCleanupReport, renderJobSummary } from './report.js'

export const CLEANUP_MARKER = '<!-- fleet-promote:merge-cleanup -->'

// ---------------------------------------------------------------- children

/**
 * Every child PR of `parent`, open and closed, grouped by environment, newest
 * first. Children are found by branch name (see `childrenOf`); no child can
 * have been updated before its parent was created, which bounds the listing.
 */
export async function findChildren(
  client: GitHubClient,
  repo: RepoRef,
  parent: number,
  parentCreatedAt: string,
): Promise<Map<string, ChildPr[]>> {
  const pulls = await listPullsUpdatedSince(client, repo, parentCreatedAt)
  const byEnvironment = new Map<string, ChildPr[]>()
  for (const child of childrenOf(pulls, repo, parent)) {
    byEnvironment.set(child.environment, [...(byEnvironment.get(child.environment) ?? []), child])
  }
  return byEnvironment
}

/** The child that speaks for an environment: the newest open one, else a merged one, else the newest. */
export function primaryChild(children: readonly ChildPr[]): ChildPr | undefined {
  return children.find((c) => c.state === 'open') ?? children.find((c) => c.merged) ?? children[0]
}

/** One work item per environment with children, in stage order. */
function planWork(
  config: FleetConfig,
  known: ReadonlyMap<string, Environment>,
  children: ReadonlyMap<string, ChildPr[]>,
): EnvironmentWork[] {
  const ranks = new Map(stageOrder(config).map((name, i) => [name, i]))
  const work: EnvironmentWork[] = [...children].map(([name, list]) => {
    const child = primaryChild(list)
    const environment = known.get(name)
    const stageName =
      environment?.stage ?? stageFor(config, name)?.name ?? child?.marker?.stage ?? ''
    const stage = config.stages.find((s) => s.name === stageName)
    return {
      name,
      stage: stageName,
      backend: stage?.backend ?? config.deploy.backend,
      branch: environment?.branch ?? child?.base ?? '',
      ...(environment ? { environment } : {}),
      ...(child ? { child } : {}),
      duplicates: list.filter((c) => c !== child && c.state === 'open'),
      tips: new Map<string, string>(),
    }
  })
  return work.sort(
    (a, b) =>
      (ranks.get(a.stage) ?? ranks.size) - (ranks.get(b.stage) ?? ranks.size) ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  )
}

// ---------------------------------------------------------------- the run

export async function mergeCleanup(options: MergeCleanupOptions): Promise<MergeCleanupResult> {
  const { client, repo, parent } = options
  const pull = await getPullRequest(client, repo, parent)
  if (pull.state === 'open') {
    return emptyResult(parent, 'open', `${openParentNote(parent)}\n`)
  }
  const { ctx, drySha, known, work } = await startRun(options, pull)
  const parallelism = Math.max(1, options.parallelism ?? 4)
  let results: EnvironmentCleanup[]
  let siblings: StaleSiblings = { marked: [], unrestored: [], rerendering: [] }
  if (pull.merged) {
    const scratch = await mkdtemp(join(tmpdir(), 'fleet-promote-cleanup-'))
    try {
      const prepared = await prepareMerged(ctx, work, drySha, scratch, pull.headSha)
      results = await landMerged(ctx, work, prepared, parallelism)
      siblings = await markStaleSiblings(ctx, results)
      if (siblings.marked.length > 0)
        ctx.log(`children built before this landing, now stale: ${siblings.marked.join(', ')}`)
      if (siblings.rerendering.length > 0)
        ctx.log(`re-render requested for ${siblings.rerendering.map((n) => `#${n}`).join(', ')}`)
    } finally {
      await rm(scratch, { recursive: true, force: true })
    }
  } else {
    results = await byStage(
      work.map((item) => [item]),
      parallelism,
      async ([item]) => [await finishClosed(ctx, item as EnvironmentWork)],
    )
  }
  // Before the last locks go: no cluster may be left on a child branch that is gone.
  const repaired = await repairApplications(ctx, [...known.values()])
  const { results: withLocks, swept: locksReleased } = await giveBack(ctx, work, results)
  results = withLocks
  const result: MergeCleanupResult = {
    parent,
    parentState: pull.merged ? 'merged' : 'closed',
    ...(pull.merged && work.length > 0 ? { drySha } : {}),
    environments: results,
    merged: results
      .filter((r) => r.action === 'merged' || r.action === 'current')
      .map((r) => r.environment),
    closed: results.filter((r) => r.action === 'closed').map((r) => r.environment),
    left: [...leftItems(results, repaired), ...siblings.unrestored],
    locksReleased,
    repaired,
    summary: '',
    failed:
      results.some((r) => r.action === 'failed' || r.application?.result === 'failed') ||
      repaired.some((r) => r.result === 'failed') ||
      siblings.unrestored.length > 0,
  }
  await report(ctx, result, pull.baseRef)
  return result
}

/** The last push; when it fails, the environments it would have finished are failed (a re-run deletes). */
async function giveBack(
  ctx: RunContext,
  work: readonly EnvironmentWork[],
  results: readonly EnvironmentCleanup[],
): Promise<{ results: EnvironmentCleanup[]; swept: string[] }> {
  try {
    const released = await releaseAll(ctx, work)
    return {
      results: results.map((r) => {
        const lock = released.locks.get(r.environment)
        return lock ? { ...r, lock } : r
      }),
      swept: released.swept,
    }
  } catch (error) {
    const giving = new Set(work.filter((w) => w.release).map((w) => w.name))
    const why = `its child branch and lock are not deleted yet: ${errorMessage(error)}`
    return {
      results: results.map((r) =>
        giving.has(r.environment) ? { ...r, action: 'failed', detail: `${r.detail}; ${why}` } : r,
      ),
      swept: [],
    }
  }
}

/** The base branch as it is now (its configuration and environments), the children and the run context. */
async function startRun(
  options: MergeCleanupOptions,
  pull: { baseRef: string; createdAt: string },
): Promise<{
  ctx: RunContext
  drySha: string
  known: Map<string, Environment>
  work: EnvironmentWork[]
}> {
  const { client, git, repo, parent } = options
  const baseRef = `refs/fleet-promote/merge-cleanup/base`
  await git.fetch(options.remote, [`+refs/heads/${pull.baseRef}:${baseRef}`])
  const drySha = await git.revParse(baseRef)
  const config = await loadConfigFrom(
    gitRevisionSource(git, drySha, `on ${pull.baseRef}`, pull.baseRef),
    options.configFile,
  )
  const known = new Map(
    discoverEnvironments(config, await git.listFiles(drySha), { allowUnmatched: true }).map(
      (env) => [env.name, env],
    ),
  )
  const work = planWork(config, known, await findChildren(client, repo, parent, pull.createdAt))
  const server = options.argocdServer || config.deploy.argocd.server
  const argocd = server && options.argocd ? options.argocd(server) : undefined
  const ctx: RunContext = {
    options,
    client,
    git,
    repo,
    parent,
    config,
    ...(argocd ? { argocd } : {}),
    log: options.log ?? (() => undefined),
    fetching: Promise.resolve(),
    closed: new Set(),
  }
  return { ctx, drySha, known, work }
}

/** The job summary, and the parent comment (a pull request that never had children or locks gets none). */
async function report(ctx: RunContext, result: MergeCleanupResult, base: string): Promise<void> {
  const body = renderCleanupReport(result, { base })
  result.summary = renderJobSummary(result, body, ctx.options.runUrl)
  if (result.environments.length > 0 || result.locksReleased.length > 0) {
    const comment = truncate(`${CLEANUP_MARKER}\n${body}`, GITHUB_BODY_LIMIT)
    result.commentUrl = await upsertMarkedComment(
      ctx.client,
      ctx.repo,
      ctx.parent,
      CLEANUP_MARKER,
      comment,
    )
  }
}

/** Why a run on an open parent does nothing, and when merge-cleanup does its work. */
export function openParentNote(parent: number): string {
  return (
    `Parent #${parent} is open: nothing to clean up. merge-cleanup lands the children of a merged parent ` +
    'and closes those of a parent closed without merging; run it on pull_request closed events.'
  )
}

function emptyResult(
  parent: number,
  parentState: MergeCleanupResult['parentState'],
  summary: string,
): MergeCleanupResult {
  return {
    parent,
    parentState,
    environments: [],
    merged: [],
    closed: [],
    left: [],
    locksReleased: [],
    repaired: [],
    summary,
    failed: false,
  }
}

/**
 * Runs stage after stage (units of one stage in parallel: an environment, or
 * the environments of one shared WET branch, which share a stage). When a
 * unit fails, later stages are not touched: a re-run continues there.
 */
async function byStage(
  units: readonly (readonly EnvironmentWork[])[],
  parallelism: number,
  fn: (items: readonly EnvironmentWork[]) => Promise<EnvironmentCleanup[]>,
): Promise<EnvironmentCleanup[]> {
  const results: EnvironmentCleanup[] = []
  const stageOf = (unit: readonly EnvironmentWork[]) => unit[0]?.stage ?? ''
  const stages = [...new Set(units.map(stageOf))]
  let failedIn: string | undefined
  for (const stage of stages) {
    const inStage = units.filter((unit) => stageOf(unit) === stage)
    if (failedIn !== undefined) {
      for (const item of inStage.flat()) {
        results.push({
          ...baseResult(item),
          action: 'skipped',
          detail: `not processed: stage ${failedIn} did not finish; re-run the workflow`,
        })
      }
      continue
    }
    const done = await mapPool(inStage, parallelism, async (unit) => {
      try {
        return await fn(unit)
      } catch (error) {
        const detail = errorMessage(error)
        return unit.map((item) => ({ ...baseResult(item), action: 'failed' as const, detail }))
      }
    })
    results.push(...done.flat())
    if (done.flat().some((r) => r.action === 'failed')) failedIn = stage || '(none)'
  }
  return results
}

/**
 * What lands as one update of a WET branch: an environment alone, or every
 * environment with a folder on one shared branch (and a dropped one whose
 * child was that branch's), in work order.
 */
export function landingUnits(work: readonly EnvironmentWork[]): EnvironmentWork[][] {
  const units = new Map<string, EnvironmentWork[]>()
  for (const item of work) {
    const shared = item.environment?.folder !== undefined || item.child?.unit !== undefined
    const key = shared ? `branch:${item.branch}` : `environment:${item.name}`
    units.set(key, [...(units.get(key) ?? []), item])
  }
  return [...units.values()]
}

/**
 * Plans every environment (stage after stage), lands them all in one push,
 * then finishes each. A WET branch that moved meanwhile refuses the push: the
 * tips are read and the run planned once more; a second refusal (or any
 * other failure of the push) fails the environments it would have landed, and
 * a re-run lands them.
 */
async function landMerged(
  ctx: RunContext,
  work: readonly EnvironmentWork[],
  prepared: PreparedMerge,
  parallelism: number,
): Promise<EnvironmentCleanup[]> {
  const plan = () =>
    byStage(landingUnits(work), parallelism, async (unit) => {
      const [item] = unit
      const shared = unit.length > 1 || item?.environment?.folder !== undefined
      if (shared || !item) return planSharedBranch(ctx, unit, prepared)
      return [await planMerged(ctx, item, prepared)]
    })
  let planned = await plan()
  for (let attempt = 1; ; attempt++) {
    try {
      await pushLandings(ctx, work)
      break
    } catch (error) {
      if (!(error instanceof PushRejectedError) || attempt >= 2) {
        // Whether it landed or not, a re-run reads the tips and finishes.
        const landing = new Set(work.filter((w) => w.landing).map((w) => w.name))
        const why = `the landing push failed: ${errorMessage(error)}`
        planned = planned.map((r) =>
          landing.has(r.environment) ? { ...r, action: 'failed', detail: why } : r,
        )
        break
      }
      ctx.log(`a WET branch moved before the landing push (${error.message}); reading them again`)
      await readTips(ctx, work)
      planned = await plan()
    }
  }
  const byName = new Map(work.map((item) => [item.name, item]))
  return finishEach(planned, parallelism, (result) => {
    const item = byName.get(result.environment)
    return item ? finish(ctx, item, result, !item.keepBranches) : Promise.resolve(result)
  })
}

/** Finishes every planned environment, stage after stage (failed and skipped ones stay as they are). */
async function finishEach(
  planned: readonly EnvironmentCleanup[],
  parallelism: number,
  fn: (result: EnvironmentCleanup) => Promise<EnvironmentCleanup>,
): Promise<EnvironmentCleanup[]> {
  const finished: EnvironmentCleanup[] = []
  for (const stage of [...new Set(planned.map((r) => r.stage))]) {
    const items = planned.filter((r) => r.stage === stage)
    finished.push(
      ...(await mapPool(items, parallelism, async (result) => {
        if (result.action === 'failed' || result.action === 'skipped') return result
        try {
          return await fn(result)
        } catch (error) {
          return { ...result, action: 'failed' as const, detail: errorMessage(error) }
        }
      })),
    )
  }
  return finished
}

/** A parent closed without merging: cluster back on the WET branch, children closed, branches deleted, lock released. */
async function finishClosed(ctx: RunContext, item: EnvironmentWork): Promise<EnvironmentCleanup> {
  const step = nextClosedStep(item.child, item.branch)
  await closeChildren(ctx, item, `parent #${ctx.parent} was closed without merging`)
  return finish(ctx, item, { ...baseResult(item), action: step.action, detail: step.detail })
}
