// A merged parent, one environment at a time: gather the facts (the render
// of the base HEAD on the current WET tip, the child, its status), decide the
// next step (decide.ts), execute it, and decide again until the environment
// is finished.

import { join } from 'node:path'
import type { Git } from '../lib/git/git.js'
import {
  buildWetCommit,
  readDryCommit,
  type DryCommit,
  type WetCommit,
} from '../lib/git/wet-commit.js'
import { getPullRequest, type ChildPr } from '../lib/github/pulls.js'
import { latestStatuses } from '../lib/github/statuses.js'
import type { EnvironmentHydration } from '../lib/hydration-types.js'
import { hydrate } from '../lib/render/hydrate.js'
import { environmentContext, type CommitStatus } from '../lib/statuses.js'
import { nextMergedStep, type MergedFacts, type MergedStep } from './decide.js'
import {
  baseResult,
  closeChildren,
  fetchBranches,
  finish,
  leave,
  mergeChild,
  oneFetchAtATime,
  pushRefs,
  repositoryUrl,
  RetryEnvironment,
  waitForHead,
} from './steps.js'
import type { EnvironmentCleanup, EnvironmentWork, Renderer, RunContext } from './types.js'

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
  await fetchBranches(
    ctx,
    toRender.map((env) => env.branch),
  )
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

/** One environment of a merged parent, with one more attempt after a moved head or a rejected lease. */
export async function finishMerged(
  ctx: RunContext,
  item: EnvironmentWork,
  prepared: PreparedMerge,
): Promise<EnvironmentCleanup> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await mergeOnce(ctx, item, prepared)
    } catch (error) {
      if (!(error instanceof RetryEnvironment) || attempt >= 2) throw error
      ctx.log(`${item.name}: ${error.message}; reading it again`)
      const fresh = await refreshChild(ctx, item.child)
      if (fresh) item.child = fresh
    }
  }
}

async function refreshChild(
  ctx: RunContext,
  child: ChildPr | undefined,
): Promise<ChildPr | undefined> {
  if (!child) return undefined
  const now = await getPullRequest(ctx.client, ctx.repo, child.number)
  return { ...child, state: now.state, merged: now.merged, headSha: now.headSha, base: now.baseRef }
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
): Omit<MergedFacts, 'objectsChanged' | 'childHoldsRender' | 'newerRender'> {
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
      facts: { ...base, objectsChanged: false, childHoldsRender: false },
      wetTip: '',
      childTip: '',
    }
  }
  const child = item.child
  const tips = await fetchBranches(ctx, [item.branch, ...(child ? [child.branch] : [])])
  for (const [branch, sha] of tips) item.tips.set(branch, sha)
  const wetTip = tips.get(item.branch) ?? ''
  const childTip = child ? (tips.get(child.branch) ?? '') : ''
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
      childHoldsRender: commit !== undefined && childTip === commit.sha,
    },
    ...(commit ? { commit } : {}),
    wetTip,
    childTip,
  }
}

async function mergeOnce(
  ctx: RunContext,
  item: EnvironmentWork,
  prepared: PreparedMerge,
): Promise<EnvironmentCleanup> {
  const gathered = await gather(ctx, item, prepared)
  let rerendered = false
  let why = ''
  for (;;) {
    const step = nextMergedStep(gathered.facts)
    if (step.kind !== 'update-child') return execute(ctx, item, gathered, step, { rerendered, why })
    why = await updateChild(ctx, item, gathered)
    rerendered = true
    gathered.facts.childHoldsRender = true
  }
}

async function execute(
  ctx: RunContext,
  item: EnvironmentWork,
  gathered: Gathered,
  step: Exclude<MergedStep, { kind: 'update-child' }>,
  done: { rerendered: boolean; why: string },
): Promise<EnvironmentCleanup> {
  const base = baseResult(item)
  const { commit } = gathered
  switch (step.kind) {
    case 'leave':
      return leave(ctx, item, step.reason)
    case 'close':
      await closeChildren(ctx, item, step.why)
      return finish(ctx, item, { ...base, action: step.action, detail: step.detail })
    case 'finish':
      return finish(ctx, item, { ...base, action: step.action, detail: step.detail })
    case 'write-wet':
      if (!commit) throw new Error(`${item.name}: no render to write`)
      await pushRefs(ctx, item, [
        { ref: `refs/heads/${item.branch}`, sha: commit.sha, expect: gathered.wetTip },
      ])
      return finish(ctx, item, { ...base, action: 'merged', rerendered: true, detail: step.detail })
    case 'merge': {
      const child = item.child
      if (!child || !commit) throw new Error(`${item.name}: nothing to merge`)
      await waitForHead(ctx, child.number, commit.sha)
      const mergeSha = await mergeChild(ctx, item, child, commit.sha)
      // The merge commit is the new WET tip; when it was merged before, the tip is unknown.
      if (mergeSha) item.tips.set(item.branch, mergeSha)
      else item.tips.delete(item.branch)
      const detail = mergeSha
        ? `merged #${child.number} into ${item.branch}${done.rerendered ? ` (re-rendered from ${gathered.facts.drySha.slice(0, 7)}${done.why})` : ''}`
        : `#${child.number} was already merged`
      return finish(ctx, item, { ...base, action: 'merged', rerendered: done.rerendered, detail })
    }
  }
}

/** The child branch gets the base HEAD render on the current WET tip; returns why it changed. */
async function updateChild(
  ctx: RunContext,
  item: EnvironmentWork,
  gathered: Gathered,
): Promise<string> {
  const { commit, wetTip, childTip } = gathered
  const child = item.child
  if (!commit || !child) throw new Error(`${item.name}: no child to update`)
  const why = (await sameObjects(ctx.git, childTip, commit.sha))
    ? ': same objects, new provenance'
    : ': objects changed since the child was rendered'
  // The WET tip is leased too, so a concurrent merge into it fails the push.
  const updates = [{ ref: `refs/heads/${child.branch}`, sha: commit.sha, expect: childTip }]
  updates.push({ ref: `refs/heads/${item.branch}`, sha: commit.rootSha ?? wetTip, expect: wetTip })
  await pushRefs(ctx, item, updates)
  ctx.log(`${item.name}: child #${child.number} updated to ${commit.sha.slice(0, 7)}`)
  return why
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
