// open-child-prs' pure plan: from the remote refs, the hydration result and
// the open children, what to push (ref updates with their leases), which
// children to close or take back from their cluster, which statuses to post
// and what the run reports. No I/O here: child-prs.ts runs the steps.

import type { ChildMarker } from '../lib/children.js'
import { childBranch, childUnit, isValidRefPart } from '../lib/children.js'
import { UserError } from '../lib/errors.js'
import type { WetCommit } from '../lib/git/wet-commit.js'
import type { ChildPr, PullSummary } from '../lib/github/pulls.js'
import type { EnvironmentHydration, HydrationStatus } from '../lib/hydration-types.js'
import { clip } from '../lib/render/compare.js'
import {
  environmentContext,
  MAX_STATUS_DESCRIPTION,
  sameStatus,
  type CommitStatus,
} from '../lib/statuses.js'
import type { DroppedChild } from './restore.js'
import type { ChildState, ClosedChild, EnvironmentReport, StageInfo } from './summary.js'

/** Refs as `git ls-remote` shows them: full ref name → SHA. */
export type RemoteRefs = ReadonlyMap<string, string>

export interface PlannedChild {
  /** The first environment it holds (its WET branch, stage and tip are the child's). */
  env: EnvironmentHydration
  /** Every environment it holds: `[env]`, or each rendered folder of a shared WET branch. */
  envs: readonly EnvironmentHydration[]
  commit: Omit<WetCommit, 'environment'>
  branch: string
  marker: ChildMarker
}

/** Why a run whose parent moved on (or closed) since the render writes nothing; undefined: current. */
export function staleReason(
  parent: number,
  pull: { state: 'open' | 'closed'; merged: boolean; headSha: string },
  renderedHead: string,
): string | undefined {
  if (pull.state !== 'open') return `parent #${parent} is ${pull.merged ? 'merged' : 'closed'}`
  if (pull.headSha !== renderedHead) {
    return `parent #${parent} moved to ${pull.headSha.slice(0, 7)} since ${renderedHead.slice(0, 7)} was rendered`
  }
  return undefined
}

/**
 * Renders that get a child: changed ones, and ones the deletion guard blocked
 * (their child is deployable only with an authorized `--allow-deletions`).
 */
export function hasChild(env: EnvironmentHydration): boolean {
  return env.status === 'rendered' || env.status === 'blocked'
}

export function wetMoved(env: EnvironmentHydration, now: string): UserError {
  return new UserError(
    `WET branch ${env.branch} is at ${now || '(missing)'} but ${env.name} was diffed against ` +
      `${env.baseSha || '(no branch)'}: it moved since hydrate ran. Nothing was written; re-run the workflow to render again.`,
  )
}

/** Throws when a WET tip a child builds on moved since hydrate diffed against it. */
export function checkWetTips(
  environments: readonly EnvironmentHydration[],
  remoteRefs: RemoteRefs,
): void {
  for (const env of environments.filter(hasChild)) {
    const now = remoteRefs.get(`refs/heads/${env.branch}`) ?? ''
    // A missing branch may since have been created by an earlier attempt of this run (same root commit).
    if (env.baseSha !== '' && now !== env.baseSha) throw wetMoved(env, now)
  }
}

/** The marker of a child holding `held` (one environment, or the folders of a shared branch). */
export function childMarker(
  held: EnvironmentHydration | readonly EnvironmentHydration[],
  commit: Pick<WetCommit, 'rootSha'>,
  run: {
    parent: number
    drySha: string
    headSha: string
    /** The test merge's first parent; absent when the DRY commit is no merge. */
    dryBase?: string
    /** The base branch tip as this run read it. */
    baseTip?: string
  },
): ChildMarker {
  const envs: readonly EnvironmentHydration[] = 'status' in held ? [held] : held
  const env = envs[0] as EnvironmentHydration
  const shared = env.folder !== undefined
  const blocked = envs.filter((e) => e.status === 'blocked')
  const guard = blocked[0] && {
    reason: blocked[0].reason ?? 'deletion guard',
    deleted: blocked.reduce((sum, e) => sum + e.diff.deleted, 0),
  }
  return {
    version: 1,
    parent: run.parent,
    environment: shared ? childUnit(env) : env.name,
    stage: env.stage,
    branch: env.branch,
    drySha: run.drySha,
    headSha: run.headSha,
    // A new WET branch is created at the root commit the child is built on.
    wetSha: env.baseSha || (commit.rootSha ?? ''),
    ...(run.dryBase ? { dryBase: run.dryBase } : {}),
    ...(run.dryBase && run.baseTip && run.baseTip !== run.dryBase
      ? { baseMovedTo: run.baseTip }
      : {}),
    ...(guard ? { guard } : {}),
    ...(shared
      ? {
          environments: envs.map((e) => e.name),
          folders: Object.fromEntries(envs.map((e) => [e.name, e.folder as string])),
        }
      : {}),
  }
}

export interface OpenChildren {
  /** One child per environment (the first listed). */
  existing: Map<string, ChildPr>
  /** Further children of an environment that already has one: they close. */
  extra: ChildPr[]
}

export function groupChildren(children: readonly ChildPr[]): OpenChildren {
  const existing = new Map<string, ChildPr>()
  const extra: ChildPr[] = []
  for (const child of children) {
    if (existing.has(child.environment)) extra.push(child)
    else existing.set(child.environment, child)
  }
  return { existing, extra }
}

/**
 * Children that no longer carry a change close. A failed or blocked render
 * keeps its old child (the failure status blocks it); extras close too.
 */
export function planClosures(
  environments: readonly EnvironmentHydration[],
  planned: readonly PlannedChild[],
  open: OpenChildren,
): DroppedChild[] {
  const byName = new Map(environments.map((env) => [env.name, env]))
  const plannedBranches = new Set(planned.map((p) => p.branch))
  const kept = (name: string, child: ChildPr) => {
    const status = byName.get(name)?.status
    return plannedBranches.has(child.branch) || status === 'failed' || status === 'blocked'
  }
  // A shared branch's child is listed once per folder: it stays when any of them keeps it.
  const keptNumbers = new Set(
    [...open.existing].filter(([name, child]) => kept(name, child)).map(([, c]) => c.number),
  )
  return [
    ...[...open.existing].filter(([, child]) => !keptNumbers.has(child.number)),
    ...open.extra.map((child) => ['', child] as const),
  ].map(([name, child]) => ({ environment: name, child }))
}

/**
 * A promoted cluster whose child gets a new render goes back to its WET
 * branch: what it ran leaves the branch, and the new render is not promoted
 * yet. (An autoPromote stage is deployed again right after.)
 */
export function planSuperseded(
  planned: readonly PlannedChild[],
  existing: ReadonlyMap<string, ChildPr>,
  remoteRefs: RemoteRefs,
  stages: readonly StageInfo[],
): DroppedChild[] {
  return planned.flatMap((plan) => {
    const now = remoteRefs.get(`refs/heads/${plan.branch}`)
    if (!now || now === plan.commit.sha || autoPromotes(stages, plan.env.stage)) return []
    return plan.envs.flatMap((env) => {
      const child = existing.get(env.name)
      return child ? [{ environment: env.name, child }] : []
    })
  })
}

export function autoPromotes(stages: readonly StageInfo[], stage: string): boolean {
  return stages.find((s) => s.name === stage)?.autoPromote ?? false
}

export interface RefUpdate {
  sha: string
  /** The value the lease expects ('' = the ref must not exist). */
  expect: string
}

export interface RefPlan {
  /** Every entry of the one atomic push ('' sha: delete); empty when nothing changed. */
  entries: Map<string, RefUpdate>
  /** How many entries change a ref (the rest are lease-only WET pins). */
  changed: number
  /** Refs the push updates or deletes, and WET branches it creates. */
  pushed: string[]
}

/**
 * The one atomic push: child branches, tags and deletions, each leased on
 * the value read, plus lease-only entries pinning every WET tip to what the
 * render was diffed against (a moved tip fails the whole push).
 */
export function planRefUpdates(input: {
  planned: readonly PlannedChild[]
  closing: readonly DroppedChild[]
  remoteRefs: RemoteRefs
  tagTemplate?: string
  parent: number
  drySha: string
}): RefPlan {
  const { planned, remoteRefs } = input
  const leased = (ref: string, sha: string): RefUpdate => ({
    sha,
    expect: remoteRefs.get(ref) ?? '',
  })
  const updates = new Map<string, RefUpdate>()
  for (const plan of planned) {
    const ref = `refs/heads/${plan.branch}`
    updates.set(ref, leased(ref, plan.commit.sha))
    for (const env of input.tagTemplate ? plan.envs : []) {
      const tag = tagName(input.tagTemplate ?? '', {
        environment: env.name,
        stage: env.stage,
        pr: input.parent,
        drySha: input.drySha,
      })
      updates.set(`refs/tags/${tag}`, leased(`refs/tags/${tag}`, plan.commit.sha))
    }
  }
  for (const { child } of input.closing) {
    const ref = `refs/heads/${child.branch}`
    const current = remoteRefs.get(ref)
    if (current && !updates.has(ref)) updates.set(ref, { sha: '', expect: current })
  }
  const changes = [...updates].filter(([, u]) => u.sha !== u.expect)
  const entries = new Map(changes)
  if (changes.length > 0) {
    for (const plan of planned) {
      const wetRef = `refs/heads/${plan.env.branch}`
      entries.set(wetRef, leased(wetRef, plan.commit.rootSha ?? plan.commit.baseSha))
    }
  }
  const created = planned
    .filter((p) => p.commit.rootSha && !remoteRefs.has(`refs/heads/${p.env.branch}`))
    .map((p) => `refs/heads/${p.env.branch}`)
  return { entries, changed: changes.length, pushed: [...changes.map(([ref]) => ref), ...created] }
}

/** One report per rendered environment; `unchanged` holds renders whose commit changed nothing after all. */
export function planReports(
  environments: readonly EnvironmentHydration[],
  unchanged: ReadonlySet<string>,
): Map<string, EnvironmentReport> {
  return new Map(
    environments.map((env) => [
      env.name,
      {
        environment: env.name,
        stage: env.stage,
        status: unchanged.has(env.name) ? 'unchanged' : env.status,
        ...(env.reason ? { reason: env.reason } : {}),
        resources: env.resources,
        diff: env.diff,
        changes: env.changes,
      },
    ]),
  )
}

/** A failed or blocked render keeps its old child: the report names it. */
export function keepFailedChildren(
  environments: readonly EnvironmentHydration[],
  existing: ReadonlyMap<string, ChildPr>,
  reports: ReadonlyMap<string, EnvironmentReport>,
): void {
  for (const env of environments) {
    const kept = existing.get(env.name)
    const report = reports.get(env.name)
    if (kept && report && !report.child && (env.status === 'failed' || env.status === 'blocked')) {
      report.child = { number: kept.number, url: kept.url, state: 'unchanged' }
    }
  }
}

/** What a child PR should change: its title/body/base, and the labels it lacks. */
export function childPrChanges(
  child: Pick<ChildPr, 'title' | 'body' | 'base' | 'labels'>,
  want: { title: string; body: string; base: string; labels: readonly string[] },
): { update: boolean; missingLabels: string[] } {
  return {
    update: child.title !== want.title || child.body !== want.body || child.base !== want.base,
    missingLabels: want.labels.filter((l) => !child.labels.includes(l)),
  }
}

/**
 * Statuses to post on the parent head; identical ones are not re-posted. A
 * run at the same head that leaves a child as it was ("Re-run all jobs",
 * reopened) keeps what promote made of it: a deployed environment stays deployed.
 */
export function planStatuses(input: {
  environments: readonly EnvironmentHydration[]
  reports: ReadonlyMap<string, EnvironmentReport>
  planned: readonly PlannedChild[]
  remoteRefs: RemoteRefs
  current: ReadonlyMap<string, CommitStatus>
  stages: readonly StageInfo[]
  promoteCommand: string
  fallbackUrl: string
}): CommitStatus[] {
  const { current } = input
  const sameChild = new Set(
    input.planned
      .filter((plan) => plan.commit.sha === input.remoteRefs.get(`refs/heads/${plan.branch}`))
      .flatMap((plan) => plan.envs.map((env) => env.name)),
  )
  return input.environments.flatMap((env) => {
    const report = input.reports.get(env.name)
    const deployed = current.get(environmentContext(env.name))?.state === 'success'
    if (!report || (deployed && sameChild.has(env.name))) return []
    const status = environmentStatus(report, {
      promoteCommand: input.promoteCommand,
      autoPromote: autoPromotes(input.stages, env.stage),
      fallbackUrl: input.fallbackUrl,
    })
    return sameStatus(current.get(status.context), status) ? [] : [status]
  })
}

/**
 * The children open after this run, as the gate reads them. A shared
 * branch's child is left out: its environments are impacted, so the gate
 * knows them already, and its branch names no environment.
 */
export function openChildrenAfter(
  reports: Iterable<EnvironmentReport>,
  environments: readonly EnvironmentHydration[],
  parent: number,
  fullName: string,
): PullSummary[] {
  const byName = new Map(environments.map((env) => [env.name, env]))
  return [...reports]
    .filter((r) => r.child && r.child.state !== 'closed')
    .filter((r) => byName.get(r.environment)?.folder === undefined)
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

/** The `children` output: one per environment (sorted), then extras that closed. */
export function childOutputs(
  reports: Iterable<EnvironmentReport>,
  closed: readonly ClosedChild[],
  parent: number,
  environments: readonly EnvironmentHydration[] = [],
): ChildOutput[] {
  const byName = new Map(environments.map((env) => [env.name, env]))
  const unit = (name: string) => {
    const env = byName.get(name)
    return env ? childUnit(env) : name
  }
  const children: ChildOutput[] = [...reports]
    .map((r) => ({
      environment: r.environment,
      stage: r.stage,
      render: r.status,
      branch: childBranch(parent, unit(r.environment)),
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
  return children
}

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

/** `blocked: <reason>; .promote <env> --allow-deletions`, the reason cut so the command fits in 140 characters. */
function blockedDescription(report: EnvironmentReport, promoteCommand: string): string {
  const hint = `; ${promoteCommand} ${report.environment} --allow-deletions`
  return `blocked: ${clip(report.reason ?? 'deletion guard', MAX_STATUS_DESCRIPTION - 'blocked: '.length - hint.length)}${hint}`
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
