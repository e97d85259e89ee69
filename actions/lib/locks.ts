// Environment locks, held by a parent pull request (not by a person).
//
// A lock is the branch `fleet-promote-lock/<environment>` pointing at a
// parentless commit whose tree holds `lock.json`. It is created through the
// git data API: blob+tree and commit first, then `POST /git/refs`, which
// GitHub answers with 422 when the ref already exists. That POST is the
// atomic step: of two runs racing for one environment exactly one creates the
// ref. The API needs only the token, no clone, and works from any event.
//
// Every lock records a random `id` per acquisition, so a run can tell a lock
// it created (even when a retried POST answered 422 for its own first
// attempt) from one that was already held by the same PR in an earlier run:
// a failed run releases only the former.

import { randomUUID } from 'node:crypto'
import type { GitHubClient } from './github/client.js'
import { NotAFileError, readFileAt } from './github/contents.js'
import {
  branchTip,
  branchesWithPrefix,
  createBranch,
  createRootCommit,
  deleteBranch,
} from './github/git-data.js'
import type { RepoRef } from './statuses.js'

export const LOCK_BRANCH_PREFIX = 'fleet-promote-lock/'
export const LOCK_FILE = 'lock.json'

export interface LockInfo {
  /** The parent PR holding the lock. */
  pr: number
  /** Who took it (commenter, dispatcher or the automation). */
  actor: string
  reason: string
  /** The parent head SHA it was taken for. */
  sha: string
  createdAt: string
  /** Unique per acquisition. */
  id: string
}

export interface HeldLock {
  environment: string
  /** The lock commit the ref points at. */
  commit: string
  /** Undefined when the ref exists but its lock.json is missing or unreadable. */
  lock?: LockInfo
}

export type AcquireResult =
  /** This call created the lock. */
  | { status: 'acquired'; held: HeldLock }
  /** The same PR already held it (from an earlier run): nothing changed. */
  | { status: 'already-held'; held: HeldLock }
  /** Another PR (or an unreadable lock) holds it. */
  | { status: 'conflict'; held: HeldLock }

export type ReleaseResult = 'released' | 'absent' | 'conflict'

export function lockBranch(environment: string): string {
  return `${LOCK_BRANCH_PREFIX}${environment}`
}

/** "locked by #12 (alice, change freeze)" */
export function describeHolder(held: HeldLock): string {
  if (!held.lock) return `locked by an unreadable lock (branch ${lockBranch(held.environment)})`
  const why = held.lock.reason ? `, ${held.lock.reason}` : ''
  return `locked by #${held.lock.pr} (${held.lock.actor}${why})`
}

export async function readLock(
  client: GitHubClient,
  repo: RepoRef,
  environment: string,
): Promise<HeldLock | undefined> {
  const commit = await branchTip(client, repo, lockBranch(environment))
  if (commit === undefined) return undefined
  return { environment, commit, ...(await readLockFile(client, repo, commit)) }
}

async function readLockFile(
  client: GitHubClient,
  repo: RepoRef,
  commit: string,
): Promise<{ lock?: LockInfo }> {
  try {
    const text = await readFileAt(client, repo, LOCK_FILE, commit)
    const lock = text === undefined ? undefined : toLockInfo(JSON.parse(text))
    return lock ? { lock } : {}
  } catch (error) {
    // A lock commit someone else shaped (no readable lock.json) still holds the lock.
    if (error instanceof NotAFileError || error instanceof SyntaxError) return {}
    throw error
  }
}

function toLockInfo(value: unknown): LockInfo | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const v = value as Record<string, unknown>
  if (!Number.isSafeInteger(v.pr) || (v.pr as number) < 1) return undefined
  for (const key of ['actor', 'reason', 'sha', 'createdAt', 'id']) {
    if (typeof v[key] !== 'string') return undefined
  }
  return {
    pr: v.pr as number,
    actor: v.actor as string,
    reason: v.reason as string,
    sha: v.sha as string,
    createdAt: v.createdAt as string,
    id: v.id as string,
  }
}

export interface AcquireOptions {
  pr: number
  actor: string
  reason: string
  sha: string
  now?: () => Date
}

export async function acquireLock(
  client: GitHubClient,
  repo: RepoRef,
  environment: string,
  options: AcquireOptions,
): Promise<AcquireResult> {
  const existing = await readLock(client, repo, environment)
  if (existing) return classify(existing, options.pr)

  const lock: LockInfo = {
    pr: options.pr,
    actor: options.actor,
    reason: options.reason,
    sha: options.sha,
    createdAt: (options.now?.() ?? new Date()).toISOString(),
    id: randomUUID(),
  }
  const commit = await createRootCommit(
    client,
    repo,
    `fleet-promote: lock ${environment} for #${options.pr}`,
    { [LOCK_FILE]: `${JSON.stringify(lock, null, 2)}\n` },
  )
  if (await createBranch(client, repo, lockBranch(environment), commit)) {
    return { status: 'acquired', held: { environment, commit, lock } }
  }
  // Someone created it between our read and our create, or our own retried POST did.
  const winner = await readLock(client, repo, environment)
  if (!winner)
    throw new Error(`the lock of ${environment} was created and removed while acquiring it; retry`)
  if (winner.lock?.id === lock.id) return { status: 'acquired', held: winner }
  return classify(winner, options.pr)
}

function classify(held: HeldLock, pr: number): AcquireResult {
  return held.lock?.pr === pr ? { status: 'already-held', held } : { status: 'conflict', held }
}

/**
 * Deletes the lock only when `pr` holds it (and, with `id`, only the very
 * acquisition that created it). The API has no conditional delete: the
 * window between the read and the delete is one round trip, and only a run
 * of the holding PR ever deletes, so another PR's lock cannot appear there
 * unless the holder's own runs race each other.
 */
export async function releaseLock(
  client: GitHubClient,
  repo: RepoRef,
  environment: string,
  pr: number,
  id?: string,
): Promise<ReleaseResult> {
  const held = await readLock(client, repo, environment)
  if (!held) return 'absent'
  if (held.lock?.pr !== pr || (id !== undefined && held.lock.id !== id)) return 'conflict'
  return (await deleteBranch(client, repo, lockBranch(environment))) ? 'released' : 'absent'
}

/** Every lock in the repository. */
export async function listLocks(client: GitHubClient, repo: RepoRef): Promise<HeldLock[]> {
  const locks: HeldLock[] = []
  for (const { branch, sha } of await branchesWithPrefix(client, repo, LOCK_BRANCH_PREFIX)) {
    const environment = branch.slice(LOCK_BRANCH_PREFIX.length)
    if (!environment) continue
    locks.push({ environment, commit: sha, ...(await readLockFile(client, repo, sha)) })
  }
  return locks
}

/** The locks held on `environments`: one listing, then a read of each held one. */
export async function locksOf(
  client: GitHubClient,
  repo: RepoRef,
  environments: Iterable<string>,
): Promise<Map<string, HeldLock>> {
  const wanted = new Set(environments)
  const locks = new Map<string, HeldLock>()
  for (const { branch, sha } of await branchesWithPrefix(client, repo, LOCK_BRANCH_PREFIX)) {
    const environment = branch.slice(LOCK_BRANCH_PREFIX.length)
    if (!wanted.has(environment)) continue
    locks.set(environment, { environment, commit: sha, ...(await readLockFile(client, repo, sha)) })
  }
  return locks
}

/** Releases every lock `pr` holds (merge-cleanup); returns the environments released. */
export async function releaseLocksOfPullRequest(
  client: GitHubClient,
  repo: RepoRef,
  pr: number,
): Promise<string[]> {
  const released: string[] = []
  for (const held of await listLocks(client, repo)) {
    if (held.lock?.pr !== pr) continue
    if ((await releaseLock(client, repo, held.environment, pr)) === 'released')
      released.push(held.environment)
  }
  return released
}
