// Everything a promotion decision needs, read live into one plain record
// (never from the event payload, which a re-run replays with stale data).
// gates.ts decides over this record alone; nothing here decides.

import { environmentsWithStatus } from '../lib/aggregate.js'
import { discoverEnvironments, stageFor } from '../lib/config/config.js'
import type { FleetConfig, StageConfig } from '../lib/config/types.js'
import type { GitHubClient } from '../lib/github/client.js'
import {
  allChildren,
  childrenOf,
  getPullRequest,
  listOpenPulls,
  listReviews,
  type ChildPr,
  type PullRequestSnapshot,
  type PullSummary,
  type Review,
} from '../lib/github/pulls.js'
import { errorMessage } from '../lib/errors.js'
import { transientAs } from '../lib/github/errors.js'
import { branchTip, branchTips, filesAt } from '../lib/github/git-data.js'
import { collaboratorPermission } from '../lib/github/repos.js'
import { readStatuses } from '../lib/github/status-board.js'
import { locksOf, type HeldLock } from '../lib/locks.js'
import { environmentContext, type CommitStatus, type RepoRef } from '../lib/statuses.js'
import type { Command } from './commands.js'
import { readRequiredStageRuns, type RequiredStageRuns } from './required-stages.js'
import { approversAmong, effectiveRole, type Role } from './gates.js'
import { verifyToken, type Actor, type RunState, type Trigger } from './run.js'

export type PromoteCommand = Extract<Command, { kind: 'promote' }>

/**
 * An environment the PR impacts, with its stage from the base configuration:
 * an open child PR, or only a status on the head (its child was merged, or
 * there is nothing to deploy).
 */
export interface PullEnvironment {
  environment: string
  stage: StageConfig
  child?: ChildPr
}

/** An impacted environment with an open child PR: one that can be deployed. */
export interface Impacted extends PullEnvironment {
  child: ChildPr
}

export interface PromoteFacts {
  trigger: Trigger['kind']
  actor: Actor
  command: PromoteCommand
  repo: RepoRef
  /** The PR as read at the start; its head is the SHA the command is pinned to. */
  pull: PullRequestSnapshot
  config: FleetConfig
  /** Every open PR of the repository (one listing), for the children and the aggregate. */
  pulls: readonly PullSummary[]
  impacted: Impacted[]
  /** Environments with a status on the head but no open child PR (merged, or nothing to deploy). */
  finished: PullEnvironment[]
  /** The actor's live repository role; absent for auto-promotion, where the suite acts. */
  role?: Role
  /** The PR's reviews, read when a stage the command can reach needs approvals (`reviewsNeeded`). */
  reviews: readonly Review[]
  /** The latest status per context on the pinned head. */
  statuses: ReadonlyMap<string, CommitStatus>
  /** Locks held on impacted environments, read for a dry run (a real run takes them and finds out). */
  locks: ReadonlyMap<string, HeldLock>
  /** What the WET branches of required stages this PR does not impact run (`requiredStages: wet-branches`). */
  requiredRuns: ReadonlyMap<string, RequiredStageRuns>
  /** Whether an Argo CD token was given (an `argocd` stage needs it). */
  argocdToken: boolean
  /** The `tokenEnv` names of the configured verify checks that have a value (verify-env or the step's env). */
  verifyTokens: ReadonlySet<string>
  /** Tips of the impacted children's WET branches now (absent: no such branch), to spot stale children. */
  wetTips: ReadonlyMap<string, string>
  /**
   * The base branch tip now ('' when it is gone), read only when a child was
   * built after the base had moved past its render's DRY base (its marker's `baseMovedTo`).
   */
  baseTip?: string
  /**
   * Open children of parents that are no longer open (merged or closed, their
   * closed workflow not run yet), from the open pull request listing.
   */
  unlanded: readonly UnlandedChild[]
  /**
   * Where the base branch's configuration puts each environment on its WET
   * branch, over the pinned head's tree (then the base tip's, for one only
   * there): its branch and folder ('' for the branch root). Read only when a
   * child or the configuration has folders: the child's marker, which anyone
   * with write access can edit, then only has to agree. `problem`: why it
   * could not be read.
   */
  places?: ReadonlyMap<string, WetPlace> | { problem: string }
}

/** An environment's branch and folder ('' for the branch root) on the WET side. */
export interface WetPlace {
  branch: string
  folder: string
}

/** An open child whose parent is closed: what it holds is not on its WET branch yet. */
export interface UnlandedChild {
  environment: string
  parent: number
  /** Its WET branch. */
  base: string
}

/** The PR's impacted environments (its open children) with their stage from the base configuration. */
export function impactedOf(
  config: FleetConfig,
  repo: RepoRef,
  parent: number,
  pulls: readonly PullSummary[],
): Impacted[] {
  const impacted: Impacted[] = []
  for (const child of childrenOf(pulls, repo, parent)) {
    const stage = stageFor(config, child.environment)
    if (stage) impacted.push({ environment: child.environment, stage, child })
  }
  return impacted
}

/** Open children among `pulls` whose parent pull request is not among them (closed or merged). */
export function unlandedOf(pulls: readonly PullSummary[], repo: RepoRef): UnlandedChild[] {
  const open = new Set(pulls.filter((pull) => pull.state === 'open').map((pull) => pull.number))
  return allChildren(pulls, repo)
    .filter((child) => child.state === 'open' && !open.has(child.parent))
    .map((child) => ({ environment: child.environment, parent: child.parent, base: child.base }))
}

/** Environments with a `fleet-promote/<environment>` status on the head but no open child. */
export function finishedOf(
  config: FleetConfig,
  impacted: readonly Impacted[],
  statuses: ReadonlyMap<string, CommitStatus>,
): PullEnvironment[] {
  const open = new Set(impacted.map((env) => env.environment))
  const finished: PullEnvironment[] = []
  for (const environment of environmentsWithStatus(statuses.keys()).sort()) {
    const stage = stageFor(config, environment)
    if (stage && !open.has(environment)) finished.push({ environment, stage })
  }
  return finished
}

/**
 * Each environment's WET place under `config`, from the first of `trees`
 * that has it (the pinned head, then the base tip); a truncated tree or a
 * configuration that does not resolve is a problem, never a guess.
 */
export function placesOf(
  config: FleetConfig,
  trees: readonly { ref: string; files: readonly string[]; truncated: boolean }[],
): ReadonlyMap<string, WetPlace> | { problem: string } {
  const places = new Map<string, WetPlace>()
  for (const tree of trees) {
    if (tree.truncated)
      return {
        problem: `GitHub truncated the file list of ${tree.ref}; its environments are unknown`,
      }
    try {
      for (const env of discoverEnvironments(config, tree.files, { allowUnmatched: true }))
        if (!places.has(env.name))
          places.set(env.name, { branch: env.branch, folder: env.folder ?? '' })
    } catch (error) {
      return {
        problem: `the configuration does not resolve at ${tree.ref}: ${errorMessage(error)}`,
      }
    }
  }
  return places
}

/** Whether a folder could be at stake: a child of a shared WET branch, or a `path` rule. */
export function needsPlaces(config: FleetConfig, impacted: readonly Impacted[]): boolean {
  return (
    impacted.some((env) => env.child.unit !== undefined || env.child.folder !== undefined) ||
    config.environments.some((rule) => rule.path !== undefined)
  )
}

/**
 * The WET places of the environments, read when `needsPlaces`: the pinned
 * head's tree, and the base tip's only when an environment is not in the
 * head's (its directory was removed): each tree is a full listing of the
 * repository, a large response on a large fleet.
 */
export async function readPlaces(
  client: GitHubClient,
  repo: RepoRef,
  config: FleetConfig,
  pull: PullRequestSnapshot,
  impacted: readonly Impacted[],
): Promise<PromoteFacts['places']> {
  if (!needsPlaces(config, impacted)) return undefined
  const tree = async (ref: string, what: string, label: string) => ({
    ref: label,
    ...(await transientAs(
      `reading the environments of ${what}`,
      're-run the command',
      filesAt(client, repo, ref),
    )),
  })
  const head = await tree(pull.headSha, 'the pinned head', pull.headSha.slice(0, 7))
  const places = placesOf(config, [head])
  if ('problem' in places || impacted.every((env) => places.has(env.environment))) return places
  return placesOf(config, [head, await tree(pull.baseRef, 'the base branch', pull.baseRef)])
}

/**
 * Whether a stage the command can reach needs approvals, so the reviews must
 * be read: a stage name reaches that stage, an environment name the stage
 * the configuration gives it (an environment without one is never
 * selected), a glob or `all` any stage, auto-promotion the autoPromote ones.
 */
export function reviewsNeeded(
  config: FleetConfig,
  trigger: Trigger['kind'],
  command: PromoteCommand,
): boolean {
  const approving = (stages: readonly StageConfig[]) => stages.some((stage) => stage.approvals > 0)
  if (trigger === 'auto') return approving(config.stages.filter((stage) => stage.autoPromote))
  if (command.all) return approving(config.stages)
  return command.targets.some((target) => {
    const stage = config.stages.find((candidate) => candidate.name === target)
    if (stage) return stage.approvals > 0
    if (/[*?]/.test(target)) return approving(config.stages)
    return (stageFor(config, target)?.approvals ?? 0) > 0
  })
}

/** The latest status of an environment on the head. */
export function statusOf(
  statuses: ReadonlyMap<string, CommitStatus>,
  environment: string,
): CommitStatus | undefined {
  return statuses.get(environmentContext(environment))
}

export async function gatherPromoteFacts(
  state: RunState,
  command: PromoteCommand,
): Promise<PromoteFacts> {
  const { settings, pull, config, trigger } = state
  const { client, repo } = settings
  // Each read says what it was for when GitHub fails it, so the reply can too.
  const reading = <T>(what: string, call: Promise<T>) =>
    transientAs(`reading ${what}`, 're-run the command', call)
  const pulls = await reading('the open pull requests', listOpenPulls(client, repo))
  const impacted = impactedOf(config, repo, pull.number, pulls)
  const login = trigger.actor.login
  const [role, reviews, statuses, locks] = await Promise.all([
    trigger.kind === 'auto'
      ? undefined
      : reading(
          `@${login}'s permission on ${repo.owner}/${repo.repo}`,
          repositoryRole(client, repo, login),
        ),
    reviewsNeeded(config, trigger.kind, command)
      ? reading(`the reviews of #${pull.number}`, listReviews(client, repo, pull.number))
      : [],
    reading(
      `the statuses of ${pull.headSha.slice(0, 7)}`,
      readStatuses(client, repo, pull.headSha, config.statuses),
    ),
    command.noop
      ? reading(
          'the environment locks',
          locksOf(
            client,
            repo,
            impacted.map((env) => env.environment),
          ),
        )
      : new Map<string, HeldLock>(),
  ])
  const finished = finishedOf(config, impacted, statuses)
  const built = impacted.filter((env) => env.child.marker?.wetSha !== undefined)
  const behind = impacted.some((env) => env.child.marker?.baseMovedTo !== undefined)
  // One listing for every WET branch; the base branch only when a child needs it.
  const [wetTips, baseTip] = await Promise.all([
    reading(
      'the WET branch tips',
      branchTips(client, repo, [...new Set(built.map((env) => env.child.base))]),
    ),
    behind
      ? reading(`the tip of ${pull.baseRef}`, branchTip(client, repo, pull.baseRef))
      : undefined,
  ])
  const places = await readPlaces(client, repo, config, pull, impacted)
  const requiredRuns = await readRequiredStageRuns(client, repo, {
    config,
    baseRef: pull.baseRef,
    present: new Set([...impacted, ...finished].map((env) => env.stage.name)),
    ...(impacted[0]?.child.marker ? { drySha: impacted[0].child.marker.drySha } : {}),
  })
  return {
    trigger: trigger.kind,
    actor: trigger.actor,
    command,
    repo,
    pull,
    config,
    pulls,
    impacted,
    finished,
    ...(role !== undefined ? { role } : {}),
    reviews,
    statuses,
    locks,
    requiredRuns,
    argocdToken: settings.argocd !== undefined,
    verifyTokens: new Set(
      config.stages
        .flatMap((stage) => [...stage.verify.http, ...stage.verify.prometheus])
        .flatMap((check) => (check.tokenEnv === undefined ? [] : [check.tokenEnv]))
        .filter((name) => verifyToken(settings, name)),
    ),
    wetTips,
    ...(behind ? { baseTip: baseTip ?? '' } : {}),
    unlanded: unlandedOf(pulls, repo),
    ...(places ? { places } : {}),
  }
}

/** The user's role on the repository, live; `none` for non-collaborators. */
export async function repositoryRole(
  client: GitHubClient,
  repo: RepoRef,
  login: string,
): Promise<Role> {
  const permission = await collaboratorPermission(client, repo, login)
  return permission ? effectiveRole(permission) : 'none'
}

/** Logins whose latest decisive review approves exactly `sha`, read live. */
export async function approversOf(
  client: GitHubClient,
  repo: RepoRef,
  pull: PullRequestSnapshot,
  sha: string,
): Promise<string[]> {
  return approversAmong(await listReviews(client, repo, pull.number), pull.author, sha)
}

/** Right before acting: the head must still be the pinned SHA; the reason when it moved. */
export async function recheckHead(
  client: GitHubClient,
  repo: RepoRef,
  number: number,
  pinned: string,
): Promise<{ reason: string } | undefined> {
  const now = await getPullRequest(client, repo, number)
  if (now.headSha === pinned) return undefined
  return {
    reason: `ref changed: the head of #${number} moved from ${pinned.slice(0, 7)} to ${now.headSha.slice(0, 7)} after the command; comment again`,
  }
}
