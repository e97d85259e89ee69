// Checks before a promotion, all read live from GitHub (never from the event
// payload, which a re-run replays with stale data) and all fail-closed: an
// unknown role, a missing status or an unreadable answer refuses.

import type { FleetConfig, Permission, StageConfig } from '../lib/config/types.js'
import { environmentContext, type CommitStatus, type RepoRef } from '../lib/statuses.js'
import type { GitHubClient } from '../lib/github/client.js'
import { getPullRequest, listReviews, type PullRequestSnapshot } from '../lib/github/pulls.js'
import { collaboratorPermission } from '../lib/github/repos.js'

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

/** Whether `number` is a pull request (issue comments arrive for issues too). */
export function isFork(pull: PullRequestSnapshot, repo: RepoRef): boolean {
  return pull.headRepo.toLowerCase() !== `${repo.owner}/${repo.repo}`.toLowerCase()
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
export async function approversOf(
  client: GitHubClient,
  repo: RepoRef,
  pull: PullRequestSnapshot,
  sha: string,
): Promise<string[]> {
  const latest = new Map<string, { state: string; commitId: string }>()
  for (const review of await listReviews(client, repo, pull.number)) {
    const login = review.login
    if (!login || login === pull.author) continue
    if (!['APPROVED', 'CHANGES_REQUESTED', 'DISMISSED'].includes(review.state)) continue
    latest.set(login, { state: review.state, commitId: review.commitId })
  }
  return [...latest]
    .filter(([, review]) => review.state === 'APPROVED' && review.commitId === sha)
    .map(([login]) => login)
    .sort()
}

export interface Refusal {
  /** One sentence for the reply and the `reason` output. */
  reason: string
}

export interface ActorCheckInput {
  login: string
  /** `User` or `Bot`, from the event. */
  type?: string
  /** Minimum role for everything this command does. */
  minimum: Permission
  config: FleetConfig
  /** `--allow-deletions` also needs maintain. */
  allowDeletions?: boolean
}

/** Bot allowlist and live repository role. */
export async function checkActor(
  client: GitHubClient,
  repo: RepoRef,
  input: ActorCheckInput,
): Promise<Refusal | undefined> {
  if (isBot(input.login, input.type)) {
    if (!input.config.promote.allowBots.includes(input.login)) {
      return { reason: `${input.login} is a bot and not in promote.allowBots` }
    }
  }
  const role = await repositoryRole(client, repo, input.login)
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

/** Approvals on the pinned SHA for every stage that needs them. */
export async function checkApprovals(
  client: GitHubClient,
  repo: RepoRef,
  pull: PullRequestSnapshot,
  sha: string,
  stages: readonly StageConfig[],
): Promise<Refusal | undefined> {
  const needed = Math.max(0, ...stages.map((stage) => stage.approvals))
  if (needed === 0) return undefined
  const approvers = await approversOf(client, repo, pull, sha)
  if (approvers.length >= needed) return undefined
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

/** Right before acting: the head must still be the pinned SHA. */
export async function recheckHead(
  client: GitHubClient,
  repo: RepoRef,
  number: number,
  pinned: string,
): Promise<Refusal | undefined> {
  const now = await getPullRequest(client, repo, number)
  if (now.headSha === pinned) return undefined
  return {
    reason: `ref changed: the head of #${number} moved from ${pinned.slice(0, 7)} to ${now.headSha.slice(0, 7)} after the command; comment again`,
  }
}
