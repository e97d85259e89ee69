// merge-cleanup's core: finish a parent pull request once it is closed.
//
// Merged parent: for each child environment, in stage order, make the child
// hold the render of the base branch HEAD on top of the current WET tip
// (re-rendering when another parent merged first), merge it bound to that
// SHA, delete the child branch, point the Argo CD Application back at the
// WET branch and release the lock. Closed parent: close the children, delete
// their branches, reset the Applications, release the locks.
//
// Level-triggered and resumable: every step first reads what GitHub has and
// does only what is missing. Child commits are deterministic (same render on
// the same WET tip → same SHA), so a re-run after a crash anywhere pushes
// nothing twice, merges nothing twice and edits its one comment.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ArgoCdError, canonicalRepoURL, type ArgoCdClient } from '../lib/argocd/client.js'
import { CHILD_BRANCH_PREFIX, childBranch } from '../lib/children.js'
import type { DeployBackend, Environment, FleetConfig } from '../lib/config/types.js'
import {
  discoverEnvironments,
  argoCdApplicationName,
  stageFor,
  stageOrder,
  loadConfigFrom,
} from '../lib/config/config.js'
import { errorMessage } from '../lib/errors.js'
import { PushRejectedError, type Git } from '../lib/git/git.js'
import type { GitHubClient } from '../lib/github/client.js'
import type { EnvironmentHydration, HydrationResult } from '../lib/hydration-types.js'
import { releaseLock, releaseLocksOfPullRequest, type ReleaseResult } from '../lib/locks.js'
import { GITHUB_BODY_LIMIT, inlineCode, link, table, truncate, untrusted } from '../lib/markdown.js'
import { hydrate, mapPool, type RenderSettings } from '../lib/render/hydrate.js'
import { environmentContext, type CommitStatus, type RepoRef } from '../lib/statuses.js'
import { latestStatuses } from '../lib/github/statuses.js'
import { buildWetCommit, readDryCommit, type DryCommit } from '../lib/git/wet-commit.js'
import { gitRevisionSource } from '../lib/config/sources.js'
import {
  childrenOf,
  closePull,
  getPullRequest,
  listPullsUpdatedSince,
  mergeAtSha,
  type ChildPr,
} from '../lib/github/pulls.js'
import { deleteBranch } from '../lib/github/git-data.js'
import { upsertMarkedComment } from '../lib/github/comments.js'

export const CLEANUP_MARKER = '<!-- fleet-promote:merge-cleanup -->'

/** Renders environments of a DRY commit checked out in `dryDir` (the hydrate core by default). */
export type Renderer = (input: {
  dryDir: string
  drySha: string
  environments: readonly Environment[]
  outputDir: string
  settings: RenderSettings
  /** Recorded in hydrator.metadata, as hydrate records it (`<server>/<owner>/<repo>`). */
  repoURL: string
}) => Promise<HydrationResult>

export interface MergeCleanupOptions {
  client: GitHubClient
  /** The workspace repository (a checkout of the repository; its HEAD and index are never touched). */
  git: Git
  /** Where branches live: a remote name or URL. */
  remote: string
  repo: RepoRef
  parent: number
  /** Repository-relative configuration file, read from the base branch HEAD. */
  configFile?: string
  /** `https://github.com` (GITHUB_SERVER_URL): the DRY repository URL Argo CD tracks. */
  serverUrl: string
  /** Builds an Argo CD client for a server (absent: no token given). */
  argocd?: (server: string) => ArgoCdClient
  /** Overrides deploy.argocd.server. */
  argocdServer?: string
  /** Environments handled at once within a stage, and render processes. */
  parallelism?: number
  runUrl?: string
  render?: Renderer
  /** How long to wait for GitHub to see a pushed child head before merging. */
  headWaitMs?: number
  log?: (message: string) => void
}

/** What happened to one environment. */
export type CleanupAction =
  /** The child was merged (now or by an earlier run). */
  | 'merged'
  /** The WET branch already held the render: nothing to merge, the child was closed. */
  | 'current'
  /** Closed without merging (parent closed, or the environment no longer exists). */
  | 'closed'
  /** Left for a human (see `reason`). */
  | 'left'
  /** An error stopped this environment; a re-run finishes it. */
  | 'failed'
  /** Not reached because an earlier stage failed. */
  | 'skipped'

export interface ApplicationReset {
  name: string
  /**
   * reset: pointed back at the WET branch and synced; synced: it tracked the
   * branch, synced to its new tip; unchanged: nothing to do; kept: it follows
   * another PR's child branch (or a pin), left alone.
   */
  result: 'reset' | 'synced' | 'unchanged' | 'kept' | 'failed'
  detail: string
}

export interface EnvironmentCleanup {
  environment: string
  stage: string
  /** The WET branch. */
  branch: string
  child?: { number: number; url: string }
  action: CleanupAction
  detail: string
  /** True when the child branch was rewritten with the render of the base HEAD before merging. */
  rerendered: boolean
  application?: ApplicationReset
  lock?: ReleaseResult
}

export interface LeftItem {
  environment: string
  reason: string
  child?: number
}

export interface MergeCleanupResult {
  parent: number
  /** merged / closed: what the parent was; open: it was reopened, nothing was done. */
  parentState: 'merged' | 'closed' | 'open'
  /** The base branch commit rendered (merged parents with open children). */
  drySha?: string
  environments: EnvironmentCleanup[]
  merged: string[]
  closed: string[]
  left: LeftItem[]
  /** Locks of the parent released by the final sweep (environments without children). */
  locksReleased: string[]
  commentUrl?: string
  /** Markdown for the job summary. */
  summary: string
  /** Some environment failed: the step should fail so someone re-runs it. */
  failed: boolean
}

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

// ---------------------------------------------------------------- the run

interface RunContext {
  options: MergeCleanupOptions
  client: GitHubClient
  git: Git
  repo: RepoRef
  parent: number
  config: FleetConfig
  argocd?: ArgoCdClient
  log: (message: string) => void
  /** Serializes fetches into the workspace (parallel fetches race on a shallow repository's `shallow` file). */
  fetching: Promise<unknown>
}

interface EnvironmentWork {
  name: string
  stage: string
  backend: DeployBackend
  /** The WET branch (from the current configuration, else from the child). */
  branch: string
  /** Undefined when the environment no longer exists on the base branch. */
  environment?: Environment
  child?: ChildPr
  /** Other open children of the same environment (duplicates to close). */
  duplicates: ChildPr[]
  /** Remote branch tips as this run last read or wrote them ('' = no branch), to spare re-reads. */
  tips: Map<string, string>
}

export async function mergeCleanup(options: MergeCleanupOptions): Promise<MergeCleanupResult> {
  const { client, git, repo, parent } = options
  const log = options.log ?? (() => undefined)
  const pull = await getPullRequest(client, repo, parent)
  if (pull.state === 'open') {
    const summary = `Parent #${parent} is open again: nothing to clean up.\n`
    return emptyResult(parent, 'open', summary)
  }
  const merged = pull.merged
  const base = pull.baseRef

  // The base branch as it is now: its configuration and, for a merged parent, its render.
  const baseRef = `refs/fleet-promote/merge-cleanup/base`
  await git.fetch(options.remote, [`+refs/heads/${base}:${baseRef}`])
  const drySha = await git.revParse(baseRef)
  const config = await loadConfigFrom(
    gitRevisionSource(git, drySha, 'on the base branch'),
    options.configFile,
  )
  const known = new Map(
    discoverEnvironments(config, await git.listFiles(drySha), { allowUnmatched: true }).map(
      (env) => [env.name, env],
    ),
  )

  const children = await findChildren(client, repo, parent, pull.createdAt)
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
  work.sort(
    (a, b) =>
      (ranks.get(a.stage) ?? ranks.size) - (ranks.get(b.stage) ?? ranks.size) ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  )

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
    log,
    fetching: Promise.resolve(),
  }
  const parallelism = Math.max(1, options.parallelism ?? 4)

  let results: EnvironmentCleanup[]
  if (merged) {
    const scratch = await mkdtemp(join(tmpdir(), 'fleet-promote-cleanup-'))
    try {
      const prepared = await prepareMerged(ctx, work, drySha, scratch, pull.headSha)
      results = await byStage(work, parallelism, (item) => finishMerged(ctx, item, prepared))
    } finally {
      await rm(scratch, { recursive: true, force: true })
    }
  } else {
    results = await byStage(work, parallelism, (item) => finishClosed(ctx, item))
  }

  const locksReleased = await releaseLocksOfPullRequest(client, repo, parent)
  const result: MergeCleanupResult = {
    parent,
    parentState: merged ? 'merged' : 'closed',
    ...(merged && work.length > 0 ? { drySha } : {}),
    environments: results,
    merged: results
      .filter((r) => r.action === 'merged' || r.action === 'current')
      .map((r) => r.environment),
    closed: results.filter((r) => r.action === 'closed').map((r) => r.environment),
    left: leftItems(results),
    locksReleased,
    summary: '',
    failed: results.some((r) => r.action === 'failed'),
  }
  const body = renderCleanupReport(result, { base })
  result.summary = renderJobSummary(result, body, options.runUrl)
  // A pull request that never had children or locks (most PRs of a repository) gets no comment.
  if (results.length > 0 || locksReleased.length > 0) {
    const comment = truncate(`${CLEANUP_MARKER}\n${body}`, GITHUB_BODY_LIMIT)
    result.commentUrl = await upsertMarkedComment(client, repo, parent, CLEANUP_MARKER, comment)
  }
  return result
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
    summary,
    failed: false,
  }
}

/**
 * Runs stage after stage (environments of one stage in parallel). When an
 * environment fails, later stages are not touched: a re-run continues there.
 */
async function byStage(
  work: readonly EnvironmentWork[],
  parallelism: number,
  fn: (item: EnvironmentWork) => Promise<EnvironmentCleanup>,
): Promise<EnvironmentCleanup[]> {
  const results: EnvironmentCleanup[] = []
  const stages = [...new Set(work.map((w) => w.stage))]
  let failedIn: string | undefined
  for (const stage of stages) {
    const items = work.filter((w) => w.stage === stage)
    if (failedIn !== undefined) {
      for (const item of items) {
        results.push({
          ...baseResult(item),
          action: 'skipped',
          detail: `not processed: stage ${failedIn} did not finish; re-run the workflow`,
        })
      }
      continue
    }
    const done = await mapPool(items, parallelism, async (item) => {
      try {
        return await fn(item)
      } catch (error) {
        return { ...baseResult(item), action: 'failed' as const, detail: errorMessage(error) }
      }
    })
    results.push(...done)
    if (done.some((r) => r.action === 'failed')) failedIn = stage || '(none)'
  }
  return results
}

function baseResult(item: EnvironmentWork): Omit<EnvironmentCleanup, 'action' | 'detail'> {
  return {
    environment: item.name,
    stage: item.stage,
    branch: item.branch,
    ...(item.child ? { child: { number: item.child.number, url: item.child.url } } : {}),
    rerendered: false,
  }
}

// ---------------------------------------------------------------- merged parent

interface PreparedMerge {
  drySha: string
  dry: DryCommit
  renderedDir: string
  renders: Map<string, EnvironmentHydration>
  /** Latest status per context on the parent head (was the environment promoted?). */
  statuses: Map<string, CommitStatus>
}

async function prepareMerged(
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
    const result = await withWorktree(git, drySha, join(scratch, 'dry'), (dryDir) =>
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

/** The DRY repository as hydrate records it and Argo CD tracks it. */
function repositoryUrl(ctx: RunContext): string {
  return `${ctx.options.serverUrl}/${ctx.repo.owner}/${ctx.repo.repo}`
}

/** A detached work tree of `sha` sharing the workspace's object store, removed afterwards. */
async function withWorktree<T>(
  git: Git,
  sha: string,
  dir: string,
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  await git.run(['worktree', 'add', '--quiet', '--detach', '--force', '--', dir, sha])
  try {
    return await fn(dir)
  } finally {
    await git.raw(['worktree', 'remove', '--force', '--', dir])
    await git.raw(['worktree', 'prune'])
  }
}

/**
 * Reads the remote tips of branches and mirrors them exactly in
 * refs/remotes/origin/<branch> (where the render reads WET branches), so
 * every run computes against the same tips. Returns branch → tip ('' when missing).
 */
function fetchBranches(ctx: RunContext, branches: readonly string[]): Promise<Map<string, string>> {
  return oneFetchAtATime(ctx, () => fetchBranchesNow(ctx, branches))
}

function oneFetchAtATime<T>(ctx: RunContext, fn: () => Promise<T>): Promise<T> {
  const next = ctx.fetching.then(fn)
  ctx.fetching = next.catch(() => undefined)
  return next
}

async function fetchBranchesNow(
  ctx: RunContext,
  branches: readonly string[],
): Promise<Map<string, string>> {
  const unique = [...new Set(branches)].filter(Boolean)
  const tips = new Map<string, string>()
  if (unique.length === 0) return tips
  const refs = await ctx.git.lsRemote(
    ctx.options.remote,
    unique.map((b) => `refs/heads/${b}`),
  )
  const missing: string[] = []
  for (const branch of unique) {
    const sha = refs.get(`refs/heads/${branch}`) ?? ''
    tips.set(branch, sha)
    if (sha && !(await ctx.git.tryRevParse(sha))) missing.push(`refs/heads/${branch}`)
  }
  if (missing.length > 0) await ctx.git.fetch(ctx.options.remote, missing)
  for (const [branch, sha] of tips) {
    const tracking = `refs/remotes/origin/${branch}`
    if (sha) await ctx.git.run(['update-ref', '--no-deref', tracking, sha])
    else await ctx.git.raw(['update-ref', '-d', tracking])
  }
  return tips
}

/** A 409 on merge or a rejected lease: re-read everything and try this environment once more. */
class RetryEnvironment extends Error {
  override name = 'RetryEnvironment'
}

async function finishMerged(
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

async function mergeOnce(
  ctx: RunContext,
  item: EnvironmentWork,
  prepared: PreparedMerge,
): Promise<EnvironmentCleanup> {
  const base = baseResult(item)
  const child = item.child
  if (!item.environment) {
    // The environment was removed from the base branch since the child was opened.
    await closeChildren(ctx, item, 'its environment no longer exists on the base branch')
    await deleteChildBranches(ctx, item)
    return finish(ctx, item, {
      ...base,
      action: 'closed',
      detail: `environment no longer exists at ${prepared.drySha.slice(0, 7)}; child closed`,
    })
  }
  const rendered = prepared.renders.get(item.name)
  if (!rendered || rendered.status === 'failed' || rendered.status === 'blocked') {
    const why = rendered?.reason ?? 'it was not rendered'
    return leave(
      ctx,
      item,
      base,
      `render of ${prepared.drySha.slice(0, 7)} ${rendered?.status ?? 'missing'}: ${why}`,
    )
  }

  const tips = await fetchBranches(ctx, [item.branch, ...(child ? [child.branch] : [])])
  for (const [branch, sha] of tips) item.tips.set(branch, sha)
  const wetTip = tips.get(item.branch) ?? ''
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

  if (!commit || !commit.changed) {
    const holds = newer
      ? `${item.branch} already holds a render of the later commit ${newer.slice(0, 7)}`
      : `${item.branch} already equals the render of ${prepared.drySha.slice(0, 7)}`
    if (child?.merged) {
      await deleteChildBranches(ctx, item)
      return finish(ctx, item, {
        ...base,
        action: 'merged',
        detail: `#${child.number} merged; ${holds}`,
      })
    }
    await closeChildren(ctx, item, `${holds}, so there is nothing left to merge`)
    await deleteChildBranches(ctx, item)
    return finish(ctx, item, { ...base, action: 'current', detail: `${holds}; nothing to merge` })
  }

  if (!child || child.state === 'closed') {
    if (child?.merged) {
      // Merged earlier (merge backend) from an older render: bring the WET branch to the base HEAD render.
      await pushRefs(ctx, item, [
        { ref: `refs/heads/${item.branch}`, sha: commit.sha, expect: wetTip },
      ])
      await deleteChildBranches(ctx, item)
      return finish(ctx, item, {
        ...base,
        action: 'merged',
        rerendered: true,
        detail: `#${child.number} merged earlier; ${item.branch} re-rendered from ${prepared.drySha.slice(0, 7)}`,
      })
    }
    return leave(
      ctx,
      item,
      base,
      child
        ? `child #${child.number} was closed without merging, and ${item.branch} differs from the render of ${prepared.drySha.slice(0, 7)}`
        : `no child PR, and ${item.branch} differs from the render of ${prepared.drySha.slice(0, 7)}`,
    )
  }

  if (!ctx.config.merge.mergeUnpromoted && !promoted(prepared, item.name)) {
    return leave(
      ctx,
      item,
      base,
      `never promoted, and merge.mergeUnpromoted is false: child #${child.number} left open`,
    )
  }

  const childTip = tips.get(child.branch) ?? ''
  const rerendered = childTip !== commit.sha
  let why = ''
  if (rerendered) {
    why = (await sameObjects(ctx.git, childTip, commit.sha))
      ? ': same objects, new provenance'
      : ': objects changed since the child was rendered'
    // The child branch gets the render of the base HEAD on the current WET tip;
    // the WET tip is leased too, so a concurrent merge into it fails the push.
    const updates = [{ ref: `refs/heads/${child.branch}`, sha: commit.sha, expect: childTip }]
    if (commit.rootSha)
      updates.push({ ref: `refs/heads/${item.branch}`, sha: commit.rootSha, expect: wetTip })
    else updates.push({ ref: `refs/heads/${item.branch}`, sha: wetTip, expect: wetTip })
    await pushRefs(ctx, item, updates)
    ctx.log(`${item.name}: child #${child.number} updated to ${commit.sha.slice(0, 7)}`)
  }
  await waitForHead(ctx, child.number, commit.sha)
  const mergeSha = await mergeChild(ctx, item, child, commit.sha)
  // The merge commit is the new WET tip; when it was merged before, the tip is unknown.
  if (mergeSha) item.tips.set(item.branch, mergeSha)
  else item.tips.delete(item.branch)
  const detail = mergeSha
    ? `merged #${child.number} into ${item.branch}${rerendered ? ` (re-rendered from ${prepared.drySha.slice(0, 7)}${why})` : ''}`
    : `#${child.number} was already merged`
  await deleteChildBranches(ctx, item)
  return finish(ctx, item, { ...base, action: 'merged', rerendered, detail })
}

/** Whether two WET commits hold the same files apart from provenance (metadata, README). */
async function sameObjects(git: Git, a: string, b: string): Promise<boolean> {
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

function promoted(prepared: PreparedMerge, environment: string): boolean {
  return prepared.statuses.get(environmentContext(environment))?.state === 'success'
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

async function pushRefs(
  ctx: RunContext,
  item: EnvironmentWork,
  updates: ReadonlyArray<{ ref: string; sha: string; expect: string }>,
): Promise<void> {
  try {
    await ctx.git.push(
      ctx.options.remote,
      updates.map((u) => `${u.sha}:${u.ref}`),
      { atomic: true, leases: updates.map((u) => ({ ref: u.ref, expect: u.expect })) },
    )
  } catch (error) {
    if (error instanceof PushRejectedError) throw new RetryEnvironment(error.message)
    throw error
  }
  for (const update of updates) item.tips.set(update.ref.slice('refs/heads/'.length), update.sha)
}

/** GitHub updates a PR's head asynchronously after a push; merge only once it shows the new SHA. */
async function waitForHead(ctx: RunContext, number: number, sha: string): Promise<void> {
  const deadline = Date.now() + (ctx.options.headWaitMs ?? 10_000)
  for (let delay = 250; ; delay = Math.min(delay * 2, 2000)) {
    const now = await getPullRequest(ctx.client, ctx.repo, number)
    if (now.headSha === sha || now.merged || now.state !== 'open') return
    if (Date.now() + delay > deadline) return // the merge's `sha` check decides
    await new Promise((resolve) => setTimeout(resolve, delay))
  }
}

/** Merges bound to `sha`; undefined when it was merged already. 409 → RetryEnvironment. */
async function mergeChild(
  ctx: RunContext,
  item: EnvironmentWork,
  child: ChildPr,
  sha: string,
): Promise<string | undefined> {
  const merge = await mergeAtSha(ctx.client, ctx.repo, {
    number: child.number,
    sha,
    title: `fleet-promote: ${item.name} from #${ctx.parent} (#${child.number})`,
  })
  if (merge.merged) return merge.sha
  if (merge.reason === 'head-moved')
    throw new RetryEnvironment(`the head of #${child.number} moved before the merge`)
  // A refusal of a PR that an earlier attempt merged (its answer lost) is no failure.
  if ((await getPullRequest(ctx.client, ctx.repo, child.number)).merged) return undefined
  throw new Error(`GitHub refused to merge #${child.number}: ${merge.message}`)
}

/** Left for a human: the child stays as it is; its lock is released (the parent is done). */
async function leave(
  ctx: RunContext,
  item: EnvironmentWork,
  base: Omit<EnvironmentCleanup, 'action' | 'detail'>,
  reason: string,
): Promise<EnvironmentCleanup> {
  const lock = await releaseLock(ctx.client, ctx.repo, item.name, ctx.parent)
  return { ...base, action: 'left', detail: reason, lock }
}

// ---------------------------------------------------------------- closed parent

async function finishClosed(ctx: RunContext, item: EnvironmentWork): Promise<EnvironmentCleanup> {
  const base = baseResult(item)
  const child = item.child
  await closeChildren(ctx, item, `parent #${ctx.parent} was closed without merging`)
  await deleteChildBranches(ctx, item)
  if (child?.merged) {
    const result = await finish(ctx, item, {
      ...base,
      action: 'left',
      detail: `child #${child.number} was merged into ${item.branch} before the parent was closed; ${item.branch} holds changes the base branch does not have: re-render it or revert #${child.number}`,
    })
    return result
  }
  return finish(ctx, item, {
    ...base,
    action: 'closed',
    detail: child ? `closed #${child.number}` : 'no open child',
  })
}

// ---------------------------------------------------------------- shared steps

async function closeChildren(ctx: RunContext, item: EnvironmentWork, why: string): Promise<void> {
  const open = [item.child, ...item.duplicates].filter(
    (c): c is ChildPr => c !== undefined && c.state === 'open',
  )
  for (const child of open) {
    // Merged or closed meanwhile: nothing to close.
    await closePull(ctx.client, ctx.repo, child.number, { ignoreFinished: true })
    child.state = 'closed'
    ctx.log(`${item.name}: closed #${child.number} (${why})`)
  }
}

/** Deletes every child branch of the environment that still exists; one already gone is fine. */
async function deleteChildBranches(ctx: RunContext, item: EnvironmentWork): Promise<void> {
  const branches = [
    ...new Set(
      [item.child, ...item.duplicates]
        .filter((c): c is ChildPr => c !== undefined)
        .map((c) => c.branch)
        .filter((ref) => ref.startsWith(`${CHILD_BRANCH_PREFIX}${ctx.parent}/`)),
    ),
  ]
  if (branches.length === 0) return
  const unknown = branches.filter((b) => !item.tips.has(b))
  if (unknown.length > 0) {
    const refs = await ctx.git.lsRemote(
      ctx.options.remote,
      unknown.map((b) => `refs/heads/${b}`),
    )
    for (const b of unknown) item.tips.set(b, refs.get(`refs/heads/${b}`) ?? '')
  }
  for (const branch of branches.filter((b) => item.tips.get(b))) {
    if (await deleteBranch(ctx.client, ctx.repo, branch)) ctx.log(`${item.name}: deleted ${branch}`)
    item.tips.set(branch, '')
  }
}

/** Resets the Application (argocd backend) and releases the lock. */
async function finish(
  ctx: RunContext,
  item: EnvironmentWork,
  result: EnvironmentCleanup,
): Promise<EnvironmentCleanup> {
  const application = await resetApplication(ctx, item)
  const lock = await releaseLock(ctx.client, ctx.repo, item.name, ctx.parent)
  return { ...result, ...(application ? { application } : {}), lock }
}

/**
 * Points the Application's source back at the WET branch and syncs it,
 * unless it already tracks the branch and is synced to its tip (a re-run
 * then does nothing).
 */
async function resetApplication(
  ctx: RunContext,
  item: EnvironmentWork,
): Promise<ApplicationReset | undefined> {
  if (item.backend !== 'argocd' || !item.branch) return undefined
  let name: string
  try {
    name = argoCdApplicationName(ctx.config, item)
  } catch (error) {
    return { name: '', result: 'failed', detail: errorMessage(error) }
  }
  const argocd = ctx.argocd
  if (!argocd) {
    return {
      name,
      result: 'failed',
      detail: 'no Argo CD server or token: set deploy.argocd.server and the argocd-token input',
    }
  }
  try {
    const repoURL = repositoryUrl(ctx)
    const before = await argocd.getApplication(name)
    const sources = before.spec.sources ?? []
    const multiSource = sources.length > 0
    const current = multiSource
      ? sources.find(
          (source) => canonicalRepoURL(source.repoURL ?? '') === canonicalRepoURL(repoURL),
        )?.targetRevision
      : before.spec.source?.targetRevision
    // Another parent's promotion (or a human's pin) is not ours to undo.
    const ours = childBranch(ctx.parent, item.name)
    if (current !== undefined && current !== item.branch && current !== ours) {
      return { name, result: 'kept', detail: `${name} follows ${current}, not this PR: left alone` }
    }
    const set = await argocd.setTargetRevision(
      name,
      item.branch,
      multiSource ? { sourceRepoURL: repoURL } : {},
    )
    const tip =
      item.tips.get(item.branch) ||
      (await ctx.git.lsRemote(ctx.options.remote, [`refs/heads/${item.branch}`])).get(
        `refs/heads/${item.branch}`,
      )
    const sync = before.status?.sync
    const atTip =
      tip !== undefined &&
      sync?.status === 'Synced' &&
      (sync.revision === tip || (sync.revisions ?? []).includes(tip))
    if (!set.changed && atTip) {
      return {
        name,
        result: 'unchanged',
        detail: `${name} already tracks ${item.branch} at ${tip.slice(0, 7)}`,
      }
    }
    await argocd.sync(name, multiSource ? {} : { revision: item.branch })
    return set.changed
      ? {
          name,
          result: 'reset',
          detail: `${name}: ${set.previous ?? '(none)'} → ${item.branch}, sync started`,
        }
      : { name, result: 'synced', detail: `${name} tracks ${item.branch}; sync started` }
  } catch (error) {
    if (!(error instanceof ArgoCdError)) throw error
    return { name, result: 'failed', detail: error.message }
  }
}

function leftItems(results: readonly EnvironmentCleanup[]): LeftItem[] {
  const items: LeftItem[] = []
  for (const r of results) {
    const child = r.child ? { child: r.child.number } : {}
    if (r.action === 'left' || r.action === 'failed' || r.action === 'skipped') {
      items.push({ environment: r.environment, reason: r.detail, ...child })
    }
    if (r.application?.result === 'failed') {
      items.push({
        environment: r.environment,
        reason: `Argo CD Application ${r.application.name || '(unnamed)'} not reset: ${r.application.detail}`,
        ...child,
      })
    }
  }
  return items
}

// ---------------------------------------------------------------- report

const ACTION_LABEL: Record<CleanupAction, string> = {
  merged: '✅ merged',
  current: '✅ already current',
  closed: '🚫 closed',
  left: '✋ left for a human',
  failed: '❌ failed',
  skipped: '⏸️ not reached',
}

/**
 * The parent comment: the end state of every environment, so a re-run that
 * changes nothing renders the same text and leaves the comment alone.
 */
export function renderCleanupReport(result: MergeCleanupResult, context: { base: string }): string {
  const title =
    result.parentState === 'merged'
      ? `### fleet-promote: #${result.parent} merged, children landed`
      : `### fleet-promote: #${result.parent} closed without merging, children closed`
  const lines = [title, '']
  if (result.environments.length === 0) {
    lines.push('No child pull requests were found.', '')
  } else {
    if (result.drySha) {
      lines.push(
        `Every WET branch was checked against the render of \`${context.base}\` at \`${result.drySha.slice(0, 7)}\` before merging.`,
        '',
      )
    }
    lines.push(
      table(
        ['Environment', 'Stage', 'Result', 'Child', 'Argo CD', 'Details'],
        result.environments.map((r) => [
          inlineCode(r.environment),
          r.stage,
          ACTION_LABEL[r.action],
          r.child ? link(`#${r.child.number}`, r.child.url) : '—',
          r.application ? applicationCell(r.application, r.branch) : '—',
          r.action === 'merged' && r.child
            ? `#${r.child.number} merged into ${r.branch}`
            : untrusted(r.detail),
        ]),
      ),
      '',
    )
  }
  if (result.left.length > 0) {
    lines.push('#### Left for a human', '')
    for (const item of result.left) {
      lines.push(
        `- ${inlineCode(item.environment)}${item.child ? ` (#${item.child})` : ''}: ${untrusted(item.reason)}`,
      )
    }
    lines.push('')
  }
  if (result.failed) {
    lines.push(
      'Some steps failed: re-run the workflow to finish; finished steps are not repeated.',
      '',
    )
  } else {
    lines.push(`No environment lock is held by #${result.parent} any more.`, '')
  }
  return lines.join('\n')
}

/** The job summary: the comment plus what this very run did. */
export function renderJobSummary(
  result: MergeCleanupResult,
  report: string,
  runUrl?: string,
): string {
  const done = result.environments.map((r) => {
    const app = r.application ? `; Argo CD: ${untrusted(r.application.detail)}` : ''
    const lock = r.lock === 'released' ? '; lock released' : ''
    return `- ${inlineCode(r.environment)}: ${untrusted(r.detail)}${app}${lock}`
  })
  for (const environment of result.locksReleased)
    done.push(`- ${inlineCode(environment)}: lock released`)
  const run = runUrl ? `\n<sub>${link('workflow run', runUrl)}</sub>\n` : ''
  return done.length > 0
    ? `${report}\n#### This run\n\n${done.join('\n')}\n${run}`
    : `${report}${run}`
}

function applicationCell(app: ApplicationReset, branch: string): string {
  if (app.result === 'failed') return `❌ ${inlineCode(app.name)} not reset`
  if (app.result === 'kept') return `↪️ ${inlineCode(app.name)} follows another PR`
  return `✔️ ${inlineCode(app.name)} on ${inlineCode(branch)}`
}
