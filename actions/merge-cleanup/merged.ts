// A merged parent: render the base HEAD on the current WET tips, then for
// each environment gather the facts (the render, the WET and child tips, the
// status), decide the step (decide.ts) and plan it. The WET branch updates of
// every environment go out in one atomic push, each leased on the tip read.

import { join } from 'node:path'
import { Git } from '../lib/git/git.js'
import {
  buildBranchCommit,
  buildWetCommit,
  readDryCommit,
  wetCommitIdentity,
  type DryCommit,
  type WetCommit,
} from '../lib/git/wet-commit.js'
import { readStatuses } from '../lib/github/status-board.js'
import type { EnvironmentHydration } from '../lib/hydration-types.js'
import { hydrate } from '../lib/render/hydrate.js'
import { environmentContext, type CommitStatus } from '../lib/statuses.js'
import { nextMergedStep, type MergedFacts, type MergedStep } from './decide.js'
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
  const statuses = await readStatuses(ctx.client, ctx.repo, parentHead, ctx.config.statuses)
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
  const { gathered, step } = await decide(ctx, item, prepared)
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

interface Decided {
  item: EnvironmentWork
  gathered: Gathered
  step: MergedStep
}

async function decide(
  ctx: RunContext,
  item: EnvironmentWork,
  prepared: PreparedMerge,
): Promise<Decided> {
  const gathered = await gather(ctx, item, prepared)
  return { item, gathered, step: nextMergedStep(gathered.facts) }
}

/**
 * Plans the environments of one shared WET branch (each folder decided on
 * its own facts) and lands them as ONE update of the branch: a commit whose
 * tree is the WET tip with every landing folder's render in place. It has the
 * child's head as parent, so GitHub marks the child merged, unless a folder
 * of the child is left for a human: then the other folders land on the WET
 * tip alone and the child stays open (its branch too) for what is left. The
 * child is closed only when no folder lands and none is left.
 */
export async function planSharedBranch(
  ctx: RunContext,
  items: readonly EnvironmentWork[],
  prepared: PreparedMerge,
): Promise<EnvironmentCleanup[]> {
  for (const item of items) delete item.landing
  const decided: Decided[] = []
  for (const item of items) decided.push(await decide(ctx, item, prepared))
  const landing = decided.filter((d) => d.step.kind === 'land' || d.step.kind === 'write-wet')
  const left = decided.filter((d) => d.step.kind === 'leave').map((d) => d.item.name)
  const first = landing[0]
  if (first) {
    const sha = await sharedLandingCommit(ctx, landing, prepared, left.length === 0)
    first.item.landing = wetUpdate(first.item, sha, first.gathered.wetTip)
  }
  const results: EnvironmentCleanup[] = []
  for (const { item, step } of decided) {
    const base = baseResult(item)
    switch (step.kind) {
      case 'leave':
        item.keepBranches = true
        results.push({ ...base, action: 'left', detail: step.reason })
        break
      case 'close':
        // The child is merged by the landing or kept for a folder left: only a child no folder needs closes.
        if (!first && left.length === 0) await closeChildren(ctx, item, step.why)
        results.push({ ...base, action: step.action, detail: step.detail })
        break
      case 'finish':
        results.push({ ...base, action: step.action, detail: step.detail })
        break
      case 'write-wet':
      case 'land': {
        const kept = left.length > 0 ? `; the child stays open for ${left.join(', ')}` : ''
        const rerendered = step.kind === 'write-wet' || step.rerendered
        results.push({ ...base, action: 'merged', rerendered, detail: `${step.detail}${kept}` })
        break
      }
    }
  }
  return results
}

/**
 * The one commit that lands the folders of a shared WET branch: the WET tip
 * with each landing folder's render, on the child's head when `mergeChild`
 * and a folder lands its child (deterministic, as `landingCommit`).
 */
async function sharedLandingCommit(
  ctx: RunContext,
  landing: readonly Decided[],
  prepared: PreparedMerge,
  mergeChild: boolean,
): Promise<string> {
  const { item, gathered } = landing[0] as Decided
  const renders = landing.map((d) => {
    const rendered = prepared.renders.get(d.item.name)
    if (!rendered) throw new Error(`${d.item.name}: no render to write`)
    return { ...rendered, baseSha: gathered.wetTip }
  })
  const commit = await buildBranchCommit(ctx.git, {
    environments: renders,
    renderedDir: prepared.renderedDir,
    parent: ctx.parent,
    dry: prepared.dry,
  })
  const lands = landing.filter((d) => d.step.kind === 'land')
  const children = [...new Set(lands.map((d) => d.item.child?.number))]
  if (!mergeChild || lands.length === 0) return commit.sha
  if (children.length > 1)
    throw new Error(
      `${item.branch}: its folders come from several child PRs (${children.map((n) => `#${n}`).join(', ')})`,
    )
  const landed = lands.map((d) => d.item.name)
  return landOnChild(ctx, {
    item: lands[0]!.item,
    tree: commit.sha,
    gathered: lands[0]!.gathered,
    prepared,
    what: `${item.branch}: ${landed.join(', ')}`,
    environments: landed,
  })
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
  return landOnChild(ctx, {
    item,
    tree: requireCommit(item, gathered).sha,
    gathered,
    prepared,
    what: item.name,
    environments: [item.name],
  })
}

async function landOnChild(
  ctx: RunContext,
  land: {
    item: EnvironmentWork
    /** A commit whose tree the WET branch must end up with. */
    tree: string
    gathered: Gathered
    prepared: PreparedMerge
    /** What lands, for the commit message. */
    what: string
    environments: readonly string[]
  },
): Promise<string> {
  const { item, gathered, prepared } = land
  const { wetTip, childTip } = gathered
  const child = item.child
  if (!child || !childTip)
    throw new Error(`${item.name}: the child branch ${child?.branch} is gone`)
  const tree = (await ctx.git.run(['rev-parse', '--verify', `${land.tree}^{tree}`])).trim()
  const childTree = (await ctx.git.run(['rev-parse', '--verify', `${childTip}^{tree}`])).trim()
  const onWet =
    !wetTip || (await ctx.git.raw(['merge-base', '--is-ancestor', wetTip, childTip])).code === 0
  if (onWet && tree === childTree) return childTip
  const parents = onWet ? [childTip] : [wetTip, childTip]
  const plumbing = new Git(ctx.git.dir, { env: wetCommitIdentity(prepared.dry) })
  const message = [
    `fleet-promote: land #${child.number} (${land.what} from #${ctx.parent})`,
    '',
    `The render of DRY commit ${prepared.drySha} on ${item.branch}.`,
    '',
    `Fleet-Promote-Parent: #${ctx.parent}`,
    `Fleet-Promote-Dry-Sha: ${prepared.drySha}`,
    ...land.environments.map((name) => `Fleet-Promote-Environment: ${name}`),
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
  // On a shared WET branch, an environment is its folder: its own metadata, its own objects.
  const folder = item.environment?.folder
  const newer = await newerRender(ctx, wetTip, prepared.drySha, folder)
  const commit = newer
    ? undefined
    : await buildWetCommit(ctx.git, {
        environment: { ...rendered, baseSha: wetTip },
        renderedDir: prepared.renderedDir,
        parent: ctx.parent,
        dry: prepared.dry,
      })
  const objectsChanged =
    commit !== undefined &&
    commit.changed &&
    !(await sameObjects(ctx.git, wetTip, commit.sha, folder))
  return {
    facts: {
      ...base,
      ...(newer ? { newerRender: newer } : {}),
      objectsChanged,
      childCurrent:
        commit !== undefined && (await sameObjects(ctx.git, childTip, commit.sha, folder)),
    },
    ...(commit ? { commit } : {}),
    wetTip,
    childTip,
  }
}

/**
 * Whether two WET commits hold the same files apart from provenance (metadata,
 * README): the whole branch, or one folder of a shared branch.
 */
export async function sameObjects(
  git: Git,
  a: string,
  b: string,
  folder?: string,
): Promise<boolean> {
  if (!a) return false
  const prefix = folder === undefined ? '' : `${folder}/`
  const diff = await git.raw([
    'diff',
    '--quiet',
    '--no-ext-diff',
    a,
    b,
    '--',
    prefix || '.',
    `:(exclude)${prefix}hydrator.metadata`,
    `:(exclude)${prefix}README.md`,
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
  folder?: string,
): Promise<string | undefined> {
  if (!wetTip) return undefined
  const text = await ctx.git.showFile(
    wetTip,
    folder === undefined ? 'hydrator.metadata' : `${folder}/hydrator.metadata`,
  )
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
