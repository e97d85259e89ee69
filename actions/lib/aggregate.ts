// The one gate: `fleet-promote/pipeline` on the parent head SHA, computed
// from the per-environment statuses of that SHA.
//
// Which environments count (the impacted set) is re-derived from GitHub on
// every run, as the union of
//   - the `fleet-promote/<environment>` contexts present on the SHA
//     (open-child-prs sets one, pending, per impacted environment; with
//     `statuses: per-stage` they are read from the stage boards), and
//   - the environments of the parent's open child PRs (found by branch name),
//     so a child whose status is missing on this SHA keeps the gate pending, and
//   - the environments a caller names explicitly (open-child-prs' output).
// When that union is empty and nobody named the set, nothing is known about
// this commit yet (e.g. a CI status arrived before open-child-prs ran): the
// gate is left unset, which a required check treats as not passed. The
// aggregate never counts its own context; it is re-posted only when it changes.

import { nameList } from './markdown.js'
import { parseChildBranch } from './children.js'
import type { GitHubClient } from './github/client.js'
import {
  environmentContext,
  PIPELINE_CONTEXT,
  sameStatus,
  statusDescription,
  STATUS_CONTEXT_PREFIX,
  type CommitStatus,
  type RepoRef,
} from './statuses.js'
import { setStatus } from './github/statuses.js'
import { readStatuses } from './github/status-board.js'
import type { StatusesMode } from './status-board.js'
import { childrenOf, listOpenPulls, type PullSummary } from './github/pulls.js'

export { PIPELINE_CONTEXT } from './statuses.js'

export type AggregateState = 'success' | 'failure' | 'pending'

export interface AggregateEnvironment {
  name: string
  state: AggregateState
  description: string
}

export interface AggregateResult {
  state: AggregateState
  description: string
  environments: AggregateEnvironment[]
}

/** Any status list; the first entry per context wins (GitHub lists newest first). */
export interface StatusLike {
  context: string
  state: string
  description?: string | null
}

/**
 * success only when every impacted environment's latest status is success;
 * failure when any is failure or error; pending otherwise. A missing or
 * unknown state is pending, never success. An empty impacted set is success
 * (the caller decides whether an empty set is known).
 */
export function computeAggregate(
  statuses: Iterable<StatusLike>,
  impactedEnvs: Iterable<string>,
): AggregateResult {
  const latest = new Map<string, StatusLike>()
  for (const status of statuses) {
    if (status.context === PIPELINE_CONTEXT) continue
    if (!latest.has(status.context)) latest.set(status.context, status)
  }
  const environments = [...new Set(impactedEnvs)].sort().map((name): AggregateEnvironment => {
    const status = latest.get(environmentContext(name))
    const state: AggregateState =
      status?.state === 'success'
        ? 'success'
        : status?.state === 'failure' || status?.state === 'error'
          ? 'failure'
          : 'pending'
    return { name, state, description: status?.description ?? (status ? '' : 'no status yet') }
  })
  const failed = environments.filter((env) => env.state === 'failure').map((env) => env.name)
  const waiting = environments.filter((env) => env.state === 'pending').map((env) => env.name)
  const succeeded = environments.length - failed.length - waiting.length
  const total = environments.length
  if (total === 0) return { state: 'success', description: 'no environment impacted', environments }
  if (failed.length > 0) {
    return {
      state: 'failure',
      description: statusDescription(
        `failed: ${nameList(failed, 6)} (${succeeded}/${total} succeeded)`,
      ),
      environments,
    }
  }
  if (waiting.length > 0) {
    return {
      state: 'pending',
      description: statusDescription(
        `${succeeded}/${total} succeeded; waiting for ${nameList(waiting, 6)}`,
      ),
      environments,
    }
  }
  return {
    state: 'success',
    description: `all ${total} environment${total === 1 ? '' : 's'} succeeded`,
    environments,
  }
}

/** Environments with a `fleet-promote/<environment>` context among the statuses. */
export function environmentsWithStatus(contexts: Iterable<string>): string[] {
  return [...contexts]
    .filter((context) => context.startsWith(STATUS_CONTEXT_PREFIX) && context !== PIPELINE_CONTEXT)
    .map((context) => context.slice(STATUS_CONTEXT_PREFIX.length))
    .filter((name) => name.length > 0)
}

/** Open parent PRs (not children) whose head is `sha`. */
export function parentsWithHead(pulls: readonly PullSummary[], sha: string): PullSummary[] {
  return pulls.filter(
    (pull) => pull.headSha === sha && parseChildBranch(pull.headRef) === undefined,
  )
}

export interface SetAggregateOptions {
  sha: string
  /** The parent PR, whose open children join the impacted set. */
  parent?: number
  /** Several parents with this head (rare): all their children join the impacted set. */
  parents?: readonly number[]
  /** Environments the caller knows are impacted (open-child-prs' output). */
  impacted?: readonly string[]
  /** Pre-fetched open pulls, to save a listing. */
  pulls?: readonly PullSummary[]
  targetUrl?: string
  /** A failure no environment's status carries (the impact could not be computed): the gate fails with it. */
  failure?: string
  /** Where the per-environment states are (fleet-promote.yaml `statuses`; `auto`: read the stage boards too). */
  statuses?: StatusesMode | 'auto'
}

export type SetAggregateResult =
  | (AggregateResult & { written: true; impacted: string[] })
  | { written: false; state: 'unknown'; description: string; impacted: [] }

export async function setAggregateStatus(
  client: GitHubClient,
  repo: RepoRef,
  options: SetAggregateOptions,
): Promise<SetAggregateResult> {
  const statuses = await readStatuses(
    client,
    repo,
    options.sha,
    options.statuses ?? 'per-environment',
  )
  const impacted = new Set(environmentsWithStatus(statuses.keys()))
  for (const name of options.impacted ?? []) impacted.add(name)
  const parents = [
    ...(options.parents ?? []),
    ...(options.parent !== undefined ? [options.parent] : []),
  ]
  if (parents.length > 0) {
    const pulls = options.pulls ?? (await listOpenPulls(client, repo))
    for (const parent of parents) {
      for (const child of childrenOf(pulls, repo, parent)) impacted.add(child.environment)
    }
  }
  if (impacted.size === 0 && options.impacted === undefined && options.failure === undefined) {
    return {
      written: false,
      state: 'unknown',
      description: `no impact known for ${options.sha.slice(0, 7)} yet; ${PIPELINE_CONTEXT} left unset`,
      impacted: [],
    }
  }
  const list: CommitStatus[] = [...statuses.values()]
  const result: AggregateResult =
    options.failure === undefined
      ? computeAggregate(list, impacted)
      : { state: 'failure', description: statusDescription(options.failure), environments: [] }
  const status: CommitStatus = {
    context: PIPELINE_CONTEXT,
    state: result.state,
    description: result.description,
    ...(options.targetUrl ? { targetUrl: options.targetUrl } : {}),
  }
  // Written only when it changes: a re-run, or a run that changed nothing, costs no write.
  if (!sameStatus(statuses.get(PIPELINE_CONTEXT), status))
    await setStatus(client, repo, options.sha, status)
  return { ...result, written: true, impacted: [...impacted].sort() }
}
