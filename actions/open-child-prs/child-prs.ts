// open-child-prs' core: turn a hydration result into child branches (one
// atomic push), child PRs, per-environment statuses and one sticky parent
// comment. Level-triggered: every run re-derives state from GitHub, so a
// re-run after any failure converges on the same result.
//
// Order matters for "nothing half-written": all checks and commits happen
// locally first, then ONE atomic push (leases on every ref, including the WET
// tips the render was diffed against); only when it succeeded do PRs,
// statuses and the comment change.

import { setAggregateStatus } from '../lib/aggregate.js'
import {
  addLabels,
  childrenOf,
  closePull,
  createOrAdoptChildPr,
  getPullRequest,
  listOpenPulls,
  updatePull,
  type ChildPr,
} from '../lib/github/pulls.js'
import { childBranch, childTitle, childUnit } from '../lib/children.js'
import { UserError, errorMessage } from '../lib/errors.js'
import { PushRejectedError, type Git } from '../lib/git/git.js'
import type { GitHubClient } from '../lib/github/client.js'
import type { EnvironmentHydration, HydrationResult } from '../lib/hydration-types.js'
import {
  renderChildBody,
  renderSharedChildBody,
  renderJobSummary,
  renderSummaryComment,
  SUMMARY_MARKER,
  type ChildState,
  type ClosedChild,
  type EnvironmentReport,
  type StageInfo,
} from './summary.js'
import type { RepoRef } from '../lib/statuses.js'
import { readStatuses, StatusWriter } from '../lib/github/status-board.js'
import type { StatusesMode } from '../lib/status-board.js'
import { buildBranchCommit, readDryCommit, type DryCommit } from '../lib/git/wet-commit.js'
import { findMarkedComment, upsertMarkedComment } from '../lib/github/comments.js'
import {
  dropNote,
  releaseDroppedLock,
  restoreDropped,
  type DroppedChild,
  type RestoreOptions,
} from './restore.js'
import {
  autoPromotes,
  checkWetTips,
  childMarker,
  childOutputs,
  childPrChanges,
  groupChildren,
  hasChild,
  keepFailedChildren,
  openChildrenAfter,
  planClosures,
  planRefUpdates,
  planReports,
  planStatuses,
  planSuperseded,
  staleReason,
  wetMoved,
  type ChildOutput,
  type OpenChildren,
  type PlannedChild,
  type RefPlan,
  type RemoteRefs,
} from './plan.js'

/**
 * hydrate's `result` output, when the workflow also passes it: it must parse
 * and name only environments the rendered directory holds (a cheap guard
 * against wiring two different runs together).
 */
export function checkResultInput(text: string, hydration: HydrationResult): void {
  if (text === '') return
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new UserError(`input "result" is not valid JSON: ${errorMessage(error)}`)
  }
  const known = new Set(hydration.environments.map((env) => env.name))
  for (const name of resultNames(value)) {
    if (!known.has(name)) {
      throw new UserError(
        `input "result" names environment "${name}", which the rendered directory does not contain`,
      )
    }
  }
}

function resultNames(value: unknown): string[] {
  const list = Array.isArray(value)
    ? value
    : typeof value === 'object' &&
        value !== null &&
        Array.isArray((value as { environments?: unknown }).environments)
      ? (value as { environments: unknown[] }).environments
      : undefined
  if (list) {
    return list.map((item, i) => {
      const entry = item as { name?: unknown; environment?: unknown } | null
      const name = typeof entry?.name === 'string' ? entry.name : entry?.environment
      if (typeof name !== 'string')
        throw new UserError(`input "result": entry ${i} has no environment name`)
      return name
    })
  }
  if (typeof value === 'object' && value !== null) return Object.keys(value)
  throw new UserError('input "result" must be a list or an object of environments')
}

// ---------------------------------------------------------------- the run

export interface OpenChildPrsOptions {
  client: GitHubClient
  /** The workspace repository: holds the DRY commit; WET tips are fetched into it. */
  git: Git
  /** Where branches live (a URL or a remote name). */
  remote: string
  repo: RepoRef
  parent: number
  hydration: HydrationResult
  renderedDir: string
  /** Stages in promotion order. */
  stages: readonly StageInfo[]
  promoteCommand: string
  labels?: readonly string[]
  tagTemplate?: string
  /** How to put clusters back on their WET branch when their child closes (absent: no Argo CD). */
  restore?: RestoreOptions
  /** The workflow run, linked from failure statuses. */
  runUrl?: string
  /** fleet-promote.yaml `statuses` (default per-environment). */
  statuses?: StatusesMode
  log?: (message: string) => void
}

export interface OpenChildPrsResult {
  /** The parent moved on (or closed) since the render: nothing was written. */
  stale: boolean
  reason?: string
  headSha: string
  children: ChildOutput[]
  /** Refs the one push updated or deleted (empty when nothing changed). */
  pushed: string[]
  commentUrl?: string
  jobSummary: string
  /**
   * Children of environments no longer impacted that stay open because their
   * cluster could not be put back on its WET branch (the step fails).
   */
  unrestored: { environment: string; reason: string }[]
}

type Restored = Awaited<ReturnType<typeof restoreDropped>>

/** The named steps; each reads only what it is given. */
export async function openChildPrs(options: OpenChildPrsOptions): Promise<OpenChildPrsResult> {
  const { client, git, repo, parent, hydration } = options
  const log = options.log ?? (() => undefined)
  const dry = await ensureDryCommit(git, options.remote, hydration.drySha)
  const pull = await getPullRequest(client, repo, parent)
  const stale = staleReason(parent, pull, renderedHead(dry))
  if (stale !== undefined) return staleResult(stale, pull.headSha)
  const headSha = pull.headSha

  const remoteRefs = await git.lsRemote(options.remote, ['refs/heads/*', 'refs/tags/*'])
  checkWetTips(hydration.environments, remoteRefs)
  log(`fetched ${await fetchMissing(options, remoteRefs)} ref(s); building child commits`)
  const built = await buildChildren(options, dry, headSha, remoteRefs, pull.baseRef)
  log(`${built.planned.length} environment(s) changed; ${built.unchanged.size} unchanged after all`)

  const open = groupChildren(childrenOf(await listOpenPulls(client, repo), repo, parent))
  const restored = await restoreClusters(options, built.planned, open, remoteRefs, log)
  const { planned, closing } = restored
  const refs = planRefUpdates({
    planned,
    closing,
    remoteRefs,
    parent,
    drySha: hydration.drySha,
    ...(options.tagTemplate ? { tagTemplate: options.tagTemplate } : {}),
  })
  await pushAtomically(git, options.remote, refs, log)

  const reports = planReports(hydration.environments, built.unchanged)
  await syncChildPrs(options, pull.title, planned, open.existing, reports)
  keepFailedChildren(hydration.environments, open.existing, reports)
  log(`child PRs up to date`)
  const closed = await closeChildren(options, closing, restored.dropped.outcomes, reports)
  const fallbackUrl = options.runUrl ?? pull.htmlUrl
  await postStatuses(options, headSha, { planned, remoteRefs, reports, fallbackUrl })
  log(`statuses set`)
  const commentUrl = await postSummaryComment(options, headSha, reports, closed)
  // The gate, inline (statuses set with GITHUB_TOKEN trigger no workflow).
  await setAggregateStatus(client, repo, {
    sha: headSha,
    parent,
    impacted: hydration.environments.map((env) => env.name),
    pulls: openChildrenAfter(
      reports.values(),
      hydration.environments,
      parent,
      `${repo.owner}/${repo.repo}`,
    ),
    ...(options.runUrl ? { targetUrl: options.runUrl } : {}),
    statuses: options.statuses ?? 'per-environment',
  })
  return {
    stale: false,
    headSha,
    children: childOutputs(reports.values(), closed, parent, hydration.environments),
    pushed: refs.pushed,
    commentUrl,
    jobSummary: jobSummary(parent, reports.values()),
    unrestored: unrestored([restored.dropped, restored.replaced]),
  }
}

/** What the DRY commit rendered: the PR head when it is a merge commit, else itself. */
function renderedHead(dry: DryCommit): string {
  return dry.parents.length === 2 ? (dry.parents[1] as string) : dry.sha
}

function staleResult(reason: string, headSha: string): OpenChildPrsResult {
  return { stale: true, reason, headSha, children: [], pushed: [], jobSummary: '', unrestored: [] }
}

/** One fetch for the WET tips and the existing child commits that are not here yet; returns how many refs. */
async function fetchMissing(
  options: Pick<OpenChildPrsOptions, 'git' | 'remote' | 'parent' | 'hydration'>,
  remoteRefs: RemoteRefs,
): Promise<number> {
  const { git, parent } = options
  const toFetch = new Set<string>()
  for (const env of options.hydration.environments.filter(hasChild)) {
    if (env.baseSha !== '' && !(await git.tryRevParse(env.baseSha))) {
      toFetch.add(`refs/heads/${env.branch}`)
    }
    const childRef = `refs/heads/${childBranch(parent, childUnit(env))}`
    const childSha = remoteRefs.get(childRef)
    if (childSha && !(await git.tryRevParse(childSha))) toFetch.add(childRef)
  }
  if (toFetch.size > 0) await git.fetch(options.remote, [...toFetch])
  return toFetch.size
}

/** Environments by child unit: each alone, or every rendered folder of a shared WET branch together. */
function childUnits(environments: readonly EnvironmentHydration[]): EnvironmentHydration[][] {
  const units = new Map<string, EnvironmentHydration[]>()
  for (const env of environments.filter(hasChild)) {
    const unit = units.get(childUnit(env))
    if (unit) unit.push(env)
    else units.set(childUnit(env), [env])
  }
  return [...units.values()]
}

/** The child commits, built locally; renders whose commit changes nothing are `unchanged`. */
async function buildChildren(
  options: Pick<OpenChildPrsOptions, 'git' | 'parent' | 'hydration' | 'renderedDir'>,
  dry: DryCommit,
  headSha: string,
  remoteRefs: RemoteRefs,
  baseRef: string,
): Promise<{ planned: PlannedChild[]; unchanged: Set<string> }> {
  const { git, parent, hydration } = options
  // What the render was made against and where the base is now, for promote's stale-render check.
  const base = {
    ...(dry.parents.length === 2 ? { dryBase: dry.parents[0] as string } : {}),
    ...(remoteRefs.has(`refs/heads/${baseRef}`)
      ? { baseTip: remoteRefs.get(`refs/heads/${baseRef}`) as string }
      : {}),
  }
  const planned: PlannedChild[] = []
  const unchanged = new Set<string>()
  for (const envs of childUnits(hydration.environments)) {
    const env = envs[0] as EnvironmentHydration
    const commit = await buildBranchCommit(git, {
      environments: envs,
      renderedDir: options.renderedDir,
      parent,
      dry,
    })
    const now = remoteRefs.get(`refs/heads/${env.branch}`) ?? ''
    if (env.baseSha === '' && now !== '' && now !== commit.rootSha) throw wetMoved(env, now)
    if (!commit.changed) {
      for (const e of envs) unchanged.add(e.name)
      continue
    }
    const branch = childBranch(parent, childUnit(env))
    const existing = remoteRefs.get(`refs/heads/${branch}`)
    if (existing && (await sameTreeAndParent(git, existing, commit.sha))) {
      // Same content on the same WET tip (e.g. only the PR's merge commit was recomputed): keep it, push nothing.
      commit.sha = existing
    }
    const marker = childMarker(envs, commit, {
      parent,
      drySha: hydration.drySha,
      headSha,
      ...base,
    })
    planned.push({ env, envs, commit, branch, marker })
  }
  return { planned, unchanged }
}

/**
 * Clusters still running a child about to close go back to their WET branch
 * first; a child whose cluster could not be restored stays, with its branch
 * and lock. Superseded children are taken back too; one not restored is not updated.
 */
async function restoreClusters(
  options: Pick<OpenChildPrsOptions, 'restore' | 'parent' | 'hydration' | 'stages'>,
  built: readonly PlannedChild[],
  open: OpenChildren,
  remoteRefs: RemoteRefs,
  log: (message: string) => void,
): Promise<{
  planned: PlannedChild[]
  closing: DroppedChild[]
  dropped: Restored
  replaced: Restored
}> {
  const { restore, parent } = options
  const toClose = planClosures(options.hydration.environments, built, open)
  const dropped = await restoreDropped(restore, parent, toClose, remoteRefs, log)
  const superseded = planSuperseded(built, open.existing, remoteRefs, options.stages)
  const replaced = await restoreDropped(restore, parent, superseded, remoteRefs, log)
  return {
    planned: built.filter((p) => !p.envs.some((env) => replaced.failed.has(env.name))),
    closing: toClose.filter(({ environment }) => !dropped.failed.has(environment)),
    dropped,
    replaced,
  }
}

async function pushAtomically(
  git: Git,
  remote: string,
  refs: RefPlan,
  log: (message: string) => void,
): Promise<void> {
  if (refs.changed === 0) return
  const entries = [...refs.entries]
  try {
    await git.push(
      remote,
      entries.map(([ref, u]) => `${u.sha}:${ref}`),
      { atomic: true, leases: entries.map(([ref, u]) => ({ ref, expect: u.expect })) },
    )
  } catch (error) {
    if (error instanceof PushRejectedError) {
      throw new UserError(
        'the atomic push was rejected, so nothing was written: a WET or child branch moved during the run. ' +
          `Re-run the workflow to render again. (${error.message})`,
      )
    }
    throw error
  }
  log(`pushed ${refs.changed} ref update(s) in one atomic push`)
}

/** Child PRs: find, create or update; each report names its child. */
async function syncChildPrs(
  options: Pick<
    OpenChildPrsOptions,
    'client' | 'repo' | 'parent' | 'labels' | 'stages' | 'promoteCommand'
  >,
  parentTitle: string,
  planned: readonly PlannedChild[],
  existing: ReadonlyMap<string, ChildPr>,
  reports: ReadonlyMap<string, EnvironmentReport>,
): Promise<void> {
  const { client, repo, parent } = options
  const labels = [...new Set((options.labels ?? []).filter(Boolean))]
  for (const plan of planned) {
    const shared = plan.env.folder !== undefined
    const title = childTitle(parent, shared ? plan.env.branch : plan.env.name, parentTitle)
    const body = childBody(options, plan, reports)
    let child =
      plan.envs.map((env) => existing.get(env.name)).find((c) => c?.branch === plan.branch) ??
      existing.get(plan.env.name)
    let state: ChildState = 'unchanged'
    if (!child) {
      const created = await createOrAdoptChildPr(client, repo, parent, {
        title,
        body,
        head: plan.branch,
        base: plan.env.branch,
      })
      child = created.child
      state = created.adopted ? 'unchanged' : 'created'
    }
    const changes = childPrChanges(child, { title, body, base: plan.env.branch, labels })
    if (changes.update) {
      await updatePull(client, repo, child.number, { title, body, base: plan.env.branch })
      if (state !== 'created') state = 'updated'
    }
    if (changes.missingLabels.length > 0) {
      await addLabels(client, repo, child.number, changes.missingLabels)
    }
    for (const env of plan.envs) {
      const report = reports.get(env.name)
      if (report) report.child = { number: child.number, url: child.url, state }
    }
  }
}

/** A child's body: one environment's render, or every folder a shared branch's child holds. */
function childBody(
  options: Pick<OpenChildPrsOptions, 'stages' | 'promoteCommand'>,
  plan: PlannedChild,
  reports: ReadonlyMap<string, EnvironmentReport>,
): string {
  const common = {
    marker: plan.marker,
    autoPromote: autoPromotes(options.stages, plan.env.stage),
    promoteCommand: options.promoteCommand,
  }
  if (plan.env.folder === undefined) {
    return renderChildBody({ ...common, report: reports.get(plan.env.name) as EnvironmentReport })
  }
  return renderSharedChildBody({
    ...common,
    reports: plan.envs.map((env) => ({
      ...(reports.get(env.name) as EnvironmentReport),
      folder: env.folder ?? '',
    })),
  })
}

/** Close children that no longer carry a change, releasing their locks. */
async function closeChildren(
  options: Pick<OpenChildPrsOptions, 'client' | 'repo' | 'parent'>,
  closing: readonly DroppedChild[],
  outcomes: Restored['outcomes'],
  reports: ReadonlyMap<string, EnvironmentReport>,
): Promise<ClosedChild[]> {
  const { client, repo, parent } = options
  const closed: ClosedChild[] = []
  const done = new Set<number>()
  for (const { environment, child } of closing) {
    // A shared branch's child is listed once per folder: it closes once.
    if (!done.has(child.number)) await closePull(client, repo, child.number)
    done.add(child.number)
    if (environment) await releaseDroppedLock(client, repo, parent, environment, outcomes)
    const note = dropNote(outcomes.get(environment), child.base)
    closed.push({ environment, number: child.number, url: child.url, ...(note ? { note } : {}) })
    const report = reports.get(environment)
    if (report) report.child = { number: child.number, url: child.url, state: 'closed' }
  }
  return closed
}

async function postStatuses(
  options: Pick<
    OpenChildPrsOptions,
    'client' | 'repo' | 'hydration' | 'stages' | 'promoteCommand' | 'statuses' | 'runUrl'
  >,
  headSha: string,
  state: {
    planned: readonly PlannedChild[]
    remoteRefs: RemoteRefs
    reports: ReadonlyMap<string, EnvironmentReport>
    fallbackUrl: string
  },
): Promise<void> {
  const { client, repo } = options
  const mode = options.statuses ?? 'per-environment'
  const current = await readStatuses(client, repo, headSha, mode)
  const statuses = planStatuses({
    ...state,
    environments: options.hydration.environments,
    current,
    stages: options.stages,
    promoteCommand: options.promoteCommand,
  })
  const stages = new Map(options.hydration.environments.map((env) => [env.name, env.stage]))
  const writer = new StatusWriter(client, repo, headSha, {
    mode,
    stageOf: (environment) => stages.get(environment),
    current,
    ...(options.runUrl ? { runUrl: options.runUrl } : {}),
  })
  await writer.set(statuses)
  await writer.flush()
}

/**
 * The sticky comment on the parent. A PR that impacts nothing (a README
 * change) gets none; one it had from an earlier push is updated to say so.
 */
async function postSummaryComment(
  options: Pick<
    OpenChildPrsOptions,
    'client' | 'repo' | 'parent' | 'hydration' | 'stages' | 'promoteCommand' | 'runUrl'
  >,
  headSha: string,
  reports: ReadonlyMap<string, EnvironmentReport>,
  closed: readonly ClosedChild[],
): Promise<string | undefined> {
  const { client, repo, parent } = options
  const quiet = reports.size === 0 && closed.length === 0
  const body = renderSummaryComment({
    parent,
    headSha,
    drySha: options.hydration.drySha,
    stages: options.stages,
    promoteCommand: options.promoteCommand,
    environments: [...reports.values()],
    closed,
    ...(options.runUrl ? { runUrl: options.runUrl } : {}),
  })
  return quiet && !(await findMarkedComment(client, repo, parent, SUMMARY_MARKER))
    ? undefined
    : await upsertMarkedComment(client, repo, parent, SUMMARY_MARKER, body)
}

function jobSummary(parent: number, reports: Iterable<EnvironmentReport>): string {
  return renderJobSummary(
    parent,
    [...reports].map((r) => ({
      environment: r.environment,
      stage: r.stage,
      status: r.status,
      diff: r.diff,
      ...(r.child ? { child: r.child } : {}),
    })),
  )
}

function unrestored(results: readonly Restored[]): OpenChildPrsResult['unrestored'] {
  return results.flatMap(({ failed, outcomes }) =>
    [...failed].map((environment) => ({
      environment,
      reason: outcomes.get(environment)?.application?.detail ?? 'not restored',
    })),
  )
}

const SHA = /^[0-9a-f]{40}$/

/** Whether two commits have the same tree and the same first parent. */
async function sameTreeAndParent(git: Git, a: string, b: string): Promise<boolean> {
  if (a === b) return true
  if (!SHA.test(a) || !SHA.test(b)) return false
  const result = await git.raw(['rev-parse', `${a}^{tree}`, `${a}^1`, `${b}^{tree}`, `${b}^1`])
  if (result.code !== 0) return false
  const [treeA, parentA, treeB, parentB] = result.stdout.trim().split('\n')
  return treeA === treeB && parentA === parentB
}

async function ensureDryCommit(git: Git, remote: string, sha: string): Promise<DryCommit> {
  const local = await readDryCommit(git, sha)
  if (local) return local
  const fetched = await git.raw([
    'fetch',
    '--quiet',
    '--no-tags',
    '--no-write-fetch-head',
    '--',
    remote,
    sha,
  ])
  const dry = fetched.code === 0 ? await readDryCommit(git, sha) : undefined
  if (!dry) {
    throw new UserError(
      `the rendered DRY commit ${sha} is not in the workspace and could not be fetched; check out the commit hydrate rendered`,
    )
  }
  return dry
}
