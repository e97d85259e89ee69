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
  type PullSummary,
  addLabels,
  childrenOf,
  closePull,
  createOrAdoptChildPr,
  getPullRequest,
  listOpenPulls,
  updatePull,
  type ChildPr,
} from '../lib/github/pulls.js'
import { childBranch, childTitle, isValidRefPart, type ChildMarker } from '../lib/children.js'
import { UserError, errorMessage } from '../lib/errors.js'
import { PushRejectedError, type Git } from '../lib/git/git.js'
import type { GitHubClient } from '../lib/github/client.js'
import type {
  EnvironmentHydration,
  HydrationResult,
  HydrationStatus,
} from '../lib/hydration-types.js'
import {
  renderChildBody,
  renderJobSummary,
  renderSummaryComment,
  SUMMARY_MARKER,
  type ChildState,
  type ClosedChild,
  type EnvironmentReport,
  type StageInfo,
} from './summary.js'
import {
  environmentContext,
  MAX_STATUS_DESCRIPTION,
  sameStatus,
  type CommitStatus,
  type RepoRef,
} from '../lib/statuses.js'
import { clip } from '../lib/render/compare.js'
import { latestStatuses, setStatus } from '../lib/github/statuses.js'
import {
  buildWetCommit,
  readDryCommit,
  type DryCommit,
  type WetCommit,
} from '../lib/git/wet-commit.js'
import { findMarkedComment, upsertMarkedComment } from '../lib/github/comments.js'
import { dropNote, releaseDroppedLock, restoreDropped, type RestoreOptions } from './restore.js'

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

// ---------------------------------------------------------------- tags

/**
 * Tag names from `tag-template`: `{component}` (= the environment: the unit a
 * Kargo Warehouse subscribes to), `{environment}`, `{stage}`, `{pr}`, `{sha}`
 * (first 7 characters of the DRY commit). It must name the environment, or
 * every child would fight over one tag.
 */
export function tagName(
  template: string,
  values: { environment: string; stage: string; pr: number; drySha: string },
): string {
  if (!/\{(component|environment)\}/.test(template)) {
    throw new UserError(
      'tag-template must contain {component} or {environment}: one tag per environment',
    )
  }
  const name = template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    switch (key) {
      case 'component':
      case 'environment':
        return values.environment
      case 'stage':
        return values.stage
      case 'pr':
        return String(values.pr)
      case 'sha':
        return values.drySha.slice(0, 7)
      default:
        throw new UserError(`tag-template: unknown placeholder ${whole}`)
    }
  })
  if (!isValidRefPart(name)) throw new UserError(`tag-template gives an invalid tag name "${name}"`)
  return name
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
  log?: (message: string) => void
}

export interface ChildOutput {
  environment: string
  stage: string
  /** The render status from hydrate. */
  render: HydrationStatus
  branch: string
  number: number | null
  url: string | null
  state: ChildState
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

interface PlannedChild {
  env: EnvironmentHydration
  commit: WetCommit
  branch: string
  marker: ChildMarker
}

export async function openChildPrs(options: OpenChildPrsOptions): Promise<OpenChildPrsResult> {
  const { client, git, repo, parent, hydration } = options
  const log = options.log ?? (() => undefined)
  const fullName = `${repo.owner}/${repo.repo}`

  // 1. Is this run still current? The DRY commit must be here (it is what was rendered).
  const dry = await ensureDryCommit(git, options.remote, hydration.drySha)
  const renderedHead = dry.parents.length === 2 ? (dry.parents[1] as string) : dry.sha
  const pull = await getPullRequest(client, repo, parent)
  if (pull.state !== 'open' || pull.headSha !== renderedHead) {
    const reason =
      pull.state !== 'open'
        ? `parent #${parent} is ${pull.merged ? 'merged' : 'closed'}`
        : `parent #${parent} moved to ${pull.headSha.slice(0, 7)} since ${renderedHead.slice(0, 7)} was rendered`
    return {
      stale: true,
      reason,
      headSha: pull.headSha,
      children: [],
      pushed: [],
      jobSummary: '',
      unrestored: [],
    }
  }
  const headSha = pull.headSha

  // 2. Local work: current remote refs, WET tips, child commits.
  const remoteRefs = await git.lsRemote(options.remote, ['refs/heads/*', 'refs/tags/*'])
  for (const env of hydration.environments) {
    if (!hasChild(env)) continue
    const now = remoteRefs.get(`refs/heads/${env.branch}`) ?? ''
    // A missing branch may since have been created by an earlier attempt of this run (same root commit).
    if (env.baseSha !== '' && now !== env.baseSha) throw wetMoved(env, now)
  }
  // One fetch for the WET tips and the existing child commits that are not here yet.
  const toFetch = new Set<string>()
  for (const env of hydration.environments) {
    if (!hasChild(env)) continue
    if (env.baseSha !== '' && !(await git.tryRevParse(env.baseSha))) {
      toFetch.add(`refs/heads/${env.branch}`)
    }
    const childRef = `refs/heads/${childBranch(parent, env.name)}`
    const childSha = remoteRefs.get(childRef)
    if (childSha && !(await git.tryRevParse(childSha))) toFetch.add(childRef)
  }
  if (toFetch.size > 0) await git.fetch(options.remote, [...toFetch])

  log(`fetched ${toFetch.size} ref(s); building child commits`)
  const planned: PlannedChild[] = []
  const unchangedByCommit = new Set<string>()
  for (const env of hydration.environments) {
    if (!hasChild(env)) continue
    const commit = await buildWetCommit(git, {
      environment: env,
      renderedDir: options.renderedDir,
      parent,
      dry,
    })
    const now = remoteRefs.get(`refs/heads/${env.branch}`) ?? ''
    if (env.baseSha === '' && now !== '' && now !== commit.rootSha) throw wetMoved(env, now)
    if (!commit.changed) {
      unchangedByCommit.add(env.name)
      continue
    }
    const existing = remoteRefs.get(`refs/heads/${childBranch(parent, env.name)}`)
    if (existing && (await sameTreeAndParent(git, existing, commit.sha))) {
      // Same content on the same WET tip (e.g. only the PR's merge commit was recomputed): keep it, push nothing.
      commit.sha = existing
    }
    planned.push({
      env,
      commit,
      branch: childBranch(parent, env.name),
      marker: {
        version: 1,
        parent,
        environment: env.name,
        stage: env.stage,
        branch: env.branch,
        drySha: hydration.drySha,
        headSha,
        // A new WET branch is created at the root commit the child is built on.
        wetSha: env.baseSha || (commit.rootSha ?? ''),
        ...(env.status === 'blocked'
          ? { guard: { reason: env.reason ?? 'deletion guard', deleted: env.diff.deleted } }
          : {}),
      },
    })
  }
  const renderOf = (env: EnvironmentHydration): HydrationStatus =>
    unchangedByCommit.has(env.name) ? 'unchanged' : env.status

  log(`${planned.length} environment(s) changed; ${unchangedByCommit.size} unchanged after all`)
  // 3. What GitHub has: open children of this parent (one paginated listing).
  const existing = new Map<string, ChildPr>()
  const extraChildren: ChildPr[] = []
  for (const child of childrenOf(await listOpenPulls(client, repo), repo, parent)) {
    if (existing.has(child.environment)) extraChildren.push(child)
    else existing.set(child.environment, child)
  }
  const byName = new Map(hydration.environments.map((env) => [env.name, env]))
  const stageInfo = new Map(options.stages.map((s) => [s.name, s]))
  const plannedNames = new Set(planned.map((p) => p.env.name))
  // A failed or blocked render keeps its old child (the failure status blocks it); others close.
  const toClose = [
    ...[...existing].filter(([name]) => {
      const status = byName.get(name)?.status
      return !plannedNames.has(name) && status !== 'failed' && status !== 'blocked'
    }),
    ...extraChildren.map((child) => ['', child] as const),
  ].map(([name, child]) => ({ environment: name, child }))
  // Clusters still running a child about to close go back to their WET branch first;
  // a child whose cluster could not be restored stays, with its branch and lock.
  const dropped = await restoreDropped(options.restore, parent, toClose, remoteRefs, log)
  const closing = toClose.filter(({ environment }) => !dropped.failed.has(environment))
  // A promoted cluster whose child gets a new render goes back to its WET branch too:
  // what it ran leaves the branch, and the new render is not promoted yet. (An
  // autoPromote stage is deployed again right after.) Not restored: not updated.
  const superseded = planned.flatMap((plan) => {
    const child = existing.get(plan.env.name)
    const now = remoteRefs.get(`refs/heads/${plan.branch}`)
    const auto = stageInfo.get(plan.env.stage)?.autoPromote ?? false
    return child && now && now !== plan.commit.sha && !auto
      ? [{ environment: plan.env.name, child }]
      : []
  })
  const replaced = await restoreDropped(options.restore, parent, superseded, remoteRefs, log)
  planned.splice(0, planned.length, ...planned.filter((p) => !replaced.failed.has(p.env.name)))

  // 4. One atomic push: child branches, tags and deletions, each leased on
  // the value read above, plus lease-only entries pinning every WET tip to
  // what the render was diffed against (a moved tip fails the whole push).
  const updates = new Map<string, { sha: string; expect: string }>()
  for (const plan of planned) {
    const ref = `refs/heads/${plan.branch}`
    updates.set(ref, { sha: plan.commit.sha, expect: remoteRefs.get(ref) ?? '' })
    if (options.tagTemplate) {
      const tag = tagName(options.tagTemplate, {
        environment: plan.env.name,
        stage: plan.env.stage,
        pr: parent,
        drySha: hydration.drySha,
      })
      const tagRef = `refs/tags/${tag}`
      updates.set(tagRef, { sha: plan.commit.sha, expect: remoteRefs.get(tagRef) ?? '' })
    }
  }
  for (const { child } of closing) {
    const ref = `refs/heads/${child.branch}`
    const current = remoteRefs.get(ref)
    if (current && !updates.has(ref)) updates.set(ref, { sha: '', expect: current })
  }
  const changes = [...updates].filter(([, u]) => u.sha !== u.expect)
  if (changes.length > 0) {
    const entries = new Map(changes)
    for (const plan of planned) {
      const wetRef = `refs/heads/${plan.env.branch}`
      const sha = plan.commit.rootSha ?? plan.commit.baseSha
      entries.set(wetRef, { sha, expect: remoteRefs.get(wetRef) ?? '' })
    }
    try {
      await git.push(
        options.remote,
        [...entries].map(([ref, u]) => `${u.sha}:${ref}`),
        { atomic: true, leases: [...entries].map(([ref, u]) => ({ ref, expect: u.expect })) },
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
    log(`pushed ${changes.length} ref update(s) in one atomic push`)
  }
  const pushed = [
    ...changes.map(([ref]) => ref),
    ...planned
      .filter((p) => p.commit.rootSha && !remoteRefs.has(`refs/heads/${p.env.branch}`))
      .map((p) => `refs/heads/${p.env.branch}`),
  ]

  // 5. Child PRs: find, create or update.
  const reports = new Map<string, EnvironmentReport>()
  for (const env of hydration.environments) {
    reports.set(env.name, {
      environment: env.name,
      stage: env.stage,
      status: renderOf(env),
      ...(env.reason ? { reason: env.reason } : {}),
      resources: env.resources,
      diff: env.diff,
      changes: env.changes,
    })
  }
  const labels = [...new Set((options.labels ?? []).filter(Boolean))]
  for (const plan of planned) {
    const report = reports.get(plan.env.name) as EnvironmentReport
    const title = childTitle(parent, plan.env.name, pull.title)
    const body = renderChildBody({
      marker: plan.marker,
      report,
      autoPromote: stageInfo.get(plan.env.stage)?.autoPromote ?? false,
      promoteCommand: options.promoteCommand,
    })
    let child = existing.get(plan.env.name)
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
    if (child.title !== title || child.body !== body || child.base !== plan.env.branch) {
      await updatePull(client, repo, child.number, { title, body, base: plan.env.branch })
      if (state !== 'created') state = 'updated'
    }
    const missingLabels = labels.filter((l) => !child.labels.includes(l))
    if (missingLabels.length > 0) {
      await addLabels(client, repo, child.number, missingLabels)
    }
    report.child = { number: child.number, url: child.url, state }
  }
  for (const env of hydration.environments) {
    const kept = existing.get(env.name)
    const report = reports.get(env.name) as EnvironmentReport
    if (kept && !report.child && (env.status === 'failed' || env.status === 'blocked')) {
      report.child = { number: kept.number, url: kept.url, state: 'unchanged' }
    }
  }

  log(`child PRs up to date`)
  // 6. Close children that no longer carry a change.
  const closed: ClosedChild[] = []
  for (const { environment, child } of closing) {
    await closePull(client, repo, child.number)
    if (environment) await releaseDroppedLock(client, repo, parent, environment, dropped.outcomes)
    const note = dropNote(dropped.outcomes.get(environment), child.base)
    closed.push({ environment, number: child.number, url: child.url, ...(note ? { note } : {}) })
    const report = reports.get(environment)
    if (report) report.child = { number: child.number, url: child.url, state: 'closed' }
  }

  // 7. Statuses on the parent head (identical ones are not re-posted). A run at
  // the same head that leaves a child as it was ("Re-run all jobs", reopened)
  // keeps what promote made of it: a deployed environment stays deployed.
  const current = await latestStatuses(client, repo, headSha)
  const sameChild = new Set(
    planned
      .filter((plan) => plan.commit.sha === remoteRefs.get(`refs/heads/${plan.branch}`))
      .map((plan) => plan.env.name),
  )
  for (const env of hydration.environments) {
    const report = reports.get(env.name) as EnvironmentReport
    const deployed = current.get(environmentContext(env.name))?.state === 'success'
    if (deployed && sameChild.has(env.name)) continue
    const status = environmentStatus(report, {
      promoteCommand: options.promoteCommand,
      autoPromote: stageInfo.get(env.stage)?.autoPromote ?? false,
      fallbackUrl: options.runUrl ?? pull.htmlUrl,
    })
    if (!sameStatus(current.get(status.context), status)) {
      await setStatus(client, repo, headSha, status)
    }
  }

  log(`statuses set`)
  // 8. The sticky comment on the parent. A PR that impacts nothing (a README
  // change) gets none; one it had from an earlier push is updated to say so.
  const quiet = reports.size === 0 && closed.length === 0
  const commentBody = renderSummaryComment({
    parent,
    headSha,
    drySha: hydration.drySha,
    stages: options.stages,
    promoteCommand: options.promoteCommand,
    environments: [...reports.values()],
    closed,
    ...(options.runUrl ? { runUrl: options.runUrl } : {}),
  })
  const commentUrl =
    quiet && !(await findMarkedComment(client, repo, parent, SUMMARY_MARKER))
      ? undefined
      : await upsertMarkedComment(client, repo, parent, SUMMARY_MARKER, commentBody)

  // 9. The gate, inline (statuses set with GITHUB_TOKEN trigger no workflow).
  const openAfter: PullSummary[] = [...reports.values()]
    .filter((r) => r.child && r.child.state !== 'closed')
    .map((r) => ({
      number: r.child?.number ?? 0,
      state: 'open',
      merged: false,
      draft: false,
      title: '',
      body: null,
      headRef: childBranch(parent, r.environment),
      headSha: '',
      headRepo: fullName,
      baseRef: byName.get(r.environment)?.branch ?? '',
      htmlUrl: r.child?.url ?? '',
      labels: [],
      updatedAt: '',
    }))
  await setAggregateStatus(client, repo, {
    sha: headSha,
    parent,
    impacted: hydration.environments.map((env) => env.name),
    pulls: openAfter,
    ...(options.runUrl ? { targetUrl: options.runUrl } : {}),
  })

  const children: ChildOutput[] = [...reports.values()]
    .map((r) => ({
      environment: r.environment,
      stage: r.stage,
      render: r.status,
      branch: childBranch(parent, r.environment),
      number: r.child?.number ?? null,
      url: r.child?.url ?? null,
      state: r.child?.state ?? 'none',
    }))
    .sort((a, b) => a.environment.localeCompare(b.environment))
  for (const c of closed.filter((c) => c.environment === '')) {
    children.push({
      environment: '',
      stage: '',
      render: 'unchanged',
      branch: '',
      number: c.number,
      url: c.url,
      state: 'closed',
    })
  }
  const jobSummary = renderJobSummary(
    parent,
    [...reports.values()].map((r) => ({
      environment: r.environment,
      stage: r.stage,
      status: r.status,
      diff: r.diff,
      ...(r.child ? { child: r.child } : {}),
    })),
  )
  const unrestored = [dropped, replaced].flatMap(({ failed, outcomes }) =>
    [...failed].map((environment) => ({
      environment,
      reason: outcomes.get(environment)?.application?.detail ?? 'not restored',
    })),
  )
  return { stale: false, headSha, children, pushed, commentUrl, jobSummary, unrestored }
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

function wetMoved(env: EnvironmentHydration, now: string): UserError {
  return new UserError(
    `WET branch ${env.branch} is at ${now || '(missing)'} but ${env.name} was diffed against ` +
      `${env.baseSha || '(no branch)'}: it moved since hydrate ran. Nothing was written; re-run the workflow to render again.`,
  )
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

/** `blocked: <reason>; .promote <env> --allow-deletions`, the reason cut so the command fits in 140 characters. */
function blockedDescription(report: EnvironmentReport, promoteCommand: string): string {
  const hint = `; ${promoteCommand} ${report.environment} --allow-deletions`
  return `blocked: ${clip(report.reason ?? 'deletion guard', MAX_STATUS_DESCRIPTION - 'blocked: '.length - hint.length)}${hint}`
}

/**
 * Renders that get a child: changed ones, and ones the deletion guard blocked
 * (their child is deployable only with an authorized `--allow-deletions`).
 */
function hasChild(env: EnvironmentHydration): boolean {
  return env.status === 'rendered' || env.status === 'blocked'
}

export function environmentStatus(
  report: EnvironmentReport,
  context: { promoteCommand: string; autoPromote: boolean; fallbackUrl: string },
): CommitStatus {
  const counts = `+${report.diff.added} ~${report.diff.changed} -${report.diff.deleted}`
  const base = { context: environmentContext(report.environment) }
  switch (report.status) {
    case 'failed':
      return {
        ...base,
        state: 'failure',
        // hydrate's reasons say what failed ("render failed: …", "refused: …").
        description: report.reason ?? 'render failed; see the workflow run',
        targetUrl: context.fallbackUrl,
      }
    case 'blocked':
      return {
        ...base,
        state: 'failure',
        description: blockedDescription(report, context.promoteCommand),
        targetUrl: report.child?.url ?? context.fallbackUrl,
      }
    case 'unchanged':
      return {
        ...base,
        state: 'success',
        description: 'rendered output unchanged; nothing to deploy',
        targetUrl: context.fallbackUrl,
      }
    case 'rendered': {
      const next = context.autoPromote
        ? 'deploys automatically'
        : `promote with ${context.promoteCommand} ${report.stage}`
      return {
        ...base,
        state: 'pending',
        description: `child PR #${report.child?.number ?? '?'} (${counts} objects); ${next}`,
        targetUrl: report.child?.url ?? context.fallbackUrl,
      }
    }
  }
}
