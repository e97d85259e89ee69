// What every promote command shares: the settings, the trigger, the state of
// one run, and the result with its one reply.

import type { ArgoCdClient } from '../lib/argocd/client.js'
import type { SetAggregateResult } from '../lib/aggregate.js'
import type { FleetConfig } from '../lib/config/types.js'
import type { GitHubClient } from '../lib/github/client.js'
import type { PullRequestSnapshot } from '../lib/github/pulls.js'
import type { LockRemote } from '../lib/locks.js'
import type { RepoRef } from '../lib/statuses.js'
import type { EnvironmentOutcome } from './backends.js'
import type { LiveReply } from './live-reply.js'
import { renderReply, renderReplySummary, type ReplyInput, type ReplyRow } from './reply.js'

export type Decision = 'deployed' | 'noop' | 'refused' | 'ignored' | 'failed' | 'done'

export interface PromoteResult {
  decision: Decision
  reason: string
  environments: EnvironmentOutcome[]
  /** One row per environment the command named, as in the reply table. */
  rows: ReplyRow[]
  /** The reply posted, within GitHub's comment limit; absent when ignored. */
  reply?: string
  /** The job summary: the reply with every row. */
  summary?: string
  /** The aggregate set at the end, when statuses changed. */
  aggregate?: SetAggregateResult
}

export interface PromoteSettings {
  client: GitHubClient
  repo: RepoRef
  /** Repository-relative configuration file on the base branch. */
  configFile: string
  /** Where the lock refs are pushed (a scratch repository and the repository's git URL). */
  locks: LockRemote
  /** `https://github.com` (GITHUB_SERVER_URL): the DRY repository URL Argo CD tracks. */
  serverUrl: string
  runUrl?: string
  /** Builds the Argo CD client for the configured server (absent: no token given). */
  argocd?: (server: string) => ArgoCdClient
  argocdPollMs: number
  /** Set `fleet-promote/pipeline` after changing statuses (default true). */
  aggregate: boolean
  /** Verify check tokens by name, from the verify-env input: where a `tokenEnv` is looked up first. */
  verifyEnv?: ReadonlyMap<string, string>
  /** Then the promote step's environment (default: process.env); main.ts masks what it returns. */
  stepEnv?: (name: string) => string | undefined
  /** Least time between two edits of a long promotion's reply within a wave (default 10 s). */
  liveReplyIntervalMs?: number
  /** Environments deployed at once within a stage. */
  concurrency?: number
  log: (message: string) => void
  now?: () => number
}

/** A verify check's token (`tokenEnv`): verify-env first, then the promote step's environment. */
export function verifyToken(settings: PromoteSettings, name: string): string | undefined {
  // An empty verify-env value is a caller's secret that is not set: the step's env may still hold it.
  return settings.verifyEnv?.get(name) || (settings.stepEnv ?? ((key) => process.env[key]))(name)
}

export interface Actor {
  login: string
  /** `User` or `Bot`. */
  type?: string
}

/** What started the run, reduced to what the core needs. */
export type Trigger =
  | { kind: 'comment'; pr: number; commentId: number; body: string; actor: Actor }
  | { kind: 'dispatch'; pr: number; target: string; noop: boolean; actor: Actor }
  /** Deploy the PR's `autoPromote` stages (right after open-child-prs). */
  | { kind: 'auto'; pr: number; actor: Actor }

export interface RunState {
  settings: PromoteSettings
  trigger: Trigger
  pull: PullRequestSnapshot
  config: FleetConfig
  commandText: string
  commentId?: number
  /** A long promotion's reply, edited as environments finish (promote.ts starts it). */
  live?: LiveReply
}

export function ignored(reason: string): PromoteResult {
  return { decision: 'ignored', reason, environments: [], rows: [] }
}

/** A result with its reply; `environments` only when something was deployed or tried. */
export function result(
  state: RunState,
  decision: Decision,
  reason: string,
  rows: ReplyRow[],
  options: {
    help?: boolean
    environments?: EnvironmentOutcome[]
    checks?: ReplyInput['checks']
    waves?: ReplyInput['waves']
  } = {},
): PromoteResult {
  const replyInput: ReplyInput = {
    command: state.commandText,
    actor: state.trigger.actor.login,
    sha: state.pull.headSha,
    promoteCommand: state.config.promote.command,
    decision,
    reason,
    rows,
    ...(options.help ? { help: true } : {}),
    ...(options.checks ? { checks: options.checks } : {}),
    ...(options.waves && options.waves.length > 0 ? { waves: options.waves } : {}),
    ...(state.settings.runUrl ? { runUrl: state.settings.runUrl } : {}),
  }
  return {
    decision,
    reason,
    environments: options.environments ?? [],
    rows,
    reply: renderReply(replyInput),
    summary: renderReplySummary(replyInput),
  }
}

export function refuse(
  state: RunState,
  reason: string,
  rows: ReplyRow[],
  options: { help?: boolean } = {},
): PromoteResult {
  return result(state, 'refused', reason, rows, options)
}

export function done(
  state: RunState,
  reason: string,
  rows: ReplyRow[],
  options: { help?: boolean; waves?: ReplyInput['waves'] } = {},
): PromoteResult {
  return result(state, 'done', reason, rows, options)
}

export function actorFields(state: RunState): Actor {
  const actor = state.trigger.actor
  return { login: actor.login, ...(actor.type ? { type: actor.type } : {}) }
}

export { nameList as list } from '../lib/markdown.js'
