// A merged parent: render the base HEAD on the current WET tips, then for
// each environment gather the facts (the render, the WET and child tips, the
// status), decide the step (decide.ts) and plan it. The WET branch updates of
// every environment go out in one atomic push, each leased on the tip read.

import { join } from 'node:path'
import { Git } from '../lib/git/git.js'
import {
  buildWetCommit,
  readDryCommit,
  wetCommitIdentity,
  type DryCommit,
  type WetCommit,
} from '../lib/git/wet-commit.js'
import { latestStatuses } from '../lib/github/statuses.js'
import type { EnvironmentHydration } from '../lib/hydration-types.js'
import { hydrate } from '../lib/render/hydrate.js'
import { environmentContext, type CommitStatus } from '../lib/statuses.js'
import { nextMergedStep, type MergedFacts } from './decide.js'
import {
  baseResult,
  closeChildren,
  fetchBranches,
  oneFetchAtATime,
  repositoryUrl,
} from './steps.js'
import type {
  EnvironmentCleanup,
  EnvironmentWork,
  RefUpdate,
  Renderer,
  RunContext,
} from './types.js'

export interface PreparedMerge {
  drySha: string
  dry: DryCommit
  renderedDir: string
  renders: Map<string, EnvironmentHydration>
  /** Latest status per context on the parent head (was the environment promoted?). */
  statuses: Map<string, CommitStatus>
}

/** Renders every environment that still exists from the base HEAD, on the WET tips of now. */
export async function prepareMerged(
  ctx: RunContext,
  work: readonly EnvironmentWork[],
  drySha: string,
  scratch: string,
  parentHead: string,
): Promise<PreparedMerge> {
  const { git, options } = ctx
  const dry = await readDryCommit(git, drySha)
  if (!dry) throw new Error(`the base branch commit ${drySha} is not in the workspace`)
  const toRender = work.flatMap((w) => (w.environment ? [w.environment] : []))
  // WET tips where the render reads them (refs/remotes/origin/<branch>), for its diff counts.
  await readTips(ctx, work)
  const renderedDir = join(scratch, 'rendered')
  const render = options.render ?? hydrateRenderer(ctx)
  let renders = new Map<string, EnvironmentHydration>()
  if (toRender.length > 0) {
    const result = await git.withWorktree(drySha, join(scratch, 'dry'), (dryDir) =>
      render({
        dryDir,
        drySha,
        environments: toRender,
        outputDir: renderedDir,
        settings: ctx.config.hydrate,
        repoURL: repositoryUrl(ctx),
      }),
    )
    renders = new Map(result.environments.map((env) => [env.name, env]))
  }
  const statuses = await latestStatuses(ctx.client, ctx.repo, parentHead)
  return { drySha, dry, renderedDir, renders, statuses }
}

/** One read of every WET and child branch tip of the run, kept in each item's `tips`. */
export async function readTips(ctx: RunContext, work: readonly EnvironmentWork[]): Promise<void> {
  const branchesOf = (w: EnvironmentWork) => [
    w.branch,
    ...[w.child, ...w.duplicates].flatMap((c) => (c ? [c.branch] : [])),
  ]
  const tips = await fetchBranches(ctx, work.flatMap(branchesOf))
  for (const item of work) {
    for (const branch of branchesOf(item)) item.tips.set(branch, tips.get(branch) ?? '')
  }
}

function hydrateRenderer(ctx: RunContext): Renderer {
  return async (input) => {
    const run = await hydrate({
      repoDir: input.dryDir,
      environments: input.environments,
      outputDir: input.outputDir,
      settings: input.settings,
      drySha: input.drySha,
      repoURL: input.repoURL,
      ...(ctx.options.parallelism ? { parallelism: ctx.options.parallelism } : {}),
      log: ctx.log,
    })
    return run.result
  }
}

/**
 * Plans one environment of a merged parent: gathers its facts, decides, and
 * does what cannot wait for the landing push (closing children). A WET branch
 * update is left in `item.landing` for the run's one atomic push.
 */
export async function planMerged(
  ctx: RunContext,
  item: EnvironmentWork,
  prepared: PreparedMerge,
): Promise<EnvironmentCleanup> {
  delete item.landing
  const gathered = await gather(ctx, item, prepared)
  const step = nextMergedStep(gathered.facts)
  const base = baseResult(item)
  switch (step.kind) {
    case 'leave':
      item.keepBranches = true
      return { ...base, action: 'left', detail: step.reason }
    case 'close':
      await closeChildren(ctx, item, step.why)
      return { ...base, action: step.action, detail: step.detail }
    case 'finish':
      return { ...base, action: step.action, detail: step.detail }
    case 'write-wet':
      item.landing = wetUpdate(item, requireCommit(item, gathered).sha, gathered.wetTip)
      return { ...base, action: 'merged', rerendered: true, detail: step.detail }
    case 'land': {
      const sha = await landingCommit(ctx, item, gathered, prepared)
      item.landing = wetUpdate(item, sha, gathered.wetTip)
      return { ...base, action: 'merged', rerendered: step.rerendered, detail: step.detail }
    }
  }
}

function requireCommit(item: EnvironmentWork, gathered: Gathered): WetCommit {
  if (!gathered.commit) throw new Error(`${item.name}: no render to write`)
  return gathered.commit
}

function wetUpdate(item: EnvironmentWork, sha: string, expect: string): RefUpdate {
  return { ref: `refs/heads/${item.branch}`, sha, expect }
}

/**
 * The commit that lands a child: the render of the base HEAD as tree, the
 * child's head as parent (after the WET tip when the WET branch moved since
 * the child was made), so the WET branch contains the child's head and GitHub
 * marks the child merged. The child's head itself when it already is that.
 * Deterministic: a re-run builds the same SHA.
 */
async function landingCommit(
  ctx: RunContext,
  item: EnvironmentWork,
  gathered: Gathered,
  prepared: PreparedMerge,
): Promise<string> {
  const { wetTip, childTip } = gathered
  const commit = requireCommit(item, gathered)
  const child = item.child
  if (!child || !childTip)
    throw new Error(`${item.name}: the child branch ${child?.branch} is gone`)
  const tree = (await ctx.git.run(['rev-parse', '--verify', `${commit.sha}^{tree}`])).trim()
  const childTree = (await ctx.git.run(['rev-parse', '--verify', `${childTip}^{tree}`])).trim()
  const onWet =
    !wetTip || (await ctx.git.raw(['merge-base', '--is-ancestor', wetTip, childTip])).code === 0
  if (onWet && tree === childTree) return childTip
  const parents = onWet ? [childTip] : [wetTip, childTip]
  const plumbing = new Git(ctx.git.dir, { env: wetCommitIdentity(prepared.dry) })
  const message = [
    `fleet-promote: land #${child.number} (${item.name} from #${ctx.parent})`,
    '',
    `The render of DRY commit ${prepared.drySha} on ${item.branch}.`,
    '',
    `Fleet-Promote-Parent: #${ctx.parent}`,
    `Fleet-Promote-Dry-Sha: ${prepared.drySha}`,
    `Fleet-Promote-Environment: ${item.name}`,
    '',
  ].join('\n')
  const args = ['commit-tree', tree, ...parents.flatMap((p) => ['-p', p]), '-m', message]
  return (await plumbing.run(args, '')).trim()
}

interface Gathered {
  facts: MergedFacts
  commit?: WetCommit
  wetTip: string
  childTip: string
}

/** What decides the next step, without reading the WET and child branches. */
function baseFacts(
  ctx: RunContext,
  item: EnvironmentWork,
  prepared: PreparedMerge,
): Omit<MergedFacts, 'objectsChanged' | 'childCurrent' | 'newerRender'> {
  const child = item.child
  const rendered = item.environment ? prepared.renders.get(item.name) : undefined
  const status = prepared.statuses.get(environmentContext(item.name))
  return {
    drySha: prepared.drySha,
    branch: item.branch,
    environmentExists: item.environment !== undefined,
    ...(rendered
      ? {
          render: {
            status: rendered.status,
            ...(rendered.reason ? { reason: rendered.reason } : {}),
          },
        }
      : {}),
    // A blocked child deployed with success on the parent head was deployed with --allow-deletions.
    overridden: status?.state === 'success' && child?.marker?.guard !== undefined,
    ...(child ? { child: { number: child.number, state: child.state, merged: child.merged } } : {}),
    promoted: status?.state === 'success',
    mergeUnpromoted: ctx.config.merge.mergeUnpromoted,
  }
}

async function gather(
  ctx: RunContext,
  item: EnvironmentWork,
  prepared: PreparedMerge,
): Promise<Gathered> {
  const base = baseFacts(ctx, item, prepared)
  const rendered = prepared.renders.get(item.name)
  const status = base.render?.status
  if (
    !rendered ||
    !(status === 'rendered' || status === 'unchanged' || (status === 'blocked' && base.overridden))
  ) {
    return {
      facts: { ...base, objectsChanged: false, childCurrent: false },
      wetTip: '',
      childTip: '',
    }
  }
  const child = item.child
  const wetTip = item.tips.get(item.branch) ?? ''
  const childTip = child ? (item.tips.get(child.branch) ?? '') : ''
  // Never overwrite a WET branch that already holds a render of a later base commit.
  const newer = await newerRender(ctx, wetTip, prepared.drySha)
  const commit = newer
    ? undefined
    : await buildWetCommit(ctx.git, {
        environment: { ...rendered, baseSha: wetTip },
        renderedDir: prepared.renderedDir,
        parent: ctx.parent,
        dry: prepared.dry,
      })
  const objectsChanged =
    commit !== undefined && commit.changed && !(await sameObjects(ctx.git, wetTip, commit.sha))
  return {
    facts: {
      ...base,
      ...(newer ? { newerRender: newer } : {}),
      objectsChanged,
      childCurrent: commit !== undefined && (await sameObjects(ctx.git, childTip, commit.sha)),
    },
    ...(commit ? { commit } : {}),
    wetTip,
    childTip,
  }
}

/** Whether two WET commits hold the same files apart from provenance (metadata, README). */
export async function sameObjects(git: Git, a: string, b: string): Promise<boolean> {
  if (!a) return false
  const diff = await git.raw([
    'diff',
    '--quiet',
    '--no-ext-diff',
    a,
    b,
    '--',
    '.',
    ':(exclude)hydrator.metadata',
    ':(exclude)README.md',
  ])
  return diff.code === 0
}

/**
 * The `drySha` of the render on a WET tip, when it is a strict descendant of
 * `drySha` (a later base commit): then this run's render would be older.
 */
async function newerRender(
  ctx: RunContext,
  wetTip: string,
  drySha: string,
): Promise<string | undefined> {
  if (!wetTip) return undefined
  const text = await ctx.git.showFile(wetTip, 'hydrator.metadata')
  let recorded: unknown
  try {
    recorded = text === undefined ? undefined : (JSON.parse(text) as { drySha?: unknown }).drySha
  } catch {
    return undefined
  }
  if (typeof recorded !== 'string' || !/^[0-9a-f]{40}$/.test(recorded) || recorded === drySha)
    return undefined
  if (!(await ctx.git.tryRevParse(recorded))) {
    // Possibly a base commit newer than our fetch: fetch it before deciding.
    const sha = recorded
    await oneFetchAtATime(ctx, () =>
      ctx.git.raw([
        'fetch',
        '--quiet',
        '--no-tags',
        '--no-write-fetch-head',
        '--',
        ctx.options.remote,
        sha,
      ]),
    )
    if (!(await ctx.git.tryRevParse(recorded))) return undefined
  }
  const ancestor = await ctx.git.raw(['merge-base', '--is-ancestor', drySha, recorded])
  return ancestor.code === 0 ? recorded : undefined
}
