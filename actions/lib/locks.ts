// Environment locks, held by a parent pull request (not by a person).
//
// A lock is the branch `fleet-promote-lock/<environment>` pointing at a
// parentless commit whose tree holds `lock.json`. A run takes the locks of a
// whole stage in ONE `git push --atomic`, every ref leased on "must not
// exist": of two runs racing for an environment exactly one push succeeds,
// and a rejected push takes nothing. It gives them back the same way, each
// deletion leased on the very commit it created. Reads are one fetch of every
// lock ref. No REST call per environment.
//
// Every lock records a random `id` per acquisition, so a run can tell a lock
// it created from one that was already held by the same PR in an earlier run:
// a failed run releases only the former.

import { randomUUID } from 'node:crypto'
import { PushRejectedError, type Git } from './git/git.js'
import { BOT_IDENTITY } from './git/wet-commit.js'
import type { GitHubClient } from './github/client.js'
import { NotAFileError, readFileAt } from './github/contents.js'
import { branchTip, branchesWithPrefix, deleteBranch } from './github/git-data.js'
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
  /** Every lock is this PR's now: `created` by this call, the rest already held from an earlier run. */
  | { status: 'acquired'; created: HeldLock[] }
  /** Another PR (or an unreadable lock) holds `held`: nothing was taken. */
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

/** Where lock refs live, for git: a scratch repository to build lock commits in, and the remote. */
export interface LockRemote {
  git: Git
  /** The repository's git URL (or a remote name). */
  remote: string
}

const LOCAL_LOCKS = 'refs/fleet-promote-locks/'
const LOCAL_NEW = 'refs/fleet-promote-new-locks/'
/** A concurrent run may win a push between our read and our push; then we read again. */
const ACQUIRE_ATTEMPTS = 3

/** Every lock (or those of `environments`): one fetch of the lock refs, one batch read of lock.json. */
export async function heldLocks(
  at: LockRemote,
  environments?: Iterable<string>,
): Promise<Map<string, HeldLock>> {
  const wanted = environments ? new Set(environments) : undefined
  await at.git.fetch(at.remote, [`+refs/heads/${LOCK_BRANCH_PREFIX}*:${LOCAL_LOCKS}*`], {
    prune: true,
  })
  const refs = await at.git.localRefs(LOCAL_LOCKS)
  const found = [...refs]
    .map(([ref, commit]) => ({ environment: ref.slice(LOCAL_LOCKS.length), commit }))
    .filter((lock) => lock.environment && (!wanted || wanted.has(lock.environment)))
  const blobs = await at.git.blobIds(found.map((lock) => `${lock.commit}:${LOCK_FILE}`))
  const texts = await at.git.readBlobs(blobs.filter((oid) => oid !== undefined))
  const held = new Map<string, HeldLock>()
  found.forEach((lock, index) => {
    const text = texts.get(blobs[index] ?? '')
    const info = text === undefined ? undefined : parseLock(text)
    held.set(lock.environment, { ...lock, ...(info ? { lock: info } : {}) })
  })
  return held
}

function parseLock(text: string): LockInfo | undefined {
  try {
    return toLockInfo(JSON.parse(text))
  } catch {
    // A lock commit someone else shaped (no readable lock.json) still holds the lock.
    return undefined
  }
}

/** The refs and leases of one atomic push, for a caller that adds its own updates to it. */
export interface PushPlan {
  refspecs: string[]
  leases: { ref: string; expect: string }[]
}

/** Makes `plan`'s ref updates in one atomic push: every one, each leased, or none. */
export async function pushAtomically(at: LockRemote, plan: PushPlan): Promise<void> {
  await at.git.push(at.remote, plan.refspecs, { atomic: true, leases: plan.leases })
}

export type LockPlan =
  | { status: 'conflict'; held: HeldLock }
  /** `push` takes `created` (empty when every lock is this PR's already). */
  | { status: 'acquired'; created: HeldLock[]; push: PushPlan }

/**
 * Reads the locks of `environments` and builds the commits of those missing:
 * pushing `push` atomically takes them, each ref leased on "must not exist".
 */
export async function planLocks(
  at: LockRemote,
  environments: readonly string[],
  options: AcquireOptions,
): Promise<LockPlan> {
  const sorted = [...new Set(environments)].sort()
  const held = await heldLocks(at, sorted)
  const taken = sorted.map((env) => held.get(env)).find((h) => h && h.lock?.pr !== options.pr)
  if (taken) return { status: 'conflict', held: taken }
  const missing = sorted.filter((env) => !held.has(env))
  const created = missing.length === 0 ? [] : await buildLockCommits(at.git, missing, options)
  const ref = (lock: HeldLock) => `refs/heads/${lockBranch(lock.environment)}`
  return {
    status: 'acquired',
    created,
    push: {
      refspecs: created.map((lock) => `${lock.commit}:${ref(lock)}`),
      leases: created.map((lock) => ({ ref: ref(lock), expect: '' })),
    },
  }
}

/**
 * Takes the locks of `environments` for `options.pr` in one atomic push:
 * all of them, or (when another PR holds one) none.
 */
export async function acquireLocks(
  at: LockRemote,
  environments: readonly string[],
  options: AcquireOptions,
): Promise<AcquireResult> {
  for (let attempt = 1; ; attempt++) {
    const plan = await planLocks(at, environments, options)
    if (plan.status === 'conflict') return plan
    if (plan.created.length === 0) return { status: 'acquired', created: [] }
    try {
      await pushAtomically(at, plan.push)
      return { status: 'acquired', created: plan.created }
    } catch (error) {
      if (!(error instanceof PushRejectedError) || attempt >= ACQUIRE_ATTEMPTS) throw error
    }
  }
}

/** Parentless lock commits, one per environment, built by one `git fast-import`. */
async function buildLockCommits(
  git: Git,
  environments: readonly string[],
  options: AcquireOptions,
): Promise<HeldLock[]> {
  const now = options.now?.() ?? new Date()
  const seconds = Math.floor(now.getTime() / 1000)
  const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`
  const locks = environments.map((environment) => ({
    environment,
    lock: {
      pr: options.pr,
      actor: options.actor,
      reason: options.reason,
      sha: options.sha,
      createdAt: now.toISOString(),
      id: randomUUID(),
    } satisfies LockInfo,
  }))
  const stream = locks
    .map(
      ({ environment, lock }) =>
        `commit ${LOCAL_NEW}${environment}\n` +
        `committer ${BOT_IDENTITY.name} <${BOT_IDENTITY.email}> ${seconds} +0000\n` +
        data(`fleet-promote: lock ${environment} for #${options.pr}`) +
        `M 100644 inline ${LOCK_FILE}\n` +
        data(`${JSON.stringify(lock, null, 2)}\n`),
    )
    .join('')
  await git.run(['fast-import', '--quiet', '--force'], stream)
  const refs = await git.localRefs(LOCAL_NEW)
  return locks.map(({ environment, lock }) => {
    const commit = refs.get(`${LOCAL_NEW}${environment}`)
    if (!commit) throw new Error(`git fast-import did not create the lock commit of ${environment}`)
    return { environment, commit, lock }
  })
}

/**
 * Gives back locks in one atomic push, each deletion leased on the commit the
 * caller holds, so a lock taken anew since is never removed. When the push is
 * refused (one lock moved), the locks still at their commit are given back
 * alone. Returns the environments released.
 */
export async function releaseLocks(at: LockRemote, locks: readonly HeldLock[]): Promise<string[]> {
  const push = (batch: readonly HeldLock[]) =>
    at.git.push(
      at.remote,
      batch.map((lock) => `:refs/heads/${lockBranch(lock.environment)}`),
      {
        atomic: true,
        leases: batch.map((lock) => ({
          ref: `refs/heads/${lockBranch(lock.environment)}`,
          expect: lock.commit,
        })),
      },
    )
  if (locks.length === 0) return []
  try {
    await push(locks)
    return locks.map((lock) => lock.environment)
  } catch (error) {
    if (!(error instanceof PushRejectedError)) throw error
  }
  const now = await heldLocks(
    at,
    locks.map((lock) => lock.environment),
  )
  const still = locks.filter((lock) => now.get(lock.environment)?.commit === lock.commit)
  if (still.length > 0) await push(still)
  return still.map((lock) => lock.environment)
}
