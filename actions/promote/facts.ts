// Everything a promotion decision needs, read live into one plain record
// (never from the event payload, which a re-run replays with stale data).
// gates.ts decides over this record alone; nothing here decides.

import { stageFor } from '../lib/config/config.js'
import type { FleetConfig, StageConfig } from '../lib/config/types.js'
import type { GitHubClient } from '../lib/github/client.js'
import {
  childrenOf,
  getPullRequest,
  listOpenPulls,
  listReviews,
  type ChildPr,
  type PullRequestSnapshot,
  type PullSummary,
  type Review,
} from '../lib/github/pulls.js'
import { collaboratorPermission } from '../lib/github/repos.js'
import { latestStatuses } from '../lib/github/statuses.js'
import { readLock, type HeldLock } from '../lib/locks.js'
import type { CommitStatus, RepoRef } from '../lib/statuses.js'
import type { Command } from './commands.js'
import { approversAmong, effectiveRole, type Role } from './gates.js'
import type { Actor, RunState, Trigger } from './run.js'

export type PromoteCommand = Extract<Command, { kind: 'promote' }>

/** An environment the PR impacts (one open child PR), with its stage from the base configuration. */
export interface Impacted {
  environment: string
  stage: StageConfig
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
  /** The actor's live repository role; absent for auto-promotion, where the suite acts. */
  role?: Role
  /** The PR's reviews, read when any stage needs approvals. */
  reviews: readonly Review[]
  /** The latest status per context on the pinned head. */
  statuses: ReadonlyMap<string, CommitStatus>
  /** Locks held on impacted environments, read for a dry run (a real run takes them). */
  locks: ReadonlyMap<string, HeldLock>
  /** Whether an Argo CD token was given (an `argocd` stage needs it). */
  argocdToken: boolean
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

export async function gatherPromoteFacts(
  state: RunState,
  command: PromoteCommand,
): Promise<PromoteFacts> {
  const { settings, pull, config, trigger } = state
  const { client, repo } = settings
  const pulls = await listOpenPulls(client, repo)
  const impacted = impactedOf(config, repo, pull.number, pulls)
  const needsReviews = config.stages.some((stage) => stage.approvals > 0)
  const [role, reviews, statuses, locks] = await Promise.all([
    trigger.kind === 'auto' ? undefined : repositoryRole(client, repo, trigger.actor.login),
    needsReviews ? listReviews(client, repo, pull.number) : [],
    latestStatuses(client, repo, pull.headSha),
    command.noop ? readLocks(client, repo, impacted) : new Map<string, HeldLock>(),
  ])
  return {
    trigger: trigger.kind,
    actor: trigger.actor,
    command,
    repo,
    pull,
    config,
    pulls,
    impacted,
    ...(role !== undefined ? { role } : {}),
    reviews,
    statuses,
    locks,
    argocdToken: settings.argocd !== undefined,
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

async function readLocks(
  client: GitHubClient,
  repo: RepoRef,
  envs: readonly Impacted[],
): Promise<Map<string, HeldLock>> {
  const locks = new Map<string, HeldLock>()
  for (const env of envs) {
    const held = await readLock(client, repo, env.environment)
    if (held) locks.set(env.environment, held)
  }
  return locks
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
