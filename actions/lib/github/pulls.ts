// Pull requests through the GitHub port: one record per PR read, one record
// per child PR, one reader of a parent's children, create-or-adopt and one
// merge bound to a head SHA.

import { setTimeout as sleep } from 'node:timers/promises'
import { identifyChild, type ChildMarker } from '../children.js'
import type { RepoRef } from '../statuses.js'
import { defaultRetryBaseMs, type GitHubClient } from './client.js'
import { httpStatus, saysAlreadyExists } from './errors.js'

/** A pull request as one `GET /pulls/{n}` shows it. */
export interface PullRequestSnapshot {
  number: number
  state: 'open' | 'closed'
  merged: boolean
  draft: boolean
  title: string
  author: string
  headSha: string
  headRef: string
  /** `owner/name` of the head repository ('' when the fork was deleted). */
  headRepo: string
  baseRef: string
  htmlUrl: string
  createdAt: string
}

export async function getPullRequest(
  client: GitHubClient,
  repo: RepoRef,
  number: number,
): Promise<PullRequestSnapshot> {
  const { data } = await client.rest.pulls.get({ ...repo, pull_number: number })
  return {
    number: data.number,
    state: data.state === 'open' ? 'open' : 'closed',
    merged: data.merged === true,
    draft: data.draft === true,
    title: data.title,
    author: data.user?.login ?? '',
    headSha: data.head.sha,
    headRef: data.head.ref,
    headRepo: data.head.repo?.full_name ?? '',
    baseRef: data.base.ref,
    htmlUrl: data.html_url,
    createdAt: data.created_at,
  }
}

/**
 * Reads an open pull request until GitHub has computed its test merge
 * (refs/pull/N/merge) on the current base: after its base moved, a read
 * starts that as a background job and `mergeable` is null until it is done.
 * False when it still is after `reads` reads (1, 2, 4 … s apart).
 */
export async function awaitTestMerge(
  client: GitHubClient,
  repo: RepoRef,
  number: number,
  reads = 5,
): Promise<boolean> {
  for (let read = 0; read < reads; read++) {
    if (read > 0) await sleep(defaultRetryBaseMs() * 2 ** (read - 1))
    const { data } = await client.rest.pulls.get({ ...repo, pull_number: number })
    if (data.state !== 'open' || data.mergeable !== null) return true
  }
  return false
}

/** A pull request as a listing shows it. */
export interface PullSummary {
  number: number
  state: 'open' | 'closed'
  merged: boolean
  draft: boolean
  title: string
  body: string | null
  headRef: string
  headSha: string
  headRepo: string
  baseRef: string
  htmlUrl: string
  labels: string[]
  updatedAt: string
}

type ListedPull = Awaited<ReturnType<GitHubClient['rest']['pulls']['list']>>['data'][number]
type CreatedPull = Awaited<ReturnType<GitHubClient['rest']['pulls']['create']>>['data']

function summary(pull: ListedPull | CreatedPull): PullSummary {
  return {
    number: pull.number,
    state: pull.state === 'open' ? 'open' : 'closed',
    merged: pull.merged_at !== null && pull.merged_at !== undefined,
    draft: pull.draft === true,
    title: pull.title,
    body: pull.body ?? null,
    headRef: pull.head.ref,
    headSha: pull.head.sha,
    headRepo: pull.head.repo?.full_name ?? '',
    baseRef: pull.base.ref,
    htmlUrl: pull.html_url,
    labels: pull.labels.map((label) => label.name ?? ''),
    updatedAt: pull.updated_at,
  }
}

/** Every open pull request of the repository (one paginated listing). */
export async function listOpenPulls(client: GitHubClient, repo: RepoRef): Promise<PullSummary[]> {
  const pulls = await client.paginate(client.rest.pulls.list, {
    ...repo,
    state: 'open',
    per_page: 100,
  })
  return pulls.map(summary)
}

/**
 * Open and closed pull requests updated at or after `since`, newest-updated
 * first: the listing stops at the first page that reaches older ones.
 */
export async function listPullsUpdatedSince(
  client: GitHubClient,
  repo: RepoRef,
  since: string,
): Promise<PullSummary[]> {
  const from = Date.parse(since)
  const pulls = await client.paginate(
    client.rest.pulls.list,
    { ...repo, state: 'all', sort: 'updated', direction: 'desc', per_page: 100 },
    (response, done) => {
      const last = response.data[response.data.length - 1]
      if (last && Date.parse(last.updated_at) < from) done()
      return response.data
    },
  )
  const seen = new Set<number>()
  // Pages shift while PRs are updated: a PR can appear twice.
  return pulls.filter((pull) => !seen.has(pull.number) && seen.add(pull.number)).map(summary)
}

/** One child pull request of a parent. */
export interface ChildPr {
  environment: string
  parent: number
  number: number
  url: string
  state: 'open' | 'closed'
  merged: boolean
  title: string
  body: string
  /** The child branch and its head commit. */
  branch: string
  headSha: string
  /** The WET branch it merges into. */
  base: string
  labels: string[]
  /** Present only when the body's marker agrees with the branch and base. */
  marker?: ChildMarker
  /**
   * A child of a shared WET branch: its unit (the branch part of its name).
   * It is listed once per environment whose folder it holds, as that environment.
   */
  unit?: string
  /** A child of a shared WET branch: the environment's folder on it (from the marker). */
  folder?: string
}

/** A pull request as the child (or children: one per folder of a shared branch) it is. */
function asChild(pull: PullSummary, repo: RepoRef): ChildPr[] {
  const child = identifyChild(
    {
      number: pull.number,
      body: pull.body,
      head: { ref: pull.headRef, repo: { full_name: pull.headRepo } },
      base: { ref: pull.baseRef },
    },
    `${repo.owner}/${repo.repo}`,
  )
  if (!child) return []
  const one: ChildPr = {
    environment: child.environment,
    parent: child.parent,
    number: pull.number,
    url: pull.htmlUrl,
    state: pull.state,
    merged: pull.merged,
    title: pull.title,
    body: pull.body ?? '',
    branch: pull.headRef,
    headSha: pull.headSha,
    base: pull.baseRef,
    labels: pull.labels,
    ...(child.marker ? { marker: child.marker } : {}),
  }
  const held = child.marker?.environments
  if (!held) return [one]
  const folders = child.marker?.folders ?? {}
  return held.map((environment) => {
    const folder = folders[environment]
    return { ...one, environment, unit: child.environment, ...(folder ? { folder } : {}) }
  })
}

/** Every child PR among `pulls`, of any parent. */
export function allChildren(pulls: readonly PullSummary[], repo: RepoRef): ChildPr[] {
  return pulls.flatMap((pull) => asChild(pull, repo))
}

/**
 * The parent's children among `pulls`, by branch name (the marker only adds
 * metadata), sorted by environment, then newest first.
 */
export function childrenOf(
  pulls: readonly PullSummary[],
  repo: RepoRef,
  parent: number,
): ChildPr[] {
  return pulls
    .flatMap((pull) => asChild(pull, repo))
    .filter((child) => child.parent === parent)
    .sort((a, b) => a.environment.localeCompare(b.environment) || b.number - a.number)
}

export interface NewPull {
  title: string
  body: string
  head: string
  base: string
}

/** Opens a child PR; when one already exists for the branch (a retried POST), adopts it. */
export async function createOrAdoptChildPr(
  client: GitHubClient,
  repo: RepoRef,
  parent: number,
  pr: NewPull,
): Promise<{ child: ChildPr; adopted: boolean }> {
  let pull: PullSummary | undefined
  let adopted = false
  try {
    const { data } = await client.rest.pulls.create({
      ...repo,
      ...pr,
      maintainer_can_modify: false,
    })
    pull = summary(data)
  } catch (error) {
    // GitHub answers 422 "A pull request already exists for <owner>:<head>"
    // when our own earlier POST (whose answer was lost) or run opened it.
    if (!saysAlreadyExists(error)) throw error
    const { data } = await client.rest.pulls.list({
      ...repo,
      state: 'open',
      head: `${repo.owner}:${pr.head}`,
      per_page: 100,
    })
    const found = data.find((p) => p.head.ref === pr.head)
    if (!found) throw error
    pull = summary(found)
    adopted = true
  }
  // One entry per environment for a shared branch's child; the caller needs the pull request.
  const child = asChild(pull, repo)[0]
  if (!child || child.parent !== parent)
    throw new Error(`#${pull.number} (${pr.head}) is not a child branch of #${parent}`)
  return { child, adopted }
}

export async function updatePull(
  client: GitHubClient,
  repo: RepoRef,
  number: number,
  change: { title?: string; body?: string; base?: string },
): Promise<void> {
  await client.rest.pulls.update({ ...repo, pull_number: number, ...change })
}

/** Closes a pull request; false when GitHub refuses because it was merged or closed meanwhile (422). */
export async function closePull(
  client: GitHubClient,
  repo: RepoRef,
  number: number,
  options: { ignoreFinished?: boolean } = {},
): Promise<boolean> {
  try {
    await client.rest.pulls.update({ ...repo, pull_number: number, state: 'closed' })
    return true
  } catch (error) {
    // GitHub answers 422 when the PR cannot change state (merged, or closed meanwhile).
    if (options.ignoreFinished && httpStatus(error) === 422) return false
    throw error
  }
}

export async function addLabels(
  client: GitHubClient,
  repo: RepoRef,
  number: number,
  labels: readonly string[],
): Promise<void> {
  await client.rest.issues.addLabels({ ...repo, issue_number: number, labels: [...labels] })
}

export type MergeResult =
  | { merged: true; sha: string }
  /** 409: the head is no longer `sha`; nothing was merged. */
  | { merged: false; reason: 'head-moved'; message: string }
  /** 405 (not mergeable: conflicts, checks, already merged) or 422 (invalid): nothing was merged. */
  | { merged: false; reason: 'refused'; message: string }

/** Merges a pull request only if its head is still `sha` (GitHub checks `sha` atomically). */
export async function mergeAtSha(
  client: GitHubClient,
  repo: RepoRef,
  merge: { number: number; sha: string; title: string },
): Promise<MergeResult> {
  try {
    const { data } = await client.rest.pulls.merge({
      ...repo,
      pull_number: merge.number,
      sha: merge.sha,
      merge_method: 'merge',
      commit_title: merge.title,
    })
    return { merged: true, sha: data.sha }
  } catch (error) {
    const status = httpStatus(error)
    const message = (error as Error).message
    if (status === 409) return { merged: false, reason: 'head-moved', message }
    if (status === 405 || status === 422) return { merged: false, reason: 'refused', message }
    throw error
  }
}

export interface Review {
  login: string
  state: string
  commitId: string
}

export async function listReviews(
  client: GitHubClient,
  repo: RepoRef,
  number: number,
): Promise<Review[]> {
  const reviews = await client.paginate(client.rest.pulls.listReviews, {
    ...repo,
    pull_number: number,
    per_page: 100,
  })
  return reviews.map((review) => ({
    login: review.user?.login ?? '',
    state: review.state,
    commitId: review.commit_id ?? '',
  }))
}
