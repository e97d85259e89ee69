// The promotion decision, pure: from the facts (facts.ts) to proceed with a
// plan, a dry-run verdict, a refusal with its reason, or nothing to do. It
// reads only its argument, so every case is a table test; the log lines it
// wants written are part of the answer.

import { minimatch } from 'minimatch'
import { argoCdApplicationName, stageFor, stageOrder } from '../lib/config/config.js'
import type { FleetConfig, Permission, StageConfig } from '../lib/config/types.js'
import { errorMessage } from '../lib/errors.js'
import type { PullRequestSnapshot, Review } from '../lib/github/pulls.js'
import { describeHolder } from '../lib/locks.js'
import { parseChildBranch } from '../lib/children.js'
import { environmentContext, type CommitStatus, type RepoRef } from '../lib/statuses.js'
import { batchOf, laterReason } from './budget.js'
import { stageScopes } from './deployments.js'
import {
  statusOf,
  type Impacted,
  type PromoteFacts,
  type PullEnvironment,
  type WetPlace,
} from './facts.js'
import { METADATA_FILE } from '../lib/render/output.js'
import type { RequiredStageRuns } from './required-stages.js'
import type { ReplyRow } from './reply.js'
import { list } from './run.js'
import { tokenNotSet } from './verify.js'

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

/** One precheck's verdict: a real run stops at the first that fails, a dry run lists them all. */
export interface Check {
  gate: string
  ok: boolean
  detail: string
}

/** Everything the deploy step needs, decided. */
export interface DeployPlan {
  /** The head SHA the command is pinned to. */
  pinned: string
  /** The environments to deploy. */
  selected: Impacted[]
  /** The stages of `selected`, in configuration order. */
  stages: StageConfig[]
  /** Recorded in every lock taken. */
  lockReason: string
  /** Argo CD Application per environment of an `argocd` stage. */
  applications: ReadonlyMap<string, string>
  /** The reply rows should the run be refused after all (a lock taken meanwhile, a moved head). */
  notDeployed: ReplyRow[]
  /** Rows of named environments that already succeeded on this head, left as they are. */
  already: ReplyRow[]
  /** Rows of environments left for the next run (over GitHub's hourly write budget). */
  later: ReplyRow[]
  /** Why they were left, for the reply; empty when none were. */
  laterReason: string
  /** What `--allow-deletions` lets through, for the reply; empty when nothing was blocked. */
  deletions: string
}

export type PromoteDecision =
  | { verdict: 'ignore'; reason: string; log: string[] }
  | { verdict: 'refuse'; reason: string; rows: ReplyRow[]; help: boolean; log: string[] }
  /** Everything named already succeeded on this head. */
  | { verdict: 'done'; reason: string; rows: ReplyRow[]; log: string[] }
  | { verdict: 'noop'; reason: string; rows: ReplyRow[]; checks: Check[]; log: string[] }
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

  // Permission first: a commenter without the role learns nothing about the PR.
  const allowed = permissionCheck(facts, [])
  if (!allowed.ok) return refuse(allowed.detail)
  const early = pullRequestRefusal(facts)
  if (early) return refuse(early.reason)
  const selection = select(facts)
  if ('ignore' in selection) return { verdict: 'ignore', reason: selection.ignore, log }
  if ('refusal' in selection) return refuse(selection.refusal, [], selection.help)
  const named = selection.selected
  const permission = permissionCheck(facts, stagesIn(config, named))
  if (!permission.ok) return refuse(permission.detail, rowsOf(facts, named, 'not deployed'))

  const split = splitAlreadyDeployed(facts, named)
  if ('refusal' in split) return refuse(split.refusal, rowsOf(facts, named, 'not deployed'))
  const already = rowsOf(facts, split.already, 'already deployed')
  const selected = split.deploy
  if (selected.length === 0)
    return { verdict: 'done', reason: alreadyReason(facts, split.already), rows: already, log }
  const stages = stagesIn(config, selected)
  log.push(`pinned ${pinned.slice(0, 7)}; selected ${list(selected.map((e) => e.environment))}`)

  const applications = applicationNames(config, selected)
  const checks = [
    permission,
    ...GATES.map((gate) => gate(facts, selected, stages)),
    applicationsCheck(applications),
    ...(command.noop ? [lockCheck(facts, selected)] : []),
  ]
  for (const check of checks)
    log.push(`${check.gate}: ${check.ok ? 'ok' : 'fails'}: ${check.detail}`)
  const failed = checks.find((check) => !check.ok)
  if (command.noop) return dryRun(facts, selected, already, checks, log)
  const notDeployed = [...rowsOf(facts, selected, 'not deployed'), ...already]
  if (failed || 'error' in applications) return refuse(failed?.detail ?? '', notDeployed)
  const lockReason = command.allowDeletions
    ? `deletion guard overridden for ${pinned.slice(0, 7)}`
    : `promoted by ${facts.actor.login}`
  // In stage order, so a batch never deploys a stage before the ones it requires.
  const batch = batchOf(
    stages.flatMap((stage) => selected.filter((e) => e.stage.name === stage.name)),
    stageScopes(config.deploy.deployments, [...facts.impacted, ...facts.finished]),
    { together: landsWith, statuses: config.statuses },
  )
  if (batch.later.length > 0)
    log.push(
      `batch: ${batch.deploy.length} of ${selected.length} (~${batch.estimate} of ${batch.total} content-creating requests)`,
    )
  const plan: DeployPlan = {
    pinned,
    selected: batch.deploy.map((env) => atConfiguredFolder(facts.places, env)),
    stages: stagesIn(config, batch.deploy),
    lockReason,
    notDeployed,
    already,
    later: rowsOf(facts, batch.later, 'not deployed'),
    laterReason: laterReason(
      batch,
      `\`${config.promote.command} ${command.all ? 'all' : command.targets.join(' ')}\``,
    ),
    applications: applications.names,
    deletions: deletionsText(facts, batch.deploy),
  }
  return { verdict: 'proceed', plan, log }
}

/** The environment with its folder from the configuration (checked to agree with the marker first). */
export function atConfiguredFolder(places: PromoteFacts['places'], env: Impacted): Impacted {
  const place = places && !('problem' in places) ? places.get(env.environment) : undefined
  if (!place) return env
  const child = { ...env.child }
  if (place.folder) child.folder = place.folder
  else delete child.folder
  return { ...env, child }
}

/** What an environment deploys with: a shared child the merge backend lands whole, or itself. */
function landsWith(env: Impacted): unknown {
  return env.stage.backend === 'merge' && env.child.marker?.environments ? env.child.number : env
}

/** `--noop`: every check's verdict, nothing enforced beyond permission. */
function dryRun(
  facts: PromoteFacts,
  selected: readonly Impacted[],
  already: ReplyRow[],
  checks: Check[],
  log: string[],
): PromoteDecision {
  const sha = facts.pull.headSha.slice(0, 7)
  const failed = checks.find((check) => !check.ok)
  return {
    verdict: 'noop',
    reason: failed
      ? `--noop: a promotion of ${sha} now would be refused: ${failed.detail}; nothing was deployed`
      : `--noop: every check passed for ${sha}; nothing was deployed`,
    rows: [...rowsOf(facts, selected, failed ? 'would be refused' : 'would deploy'), ...already],
    checks,
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

type Selection =
  { selected: PullEnvironment[] } | { ignore: string } | { refusal: string; help: boolean }

/** The environments the command names: the autoPromote stages, or the targets. */
function select(facts: PromoteFacts): Selection {
  const { impacted, pull, command } = facts
  if (facts.trigger === 'auto') {
    // Only what open-child-prs rendered for this head: a child it kept from an older
    // head (a dropped environment whose cluster it could not put back) is not redeployed.
    const selected = impacted.filter(
      (env) => env.stage.autoPromote && env.child.marker?.headSha === pull.headSha,
    )
    return selected.length > 0 ? { selected } : { ignore: 'no autoPromote stage is impacted' }
  }
  const candidates: PullEnvironment[] = [...impacted, ...facts.finished]
  if (candidates.length === 0) {
    return {
      refusal: `#${pull.number} has no open child pull requests yet; wait for open-child-prs to finish`,
      help: false,
    }
  }
  const resolved = resolveTargets(command.targets, command.all, candidates, facts.config)
  return 'error' in resolved ? { refusal: resolved.error, help: true } : resolved
}

/**
 * Named environments that already succeeded on this head are left alone
 * (`--force` deploys those with an open child again); one without an open
 * child that did not succeed has nothing to deploy.
 */
function splitAlreadyDeployed(
  facts: PromoteFacts,
  named: readonly PullEnvironment[],
): { deploy: Impacted[]; already: PullEnvironment[] } | { refusal: string } {
  const deploy: Impacted[] = []
  const already: PullEnvironment[] = []
  const undeployable: string[] = []
  for (const env of named) {
    const status = statusOf(facts.statuses, env.environment)
    const succeeded = status?.state === 'success'
    if (succeeded && (!env.child || !facts.command.force)) already.push(env)
    else if (env.child) deploy.push({ ...env, child: env.child })
    else undeployable.push(`${env.environment} (${status?.description || 'no status'})`)
  }
  if (undeployable.length > 0) {
    return {
      refusal: `no open child pull request to deploy for ${list(undeployable)}`,
    }
  }
  return { deploy, already }
}

function alreadyReason(facts: PromoteFacts, already: readonly PullEnvironment[]): string {
  const again = already.some((env) => env.child !== undefined)
    ? ' (add --force to deploy again)'
    : ''
  return `already deployed at ${facts.pull.headSha.slice(0, 7)}: ${list(already.map((env) => env.environment))}${again}`
}

type Gate = (
  facts: PromoteFacts,
  selected: readonly Impacted[],
  stages: readonly StageConfig[],
) => Check

/** Bot allowlist and the highest role `stages` need (none: promote.permission). */
function permissionCheck(facts: PromoteFacts, stages: readonly StageConfig[]): Check {
  const minimum = highestPermission([
    facts.config.promote.permission,
    ...stages.map((stage) => stage.permission),
  ])
  if (facts.trigger === 'auto')
    return { gate: 'permission', ok: true, detail: 'auto-promotion by the workflow' }
  const refusal = checkActor({
    login: facts.actor.login,
    ...(facts.actor.type ? { type: facts.actor.type } : {}),
    role: facts.role ?? 'none',
    minimum,
    config: facts.config,
    allowDeletions: stages.length > 0 && facts.command.allowDeletions,
  })
  return refusal
    ? { gate: 'permission', ok: false, detail: refusal.reason }
    : {
        gate: 'permission',
        ok: true,
        detail: `${facts.actor.login} has the ${facts.role ?? 'none'} role; this needs ${minimum}`,
      }
}

/** Children rendered for another head would deploy what nobody approved on this one. */
const staleChildren: Gate = (facts, selected) => {
  const pinned = facts.pull.headSha.slice(0, 7)
  const stale = selected
    .filter((env) => env.child.marker?.headSha !== facts.pull.headSha)
    .map((env) => env.environment)
  if (stale.length === 0)
    return { gate: 'child PRs', ok: true, detail: `child PRs rendered from ${pinned}` }
  return {
    gate: 'child PRs',
    ok: false,
    detail: `the child PRs of ${list(stale)} were not rendered from the current head ${pinned}; wait for open-child-prs to update them`,
  }
}

/**
 * Where an environment deploys from is the base branch's configuration's
 * word, not the child marker's (a PR body anyone with write access can edit):
 * a marker naming another folder or branch would point the environment's
 * Argo CD Application at another environment's files.
 */
const placesGate: Gate = (facts, selected) => {
  const places = facts.places
  if (!places) return { gate: 'folders', ok: true, detail: 'no WET folders' }
  if ('problem' in places)
    return { gate: 'folders', ok: false, detail: placesUnknown(places.problem) }
  const clauses = selected.flatMap((env) => misplaced(facts.pull, places, env) ?? [])
  if (clauses.length === 0)
    return { gate: 'folders', ok: true, detail: 'every child is at its configured folder' }
  return {
    gate: 'folders',
    ok: false,
    detail: `${clauses.join('; ')}: re-render (push or re-run the pull request workflow)`,
  }
}

export function placesUnknown(problem: string): string {
  return `the WET folders could not be checked against the configuration: ${problem}`
}

/** How the child disagrees with where the configuration puts the environment; undefined when it does not. */
export function misplaced(
  pull: PullRequestSnapshot,
  places: ReadonlyMap<string, WetPlace>,
  env: Impacted,
): string | undefined {
  const shown = (folder: string) => folder || '(the branch root)'
  const place = places.get(env.environment)
  if (!place)
    return `the configuration puts no environment ${env.environment} in ${pull.headSha.slice(0, 7)} or ${pull.baseRef}`
  if (place.branch !== env.child.base)
    return `the child of ${env.environment} is on ${env.child.base}, the configuration says ${place.branch}`
  const folder = env.child.folder ?? ''
  return folder === place.folder
    ? undefined
    : `the child of ${env.environment} says folder ${shown(folder)}, the configuration says ${shown(place.folder)}`
}

/**
 * The merge backend lands a shared WET branch's child whole, so every folder
 * it holds deploys (the argocd backend points each Application at its own
 * folder instead). A target naming only some of those environments (one
 * environment, a glob, a `--force` subset) would deploy the others unasked.
 */
const sharedChildren: Gate = (facts, selected) => {
  const names = new Set(selected.map((env) => env.environment))
  const split = new Map<number, { env: Impacted; held: string[] }>()
  const seen = new Set<number>()
  for (const env of selected) {
    const held = env.child.marker?.environments
    if (env.stage.backend !== 'merge' || !held || seen.has(env.child.number)) continue
    seen.add(env.child.number)
    if (held.some((name) => !names.has(name))) split.set(env.child.number, { env, held })
  }
  if (split.size === 0)
    return {
      gate: 'shared children',
      ok: true,
      detail:
        seen.size > 0
          ? 'every shared child is promoted whole'
          : 'no merge stage on a shared WET branch',
    }
  const clauses = [...split.values()].map(({ env, held }) => {
    const named = held.filter((name) => names.has(name))
    const others = held.filter((name) => !names.has(name))
    return `${list(named)} ${named.length === 1 ? 'shares' : 'share'} ${env.child.base} with ${list(others)} (one child lands them together)`
  })
  // A child's environments all in its stage: naming the stage takes them all.
  const byStage = [...split.values()].every(({ env, held }) =>
    held.every((name) => stageFor(facts.config, name)?.name === env.stage.name),
  )
  const targets = byStage
    ? [...new Set([...split.values()].map(({ env }) => env.stage.name))]
    : [...new Set([...names, ...[...split.values()].flatMap(({ held }) => held)])]
  return {
    gate: 'shared children',
    ok: false,
    detail: `${clauses.join('; ')}: promote them together, e.g. ${facts.config.promote.command} ${targets.join(' ')}`,
  }
}

/**
 * A child rendered before what it would replace moved lacks a merged change:
 * deploying it would roll that change back. Its WET branch moved since it was
 * built (another parent landed), or it was built after the base branch had
 * already moved past its render's DRY base (a run of an old test merge, on WET
 * tips that may hold what that base lacks).
 */
const staleRenders: Gate = (facts, selected) => {
  const short = (sha: string) => (sha ? sha.slice(0, 7) : '(deleted)')
  const stale = selected.flatMap((env) => {
    const marker = env.child.marker
    const now = facts.wetTips.get(env.child.base) ?? ''
    if (marker?.wetSha !== undefined && marker.wetSha !== now)
      return [{ env, moved: `${env.child.base} moved to ${short(now)}` }]
    if (marker?.baseMovedTo !== undefined && facts.baseTip !== marker.dryBase)
      return [{ env, moved: `${facts.pull.baseRef} moved to ${short(facts.baseTip ?? '')}` }]
    return []
  })
  const [one, ...more] = stale
  if (!one)
    return {
      gate: 'renders',
      ok: true,
      detail: 'every child is built on its WET branch tip',
    }
  const pending = stale.every((s) =>
    /re-render requested/.test(statusOf(facts.statuses, s.env.environment)?.description ?? ''),
  )
  const next = pending
    ? 'a re-render is pending; promote again once it is done'
    : 'push or re-run the pull request workflow to re-render'
  const others = new Set(more.map((s) => s.moved).filter((moved) => moved !== one.moved)).size
  const what =
    more.length === 0
      ? `the child of ${one.env.environment} was`
      : `the children of ${list(stale.map((s) => s.env.environment))} were`
  return {
    gate: 'renders',
    ok: false,
    detail: `${what} rendered before ${one.moved}${others > 0 ? ` (and ${others} other branch${others === 1 ? '' : 'es'} moved)` : ''}: ${next}`,
  }
}

/**
 * A parent that is merged or closed while its child on one of these
 * environments is still open: its closed workflow (merge-cleanup) has not
 * landed that child yet, so the WET branch, and any child rendered on it,
 * may lack the parent's change. Deploying now would roll it back.
 */
const unlandedCheck: Gate = (facts, selected) => {
  const names = new Set(selected.map((env) => env.environment))
  const byParent = new Map<number, { environments: string[]; bases: Set<string> }>()
  for (const child of facts.unlanded) {
    if (!names.has(child.environment)) continue
    const entry = byParent.get(child.parent) ?? { environments: [], bases: new Set<string>() }
    entry.environments.push(child.environment)
    entry.bases.add(child.base)
    byParent.set(child.parent, entry)
  }
  if (byParent.size === 0)
    return { gate: 'closed parents', ok: true, detail: 'no closed parent has an open child here' }
  const clauses = [...byParent].map(([parent, { environments, bases }]) => {
    const many = environments.length > 1
    return `${list(environments)} may lack what #${parent} changed: it is closed, but its ${many ? 'children' : 'child'} on ${list([...bases])} ${many ? 'are' : 'is'} still open`
  })
  const one = byParent.size === 1
  // With merge.mergeUnpromoted off, merge-cleanup leaves such a child open for a human: waiting for it does not help.
  const tail = facts.config.merge.mergeUnpromoted
    ? one
      ? '(the closed workflow has not run yet); promote again once it has'
      : '(their closed workflows have not run yet); promote again once they have'
    : `(${one ? 'the closed workflow has not run yet, or left it' : 'their closed workflows have not run yet, or left them'} open: merge.mergeUnpromoted is false); promote again once ${one ? 'it is' : 'they are'} merged or closed`
  return { gate: 'closed parents', ok: false, detail: `${clauses.join('; ')} ${tail}` }
}

const approvalsGate: Gate = (facts, _selected, stages) => {
  const approvers = approversAmong(facts.reviews, facts.pull.author, facts.pull.headSha)
  const stale = staleApprovals(facts.reviews, facts.pull.author, facts.pull.headSha)
  const refusal = checkApprovals(approvers, facts.pull.headSha, stages, stale)
  if (refusal) return { gate: 'approvals', ok: false, detail: refusal.reason }
  const needed = Math.max(0, ...stages.map((stage) => stage.approvals))
  return {
    gate: 'approvals',
    ok: true,
    detail:
      needed === 0
        ? 'no approval needed'
        : `${approvers.length} approving review${approvers.length === 1 ? '' : 's'} of ${facts.pull.headSha.slice(0, 7)} (${needed} needed)`,
  }
}

/** Environments whose render the deletion guard blocked: the child's marker says so, or its status. */
function guardedOf(facts: PromoteFacts, selected: readonly Impacted[]): Impacted[] {
  return selected.filter(
    (env) =>
      env.child.marker?.guard !== undefined ||
      guardBlocked(statusOf(facts.statuses, env.environment)),
  )
}

/** The reply's word on what an override deletes. */
function deletionsText(facts: PromoteFacts, selected: readonly Impacted[]): string {
  const blocked = guardedOf(facts, selected)
  if (blocked.length === 0) return ''
  const what = blocked.map(
    (env) =>
      `${env.environment} ${env.child.marker?.guard?.reason ?? 'deletes what its child PR lists'}`,
  )
  return `deletion guard overridden with --allow-deletions: ${what.join('; ')}`
}

const deletionGuardGate: Gate = (facts, selected) => {
  const blocked = guardedOf(facts, selected)
  const sha = facts.pull.headSha.slice(0, 7)
  if (blocked.length === 0) return { gate: 'deletion guard', ok: true, detail: 'nothing blocked' }
  const names = list(blocked.map((env) => env.environment))
  if (facts.command.allowDeletions)
    return { gate: 'deletion guard', ok: true, detail: `overridden for ${names} at ${sha}` }
  return {
    gate: 'deletion guard',
    ok: false,
    detail: `the deletion guard blocked ${names}; a maintainer may override it for ${sha} with --allow-deletions`,
  }
}

/** Stages required from outside the command must have succeeded already; the rest are checked as they run. */
const requiresGate: Gate = (facts, _selected, stages) => {
  const inCommand = new Set(stages.map((stage) => stage.name))
  const environments = [...facts.impacted, ...facts.finished].map((env) => ({
    name: env.environment,
    stage: env.stage.name,
  }))
  const required = new Set<string>()
  for (const stage of stages) {
    const external = { ...stage, requires: stage.requires.filter((name) => !inCommand.has(name)) }
    for (const name of external.requires) required.add(name)
    const refusal =
      checkRequiredStages(external, environments, facts.statuses, facts.pull.headSha) ??
      checkRequiredElsewhere(external, facts.requiredRuns, facts.impacted[0]?.child.marker?.drySha)
    if (refusal) return { gate: 'required stages', ok: false, detail: refusal.reason }
  }
  const sha = facts.pull.headSha.slice(0, 7)
  const met = [...required].map((name) =>
    facts.requiredRuns.has(name)
      ? `${name} runs this DRY commit or an ancestor on its WET branches`
      : `${name} succeeded on ${sha}`,
  )
  return {
    gate: 'required stages',
    ok: true,
    detail: met.length === 0 ? 'none outside this command' : met.join('; '),
  }
}

const argocdGate: Gate = (facts, _selected, stages) => {
  const { config } = facts
  const argocd = stages.filter((stage) => stage.backend === 'argocd')
  const missing = argocd.find(() => !config.deploy.argocd.server || !facts.argocdToken)
  if (missing) {
    return {
      gate: 'Argo CD',
      ok: false,
      detail: `stage ${missing.name} deploys with Argo CD: set deploy.argocd.server in ${config.file} and the argocd-token input`,
    }
  }
  return {
    gate: 'Argo CD',
    ok: true,
    detail: argocd.length > 0 ? 'server and token configured' : 'no Argo CD stage',
  }
}

// A token set nowhere would fail every environment's check after it deployed
// (and roll it back): refused before anything changes instead.
const verifyTokensGate: Gate = (facts, _selected, stages) => {
  const needed = stages.flatMap((stage) =>
    [...stage.verify.http, ...stage.verify.prometheus].flatMap((check) =>
      check.tokenEnv === undefined ? [] : [{ stage, check, token: check.tokenEnv }],
    ),
  )
  const missing = needed.find(({ token }) => !facts.verifyTokens.has(token))
  if (missing)
    return {
      gate: 'verify tokens',
      ok: false,
      detail: `check ${missing.check.name} of stage ${missing.stage.name}: ${tokenNotSet(missing.token)}`,
    }
  const names = [...new Set(needed.map(({ token }) => token))]
  return {
    gate: 'verify tokens',
    ok: true,
    detail: names.length > 0 ? `${list(names)} set` : 'no check needs a token',
  }
}

/** In order: the first that fails decides a real run. */
const GATES: readonly Gate[] = [
  staleChildren,
  placesGate,
  sharedChildren,
  staleRenders,
  unlandedCheck,
  approvalsGate,
  deletionGuardGate,
  requiresGate,
  argocdGate,
  verifyTokensGate,
]

/** Locks another PR holds (a real run finds them when it takes the locks). */
function lockCheck(facts: PromoteFacts, selected: readonly Impacted[]): Check {
  const conflicts = selected.flatMap((env) => {
    const held = facts.locks.get(env.environment)
    return held && held.lock?.pr !== facts.pull.number
      ? [`${env.environment} is ${describeHolder(held)}`]
      : []
  })
  return conflicts.length > 0
    ? { gate: 'locks', ok: false, detail: conflicts.join('; ') }
    : { gate: 'locks', ok: true, detail: 'no other pull request holds a lock' }
}

function applicationsCheck(names: { names: Map<string, string> } | { error: string }): Check {
  return 'error' in names
    ? {
        gate: 'Argo CD Applications',
        ok: false,
        detail: `deploy.argocd.application: ${names.error}`,
      }
    : { gate: 'Argo CD Applications', ok: true, detail: `${names.names.size} named` }
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

/** Reply rows: the child PR as the link, or the status's details when there is no open child. */
function rowsOf(facts: PromoteFacts, envs: readonly PullEnvironment[], result: string): ReplyRow[] {
  return envs.map((env) => {
    const status = statusOf(facts.statuses, env.environment)
    const detail = result === 'already deployed' ? (status?.description ?? '') : ''
    if (env.child) return plannedRow({ ...env, child: env.child }, result, detail)
    return {
      environment: env.environment,
      stage: env.stage.name,
      result,
      detail,
      links: status?.targetUrl ? [statusLink(status.targetUrl)] : [],
    }
  })
}

/** Targets → environments; stage names and environment names are exact, anything with `*`/`?` is a glob. */
export function resolveTargets<T extends { environment: string; stage: StageConfig }>(
  targets: readonly string[],
  all: boolean,
  impacted: readonly T[],
  config: FleetConfig,
): { selected: T[] } | { error: string } {
  if (all) return { selected: [...impacted] }
  const chosen = new Set<string>()
  const stageNames = new Set(config.stages.map((stage) => stage.name))
  for (const target of targets) {
    let matched: T[]
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
export function stagesIn(
  config: FleetConfig,
  envs: readonly { stage: StageConfig }[],
): StageConfig[] {
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

/** A status's link, named `#<n>` when it points at a pull request (a merged child). */
export function statusLink(url: string): { text: string; url: string } {
  const pull = /\/pull\/(\d+)$/.exec(url)
  return { text: pull ? `#${pull[1]}` : 'details', url }
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

/** Each reviewer's latest decisive review (APPROVED, CHANGES_REQUESTED or DISMISSED); never the author's. */
function latestDecisive(reviews: readonly Review[], author: string): Map<string, Review> {
  const latest = new Map<string, Review>()
  for (const review of reviews) {
    if (!review.login || review.login === author) continue
    if (!['APPROVED', 'CHANGES_REQUESTED', 'DISMISSED'].includes(review.state)) continue
    latest.set(review.login, review)
  }
  return latest
}

/**
 * Logins whose latest decisive review (COMMENTED reviews do not change a
 * verdict, as on GitHub) is an approval of exactly `sha`. The PR author never counts.
 */
export function approversAmong(reviews: readonly Review[], author: string, sha: string): string[] {
  return [...latestDecisive(reviews, author).values()]
    .filter((review) => review.state === 'APPROVED' && review.commitId === sha)
    .map((review) => review.login)
    .sort()
}

/** Approvals that still stand but are of another commit than `sha`: a refusal names them. */
export function staleApprovals(reviews: readonly Review[], author: string, sha: string): Review[] {
  return [...latestDecisive(reviews, author).values()]
    .filter((review) => review.state === 'APPROVED' && review.commitId !== sha)
    .sort((a, b) => (a.login < b.login ? -1 : a.login > b.login ? 1 : 0))
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

/** Approvals of the pinned SHA for every stage that needs them; `stale` approvals of older commits are named. */
export function checkApprovals(
  approvers: readonly string[],
  sha: string,
  stages: readonly StageConfig[],
  stale: readonly Review[] = [],
): Refusal | undefined {
  const needed = Math.max(0, ...stages.map((stage) => stage.approvals))
  if (needed === 0 || approvers.length >= needed) return undefined
  const stage = stages.find((s) => s.approvals === needed)?.name ?? ''
  const older =
    stale.length === 0
      ? ''
      : stale.length === 1
        ? `; the approval by ${stale[0]?.login} was for ${stale[0]?.commitId.slice(0, 7)}; the head is ${sha.slice(0, 7)}`
        : `; the approvals by ${stale.map((r) => `${r.login} (${r.commitId.slice(0, 7)})`).join(', ')} were for older commits; the head is ${sha.slice(0, 7)}`
  return {
    reason: `${stage} needs ${needed} approving review${needed === 1 ? '' : 's'} of ${sha.slice(0, 7)}; it has ${approvers.length}${older}`,
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

/**
 * Required stages the PR does not impact (`promote.requiredStages:
 * wet-branches`): every environment's WET branch must run the PR's DRY
 * commit or an ancestor of it. A stage with no environment at all is
 * satisfied; one whose branches could not be read is not.
 */
export function checkRequiredElsewhere(
  stage: StageConfig,
  runs: ReadonlyMap<string, RequiredStageRuns>,
  drySha: string | undefined,
): Refusal | undefined {
  const dry = drySha ? ` ${drySha.slice(0, 7)}` : ''
  for (const required of stage.requires) {
    const found = runs.get(required)
    if (!found) continue
    if ('problem' in found)
      return {
        reason: `${stage.name} requires ${required}, whose WET branches could not be read: ${found.problem}`,
      }
    const behind = found.runs
      .filter((run) => !run.withinHistory)
      .map((run) =>
        run.drySha
          ? `${run.environment} runs ${run.drySha.slice(0, 7)}`
          : `${run.environment} (${run.branch} has no ${METADATA_FILE})`,
      )
    if (behind.length > 0) {
      const shown = behind.slice(0, 5).join(', ') + (behind.length > 5 ? ', …' : '')
      return {
        reason: `${stage.name} requires ${required}, which this pull request does not impact: its WET branches must run this pull request's DRY commit${dry} or an ancestor first; not yet: ${shown} (promote what ${required} is missing, or set promote.requiredStages: pull-request)`,
      }
    }
  }
  return undefined
}
