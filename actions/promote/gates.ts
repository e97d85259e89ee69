// The promotion decision, pure: from the facts (facts.ts) to proceed with a
// plan, a dry-run verdict, a refusal with its reason, or nothing to do. It
// reads only its argument, so every case is a table test; the log lines it
// wants written are part of the answer.

import { minimatch } from 'minimatch'
import { argoCdApplicationName, stageOrder } from '../lib/config/config.js'
import type { FleetConfig, Permission, StageConfig } from '../lib/config/types.js'
import { errorMessage } from '../lib/errors.js'
import type { PullRequestSnapshot, Review } from '../lib/github/pulls.js'
import { describeHolder } from '../lib/locks.js'
import { parseChildBranch } from '../lib/children.js'
import { environmentContext, type CommitStatus, type RepoRef } from '../lib/statuses.js'
import type { Impacted, PromoteFacts } from './facts.js'
import type { ReplyRow } from './reply.js'
import { list } from './run.js'

/** Repository roles from least to most privileged; custom roles map to their base. */
const ROLE_RANK: Record<string, number> = {
  none: 0,
  read: 1,
  triage: 2,
  write: 3,
  maintain: 4,
  admin: 5,
}

export type Role = 'none' | 'read' | 'triage' | 'write' | 'maintain' | 'admin' | (string & {})

export interface Refusal {
  /** One sentence for the reply and the `reason` output. */
  reason: string
}

/** Everything the deploy step needs, decided. */
export interface DeployPlan {
  /** The head SHA the command is pinned to. */
  pinned: string
  selected: Impacted[]
  /** The stages of `selected`, in configuration order. */
  stages: StageConfig[]
  /** Recorded in every lock taken. */
  lockReason: string
  /** Argo CD Application per environment of an `argocd` stage. */
  applications: ReadonlyMap<string, string>
  /** The reply rows should the run be refused after all (a lock taken meanwhile, a moved head). */
  notDeployed: ReplyRow[]
}

export type PromoteDecision =
  | { verdict: 'ignore'; reason: string; log: string[] }
  | { verdict: 'refuse'; reason: string; rows: ReplyRow[]; help: boolean; log: string[] }
  | { verdict: 'noop'; reason: string; rows: ReplyRow[]; log: string[] }
  | { verdict: 'proceed'; plan: DeployPlan; log: string[] }

export function decidePromotion(facts: PromoteFacts): PromoteDecision {
  const log: string[] = []
  const refuse = (reason: string, rows: ReplyRow[] = [], help = false): PromoteDecision => ({
    verdict: 'refuse',
    reason,
    rows,
    help,
    log: [...log, `refused: ${reason}`],
  })
  const { pull, config, command } = facts
  const pinned = pull.headSha

  const early = pullRequestRefusal(facts)
  if (early) return refuse(early.reason)
  const selection = select(facts)
  if ('ignore' in selection) return { verdict: 'ignore', reason: selection.ignore, log }
  if ('refusal' in selection) return refuse(selection.refusal, [], selection.help)
  const { selected } = selection
  const stages = stagesIn(config, selected)
  const notDeployed = selected.map((env) => plannedRow(env, 'not deployed', ''))
  log.push(`pinned ${pinned.slice(0, 7)}; selected ${list(selected.map((e) => e.environment))}`)

  for (const gate of GATES) {
    const refusal = gate(facts, selected, stages)
    if (refusal) return refuse(refusal.reason, notDeployed)
  }
  if (command.noop) {
    const conflicts = lockConflicts(facts, selected)
    if (conflicts) return refuse(conflicts.reason, notDeployed)
    return {
      verdict: 'noop',
      reason: `--noop: every check passed for ${pinned.slice(0, 7)}; nothing was deployed`,
      rows: selected.map((env) => plannedRow(env, 'would deploy', '')),
      log,
    }
  }

  const applications = applicationNames(config, selected)
  if ('error' in applications)
    return refuse(`deploy.argocd.application: ${applications.error}`, notDeployed)
  const lockReason = command.allowDeletions
    ? `deletion guard overridden for ${pinned.slice(0, 7)}`
    : `promoted by ${facts.actor.login}`
  return {
    verdict: 'proceed',
    plan: { pinned, selected, stages, lockReason, applications: applications.names, notDeployed },
    log,
  }
}

/** The PR itself: open, ready, not a fork (unless allowed), not a child. */
function pullRequestRefusal(facts: PromoteFacts): Refusal | undefined {
  const { pull, repo } = facts
  const state = checkPullRequestState(pull, repo, facts.config)
  if (state) return state
  const childOf = parseChildBranch(pull.headRef)
  if (childOf && !isFork(pull, repo)) {
    return {
      reason: `#${pull.number} is a child pull request; comment on its parent #${childOf.parent}`,
    }
  }
  return undefined
}

type Selection = { selected: Impacted[] } | { ignore: string } | { refusal: string; help: boolean }

/** The environments the command names: the autoPromote stages, or the targets. */
function select(facts: PromoteFacts): Selection {
  const { impacted, pull, command } = facts
  if (facts.trigger === 'auto') {
    const selected = impacted.filter((env) => env.stage.autoPromote)
    return selected.length > 0 ? { selected } : { ignore: 'no autoPromote stage is impacted' }
  }
  if (impacted.length === 0) {
    return {
      refusal: `#${pull.number} has no open child pull requests yet; wait for open-child-prs to finish`,
      help: false,
    }
  }
  const resolved = resolveTargets(command.targets, command.all, impacted, facts.config)
  return 'error' in resolved ? { refusal: resolved.error, help: true } : resolved
}

type Gate = (
  facts: PromoteFacts,
  selected: readonly Impacted[],
  stages: readonly StageConfig[],
) => Refusal | undefined

/** Children rendered for another head would deploy what nobody approved on this one. */
const staleChildren: Gate = (facts, selected) => {
  const pinned = facts.pull.headSha
  const stale = selected
    .filter((env) => env.child.marker?.headSha !== pinned)
    .map((env) => env.environment)
  if (stale.length === 0) return undefined
  return {
    reason: `the child PRs of ${list(stale)} were not rendered from the current head ${pinned.slice(0, 7)}; wait for open-child-prs to update them`,
  }
}

const actorGate: Gate = (facts, _selected, stages) => {
  if (facts.trigger === 'auto') return undefined
  return checkActor({
    login: facts.actor.login,
    ...(facts.actor.type ? { type: facts.actor.type } : {}),
    role: facts.role ?? 'none',
    minimum: highestPermission([
      facts.config.promote.permission,
      ...stages.map((stage) => stage.permission),
    ]),
    config: facts.config,
    allowDeletions: facts.command.allowDeletions,
  })
}

const approvalsGate: Gate = (facts, _selected, stages) =>
  checkApprovals(
    approversAmong(facts.reviews, facts.pull.author, facts.pull.headSha),
    facts.pull.headSha,
    stages,
  )

const deletionGuardGate: Gate = (facts, selected) => {
  if (facts.command.allowDeletions) return undefined
  const blocked = selected.filter((env) =>
    guardBlocked(facts.statuses.get(environmentContext(env.environment))),
  )
  if (blocked.length === 0) return undefined
  return {
    reason: `the deletion guard blocked ${list(blocked.map((env) => env.environment))}; a maintainer may override it for ${facts.pull.headSha.slice(0, 7)} with --allow-deletions`,
  }
}

/** Stages required from outside the command must have succeeded already; the rest are checked as they run. */
const requiresGate: Gate = (facts, _selected, stages) => {
  const inCommand = new Set(stages.map((stage) => stage.name))
  const impacted = facts.impacted.map((env) => ({ name: env.environment, stage: env.stage.name }))
  for (const stage of stages) {
    const external = { ...stage, requires: stage.requires.filter((name) => !inCommand.has(name)) }
    const refusal = checkRequiredStages(external, impacted, facts.statuses, facts.pull.headSha)
    if (refusal) return refusal
  }
  return undefined
}

const argocdGate: Gate = (facts, _selected, stages) => {
  const { config } = facts
  const missing = stages.find(
    (stage) => stage.backend === 'argocd' && (!config.deploy.argocd.server || !facts.argocdToken),
  )
  if (!missing) return undefined
  return {
    reason: `stage ${missing.name} deploys with Argo CD: set deploy.argocd.server in ${config.file} and the argocd-token input`,
  }
}

/** In order: the first that refuses decides. */
const GATES: readonly Gate[] = [
  staleChildren,
  actorGate,
  approvalsGate,
  deletionGuardGate,
  requiresGate,
  argocdGate,
]

/** Locks another PR holds (a real run finds them when it takes the locks). */
function lockConflicts(facts: PromoteFacts, selected: readonly Impacted[]): Refusal | undefined {
  const conflicts = selected.flatMap((env) => {
    const held = facts.locks.get(env.environment)
    return held && held.lock?.pr !== facts.pull.number
      ? [`${env.environment} is ${describeHolder(held)}`]
      : []
  })
  return conflicts.length > 0 ? { reason: conflicts.join('; ') } : undefined
}

function applicationNames(
  config: FleetConfig,
  selected: readonly Impacted[],
): { names: Map<string, string> } | { error: string } {
  const names = new Map<string, string>()
  for (const env of selected.filter((e) => e.stage.backend === 'argocd')) {
    try {
      names.set(
        env.environment,
        argoCdApplicationName(config, {
          name: env.environment,
          stage: env.stage.name,
          branch: env.child.base,
        }),
      )
    } catch (error) {
      return { error: errorMessage(error) }
    }
  }
  return { names }
}

/** Targets → environments; stage names and environment names are exact, anything with `*`/`?` is a glob. */
export function resolveTargets(
  targets: readonly string[],
  all: boolean,
  impacted: readonly Impacted[],
  config: FleetConfig,
): { selected: Impacted[] } | { error: string } {
  if (all) return { selected: [...impacted] }
  const chosen = new Set<string>()
  const stageNames = new Set(config.stages.map((stage) => stage.name))
  for (const target of targets) {
    let matched: Impacted[]
    if (stageNames.has(target)) {
      matched = impacted.filter((env) => env.stage.name === target)
      if (matched.length === 0)
        return { error: `stage ${target} has no environment impacted by this pull request` }
    } else {
      matched = impacted.filter((env) =>
        /[*?]/.test(target) ? minimatch(env.environment, target) : env.environment === target,
      )
      if (matched.length === 0) {
        const known = impacted.map((env) => env.environment)
        const shown =
          known.length > 0
            ? `; impacted: ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', …' : ''}`
            : ''
        return {
          error: `unknown environment or stage "${target}": it matches nothing this pull request impacts${shown}`,
        }
      }
    }
    for (const env of matched) chosen.add(env.environment)
  }
  return { selected: impacted.filter((env) => chosen.has(env.environment)) }
}

/** The stages present among `envs`, in configuration order. */
export function stagesIn(config: FleetConfig, envs: readonly Impacted[]): StageConfig[] {
  const present = new Set(envs.map((env) => env.stage.name))
  return stageOrder(config)
    .filter((name) => present.has(name))
    .map((name) => config.stages.find((stage) => stage.name === name))
    .filter((stage): stage is StageConfig => stage !== undefined)
}

/** The deletion guard's verdict as open-child-prs reports it on the environment's status. */
export function guardBlocked(status: CommitStatus | undefined): boolean {
  return (
    status !== undefined &&
    status.state !== 'success' &&
    /^blocked\b|deletion guard/i.test(status.description)
  )
}

export function plannedRow(env: Impacted, result: string, detail: string): ReplyRow {
  return {
    environment: env.environment,
    stage: env.stage.name,
    result,
    detail,
    links: [{ text: `#${env.child.number}`, url: env.child.url }],
  }
}

/** Whether the PR's head lives in another repository. */
export function isFork(pull: PullRequestSnapshot, repo: RepoRef): boolean {
  return pull.headRepo.toLowerCase() !== `${repo.owner}/${repo.repo}`.toLowerCase()
}

/**
 * `role_name` when it is a built-in role. A custom role counts as the legacy
 * `permission` it reports (its base, where maintain reads as write), so it
 * never ranks above what it really grants.
 */
export function effectiveRole(data: { role_name?: string; permission: string }): Role {
  const roleName = data.role_name ?? ''
  if (Object.hasOwn(ROLE_RANK, roleName)) return roleName
  return Object.hasOwn(ROLE_RANK, data.permission) ? data.permission : 'none'
}

export function roleAtLeast(role: Role, minimum: Permission | Role): boolean {
  const have = Object.hasOwn(ROLE_RANK, role) ? (ROLE_RANK[role] ?? 0) : 0
  const need = Object.hasOwn(ROLE_RANK, minimum) ? (ROLE_RANK[minimum] ?? Infinity) : Infinity
  return have >= need
}

export function highestPermission(permissions: readonly Permission[]): Permission {
  return permissions.reduce<Permission>((a, b) => (ROLE_RANK[b]! > ROLE_RANK[a]! ? b : a), 'write')
}

export function isBot(login: string, type?: string): boolean {
  return type === 'Bot' || login.toLowerCase().endsWith('[bot]')
}

/**
 * Logins whose latest decisive review (APPROVED, CHANGES_REQUESTED or
 * DISMISSED; COMMENTED reviews do not change a verdict, as on GitHub) is an
 * approval of exactly `sha`. The PR author never counts.
 */
export function approversAmong(reviews: readonly Review[], author: string, sha: string): string[] {
  const latest = new Map<string, { state: string; commitId: string }>()
  for (const review of reviews) {
    const login = review.login
    if (!login || login === author) continue
    if (!['APPROVED', 'CHANGES_REQUESTED', 'DISMISSED'].includes(review.state)) continue
    latest.set(login, { state: review.state, commitId: review.commitId })
  }
  return [...latest]
    .filter(([, review]) => review.state === 'APPROVED' && review.commitId === sha)
    .map(([login]) => login)
    .sort()
}

export interface ActorCheck {
  login: string
  /** `User` or `Bot`, from the event. */
  type?: string
  /** The live repository role. */
  role: Role
  /** Minimum role for everything this command does. */
  minimum: Permission
  config: FleetConfig
  /** `--allow-deletions` also needs maintain. */
  allowDeletions?: boolean
}

/** Bot allowlist and repository role. */
export function checkActor(input: ActorCheck): Refusal | undefined {
  if (isBot(input.login, input.type) && !input.config.promote.allowBots.includes(input.login)) {
    return { reason: `${input.login} is a bot and not in promote.allowBots` }
  }
  const { role } = input
  if (!roleAtLeast(role, input.minimum)) {
    return { reason: `${input.login} has the ${role} role; this needs ${input.minimum} or higher` }
  }
  if (input.allowDeletions && !roleAtLeast(role, 'maintain')) {
    return {
      reason: `--allow-deletions needs the maintain or admin role; ${input.login} has ${role}`,
    }
  }
  return undefined
}

export function checkPullRequestState(
  pull: PullRequestSnapshot,
  repo: RepoRef,
  config: FleetConfig,
): Refusal | undefined {
  if (pull.merged) return { reason: `#${pull.number} is already merged` }
  if (pull.state !== 'open') return { reason: `#${pull.number} is closed` }
  if (pull.draft) return { reason: `#${pull.number} is a draft; mark it ready for review first` }
  if (isFork(pull, repo) && !config.promote.allowForks) {
    return {
      reason: `#${pull.number} comes from a fork (${pull.headRepo || 'deleted repository'}); promote.allowForks is off`,
    }
  }
  return undefined
}

/** Approvals of the pinned SHA for every stage that needs them. */
export function checkApprovals(
  approvers: readonly string[],
  sha: string,
  stages: readonly StageConfig[],
): Refusal | undefined {
  const needed = Math.max(0, ...stages.map((stage) => stage.approvals))
  if (needed === 0 || approvers.length >= needed) return undefined
  const stage = stages.find((s) => s.approvals === needed)?.name ?? ''
  return {
    reason: `${stage} needs ${needed} approving review${needed === 1 ? '' : 's'} of ${sha.slice(0, 7)}; it has ${approvers.length}`,
  }
}

/**
 * The stages `stage` requires must have succeeded on the pinned SHA: every
 * impacted environment of each (the PR's children) has a success status.
 * Stages promoted earlier in the same command are checked after they ran.
 */
export function checkRequiredStages(
  stage: StageConfig,
  impacted: readonly { name: string; stage: string }[],
  statuses: ReadonlyMap<string, CommitStatus>,
  sha: string,
): Refusal | undefined {
  for (const required of stage.requires) {
    const missing = impacted
      .filter((env) => env.stage === required)
      .filter((env) => statuses.get(environmentContext(env.name))?.state !== 'success')
      .map((env) => env.name)
    if (missing.length > 0) {
      const shown = missing.slice(0, 5).join(', ') + (missing.length > 5 ? ', …' : '')
      return {
        reason: `${stage.name} requires ${required} to succeed on ${sha.slice(0, 7)} first; not yet: ${shown}`,
      }
    }
  }
  return undefined
}
