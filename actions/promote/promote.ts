// The promote action's core: from an IssueOps comment, a workflow_dispatch or
// an auto-promotion to checked, locked, deployed environments, with one reply.
// Nothing here trusts the event beyond who acted and where: the PR, its head,
// the configuration (from the base branch), roles, reviews, statuses and
// locks are all read live.

import type { ArgoCdClient } from '../lib/argocd/client.js'
import { setAggregateStatus, type SetAggregateResult } from '../lib/aggregate.js'
import { parseChildBranch } from '../lib/children.js'
import { parseCommand, type Command, type ParseResult } from './commands.js'
import type { FleetConfig, Permission, StageConfig } from '../lib/config/types.js'
import { argoCdApplicationName, stageFor, stageOrder } from '../lib/config/config.js'
import {
  deployEnvironment,
  type DeployContext,
  type DeployTarget,
  type EnvironmentOutcome,
} from './deploy.js'
import { errorMessage } from '../lib/errors.js'
import type { GitHubClient } from '../lib/github/client.js'
import { acquireLock, describeHolder, readLock, releaseLock, type HeldLock } from '../lib/locks.js'
import { minimatch } from 'minimatch'
import {
  checkActor,
  checkApprovals,
  checkPullRequestState,
  checkRequiredStages,
  highestPermission,
  isFork,
  recheckHead,
} from './prechecks.js'
import {
  getPullRequest,
  type PullRequestSnapshot,
  childrenOf,
  listOpenPulls,
  type ChildPr,
  type PullSummary,
} from '../lib/github/pulls.js'
import { renderReply, type ReplyRow } from './reply.js'
import { loadBaseConfig } from '../lib/config/sources.js'
import { environmentContext, type CommitStatus, type RepoRef } from '../lib/statuses.js'
import { latestStatuses } from '../lib/github/statuses.js'
import { createComment, reactToComment } from '../lib/github/comments.js'

export type Decision = 'deployed' | 'noop' | 'refused' | 'ignored' | 'failed' | 'done'

export interface PromoteResult {
  decision: Decision
  reason: string
  environments: EnvironmentOutcome[]
  /** One row per environment the command named, as in the reply table. */
  rows: ReplyRow[]
  /** The reply posted (also the job summary); absent when ignored. */
  reply?: string
  /** The aggregate set at the end, when statuses changed. */
  aggregate?: SetAggregateResult
}

export interface PromoteSettings {
  client: GitHubClient
  repo: RepoRef
  /** Repository-relative configuration file on the base branch. */
  configFile: string
  /** `https://github.com` (GITHUB_SERVER_URL): the DRY repository URL Argo CD tracks. */
  serverUrl: string
  runUrl?: string
  /** Builds the Argo CD client for the configured server (absent: no token given). */
  argocd?: (server: string) => ArgoCdClient
  argocdPollMs: number
  /** Set `fleet-promote/pipeline` after changing statuses (default true). */
  aggregate: boolean
  /** Environments deployed at once within a stage. */
  concurrency?: number
  log: (message: string) => void
  now?: () => number
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

interface RunState {
  settings: PromoteSettings
  trigger: Trigger
  pull: PullRequestSnapshot
  config: FleetConfig
  commandText: string
  commentId?: number
}

export async function promote(settings: PromoteSettings, trigger: Trigger): Promise<PromoteResult> {
  const { client, repo } = settings
  const pull = await getPullRequest(client, repo, trigger.pr)
  const config = await loadBaseConfig(client, repo, pull.baseRef, settings.configFile)

  let parsed: ParseResult
  let commandText: string
  switch (trigger.kind) {
    case 'comment':
      parsed = parseCommand(trigger.body, { command: config.promote.command })
      // Echoed in the reply: one line, bounded, without control or bidi characters.
      commandText = (trigger.body.trim().split('\n')[0] ?? '')
        .slice(0, 200)
        // eslint-disable-next-line no-control-regex -- replacing control characters is the point
        .replace(/[\u0000-\u001f\u007f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '?')
      break
    case 'dispatch':
      commandText = `${config.promote.command} ${trigger.target}${trigger.noop ? ' --noop' : ''}`
      parsed = parseCommand(commandText, { command: config.promote.command })
      break
    case 'auto':
      commandText = 'autoPromote'
      parsed = {
        kind: 'command',
        command: { kind: 'promote', targets: [], all: true, noop: false, allowDeletions: false },
      }
      break
  }
  if (parsed.kind === 'ignored')
    return {
      decision: 'ignored',
      reason: 'not a fleet-promote command',
      environments: [],
      rows: [],
    }

  const state: RunState = {
    settings,
    trigger,
    pull,
    config,
    commandText,
    ...(trigger.kind === 'comment' ? { commentId: trigger.commentId } : {}),
  }
  if (state.commentId !== undefined) await react(state, 'eyes')

  let result: PromoteResult
  try {
    result =
      parsed.kind === 'malformed'
        ? refuse(state, parsed.error, [], { help: true })
        : await runCommand(state, parsed.command)
  } catch (error) {
    result = { decision: 'failed', reason: errorMessage(error), environments: [], rows: [] }
    result.reply = renderReply({
      ...replyBase(state),
      decision: 'failed',
      reason: result.reason,
      rows: [],
    })
  }
  if (trigger.kind === 'auto' && result.decision === 'ignored') return result
  if (result.reply) await postReply(state, result.reply)
  if (state.commentId !== undefined) {
    await react(
      state,
      result.decision === 'refused' || result.decision === 'failed' ? 'confused' : 'rocket',
    )
  }
  return result
}

async function runCommand(state: RunState, command: Command): Promise<PromoteResult> {
  switch (command.kind) {
    case 'help':
      return done(state, 'help', [], { help: true })
    case 'status':
      return showStatus(state)
    case 'lock':
    case 'unlock':
      return lockCommand(
        state,
        command.kind,
        command.targets,
        command.kind === 'lock' ? command.reason : '',
      )
    case 'promote':
      return promoteCommand(state, command)
  }
}

interface Impacted {
  environment: string
  stage: StageConfig
  child: ChildPr
}

/** The PR's impacted environments (its open children) with their stage from the base configuration. */
function impactedOf(
  state: RunState,
  pulls: readonly PullSummary[],
): { impacted: Impacted[]; unstaged: string[] } {
  const impacted: Impacted[] = []
  const unstaged: string[] = []
  for (const child of childrenOf(pulls, state.settings.repo, state.pull.number)) {
    const stage = stageFor(state.config, child.environment)
    if (stage) impacted.push({ environment: child.environment, stage, child })
    else unstaged.push(child.environment)
  }
  return { impacted, unstaged }
}

/** Targets → environments; stage names and environment names are exact, anything with `*`/`?` is a glob. */
function resolveTargets(
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
        const list =
          known.length > 0
            ? `; impacted: ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', …' : ''}`
            : ''
        return {
          error: `unknown environment or stage "${target}": it matches nothing this pull request impacts${list}`,
        }
      }
    }
    for (const env of matched) chosen.add(env.environment)
  }
  return { selected: impacted.filter((env) => chosen.has(env.environment)) }
}

function stagesIn(config: FleetConfig, envs: readonly Impacted[]): StageConfig[] {
  const present = new Set(envs.map((env) => env.stage.name))
  return stageOrder(config)
    .filter((name) => present.has(name))
    .map((name) => config.stages.find((stage) => stage.name === name))
    .filter((stage): stage is StageConfig => stage !== undefined)
}

/** The deletion guard's verdict as open-child-prs reports it on the environment's status. */
function guardBlocked(status: CommitStatus | undefined): boolean {
  return (
    status !== undefined &&
    status.state !== 'success' &&
    /^blocked\b|deletion guard/i.test(status.description)
  )
}

async function promoteCommand(
  state: RunState,
  command: Extract<Command, { kind: 'promote' }>,
): Promise<PromoteResult> {
  const { settings, pull, config } = state
  const { client, repo } = settings
  const pinned = pull.headSha

  const stateRefusal = checkPullRequestState(pull, repo, config)
  if (stateRefusal) return refuse(state, stateRefusal.reason, [])

  const childOf = parseChildBranch(pull.headRef)
  if (childOf && !isFork(pull, repo)) {
    return refuse(
      state,
      `#${pull.number} is a child pull request; comment on its parent #${childOf.parent}`,
      [],
    )
  }
  const pulls = await listOpenPulls(client, repo)
  const { impacted } = impactedOf(state, pulls)
  let selected: Impacted[]
  if (state.trigger.kind === 'auto') {
    selected = impacted.filter((env) => env.stage.autoPromote)
    if (selected.length === 0)
      return {
        decision: 'ignored',
        reason: 'no autoPromote stage is impacted',
        environments: [],
        rows: [],
      }
  } else {
    if (impacted.length === 0) {
      return refuse(
        state,
        `#${pull.number} has no open child pull requests yet; wait for open-child-prs to finish`,
        [],
      )
    }
    const resolved = resolveTargets(command.targets, command.all, impacted, config)
    if ('error' in resolved) return refuse(state, resolved.error, [], { help: true })
    selected = resolved.selected
  }
  const stages = stagesIn(config, selected)
  const rows = (result: string, detail = ''): ReplyRow[] =>
    selected.map((env) => plannedRow(env, result, detail))

  // Children rendered for another head would deploy what nobody approved on this one.
  const stale = selected
    .filter((env) => env.child.marker?.headSha !== pinned)
    .map((env) => env.environment)
  if (stale.length > 0) {
    return refuse(
      state,
      `the child PRs of ${list(stale)} were not rendered from the current head ${pinned.slice(0, 7)}; wait for open-child-prs to update them`,
      rows('not deployed'),
    )
  }

  if (state.trigger.kind !== 'auto') {
    const minimum = highestPermission([
      config.promote.permission,
      ...stages.map((stage) => stage.permission),
    ])
    const actorRefusal = await checkActor(client, repo, {
      login: state.trigger.actor.login,
      ...(state.trigger.actor.type ? { type: state.trigger.actor.type } : {}),
      minimum,
      config,
      allowDeletions: command.allowDeletions,
    })
    if (actorRefusal) return refuse(state, actorRefusal.reason, rows('not deployed'))
  }
  const approvalRefusal = await checkApprovals(client, repo, pull, pinned, stages)
  if (approvalRefusal) return refuse(state, approvalRefusal.reason, rows('not deployed'))

  const statuses = await latestStatuses(client, repo, pinned)
  const blocked = selected.filter((env) =>
    guardBlocked(statuses.get(environmentContext(env.environment))),
  )
  if (blocked.length > 0 && !command.allowDeletions) {
    return refuse(
      state,
      `the deletion guard blocked ${list(blocked.map((env) => env.environment))}; a maintainer may override it for ${pinned.slice(0, 7)} with --allow-deletions`,
      rows('not deployed'),
    )
  }
  const inCommand = new Set(stages.map((stage) => stage.name))
  for (const stage of stages) {
    const external = { ...stage, requires: stage.requires.filter((name) => !inCommand.has(name)) }
    const refusal = checkRequiredStages(external, impacted.map(toNamed), statuses, pinned)
    if (refusal) return refuse(state, refusal.reason, rows('not deployed'))
  }

  const argocdMissing = stages.find(
    (stage) => stage.backend === 'argocd' && (!config.deploy.argocd.server || !settings.argocd),
  )
  if (argocdMissing) {
    return refuse(
      state,
      `stage ${argocdMissing.name} deploys with Argo CD: set deploy.argocd.server in ${config.file} and the argocd-token input`,
      rows('not deployed'),
    )
  }

  if (command.noop) {
    const conflicts = await lockConflicts(state, selected)
    if (conflicts.length > 0) return refuse(state, conflicts.join('; '), rows('not deployed'))
    return finish(
      state,
      'noop',
      `--noop: every check passed for ${pinned.slice(0, 7)}; nothing was deployed`,
      rows('would deploy'),
      [],
    )
  }

  const reason = command.allowDeletions
    ? `deletion guard overridden for ${pinned.slice(0, 7)}`
    : `promoted by ${state.trigger.actor.login}`
  const applications = new Map<string, string>()
  for (const env of selected.filter((e) => e.stage.backend === 'argocd')) {
    try {
      applications.set(
        env.environment,
        argoCdApplicationName(config, {
          name: env.environment,
          stage: env.stage.name,
          branch: env.child.base,
        }),
      )
    } catch (error) {
      return refuse(
        state,
        `deploy.argocd.application: ${errorMessage(error)}`,
        rows('not deployed'),
      )
    }
  }

  const acquired = await acquireAll(state, selected, reason)
  if ('refusal' in acquired) return refuse(state, acquired.refusal, rows('not deployed'))

  // Locks stay with environments this PR now runs on; the rest taken in this run
  // go back, whatever happens (a refusal, a failure, an exception).
  let outcomes: EnvironmentOutcome[] = []
  try {
    const moved = await recheckHead(client, repo, pull.number, pinned)
    if (moved) return refuse(state, moved.reason, rows('not deployed'))
    outcomes = await deployStages(state, stages, selected, impacted, statuses, applications)
  } finally {
    const keep = new Set(
      outcomes
        .filter((o) => o.result === 'success' || o.result === 'waiting')
        .map((o) => o.environment),
    )
    await releaseAcquired(
      state,
      acquired.created.filter((lock) => !keep.has(lock.environment)),
    )
  }
  const failed = outcomes.filter((o) => o.result === 'failure' || o.result === 'skipped')
  const aggregate = await runAggregate(state, pulls)
  const replyRows = outcomes.map(outcomeRow)
  if (failed.length > 0) {
    const first = failed.find((o) => o.result === 'failure') ?? failed[0]
    return {
      ...finish(
        state,
        'failed',
        `${failed.length} of ${outcomes.length} environments not deployed; ${first?.environment}: ${first?.detail}`,
        replyRows,
        outcomes,
      ),
      ...(aggregate ? { aggregate } : {}),
    }
  }
  const waiting = outcomes.some((o) => o.result === 'waiting')
  return {
    ...finish(
      state,
      'deployed',
      waiting
        ? `handed ${outcomes.length} environments to ${config.deploy.external.system}`
        : `deployed ${outcomes.length} environment${outcomes.length === 1 ? '' : 's'} at ${pinned.slice(0, 7)}`,
      replyRows,
      outcomes,
    ),
    ...(aggregate ? { aggregate } : {}),
  }
}

function toNamed(env: Impacted): { name: string; stage: string } {
  return { name: env.environment, stage: env.stage.name }
}

async function deployStages(
  state: RunState,
  stages: readonly StageConfig[],
  selected: readonly Impacted[],
  impacted: readonly Impacted[],
  statusesBefore: ReadonlyMap<string, CommitStatus>,
  applications: ReadonlyMap<string, string>,
): Promise<EnvironmentOutcome[]> {
  const { settings, pull } = state
  const ctx = deployContext(state)
  const outcomes: EnvironmentOutcome[] = []
  const succeeded = new Set(
    [...statusesBefore]
      .filter(([, status]) => status.state === 'success')
      .map(([context]) => context),
  )
  for (const stage of stages) {
    const envs = selected.filter((env) => env.stage.name === stage.name)
    // Stages required from within this command must have succeeded in this run.
    const unmet = stage.requires.find((required) =>
      impacted.some(
        (env) => env.stage.name === required && !succeeded.has(environmentContext(env.environment)),
      ),
    )
    if (unmet) {
      for (const env of envs) {
        outcomes.push(skipped(env, `not deployed: ${unmet} did not succeed in this run`))
      }
      continue
    }
    const results = await pool(envs, settings.concurrency ?? 4, (env) =>
      deployEnvironment(ctx, {
        environment: env.environment,
        stage: stage.name,
        backend: stage.backend,
        child: env.child,
        ...(applications.has(env.environment)
          ? { application: applications.get(env.environment) }
          : {}),
      } satisfies DeployTarget),
    )
    for (const outcome of results) {
      outcomes.push(outcome)
      // This run's verdict replaces what the statuses said before it.
      if (outcome.result === 'success') succeeded.add(environmentContext(outcome.environment))
      else succeeded.delete(environmentContext(outcome.environment))
    }
    settings.log(
      `stage ${stage.name} of #${pull.number}: ${results.map((r) => `${r.environment}=${r.result}`).join(', ')}`,
    )
  }
  return outcomes
}

function deployContext(state: RunState): DeployContext {
  const { settings, config, pull } = state
  const argocdServer = config.deploy.argocd.server
  const argocdClient = argocdServer && settings.argocd ? settings.argocd(argocdServer) : undefined
  return {
    client: settings.client,
    repo: settings.repo,
    parent: pull.number,
    parentSha: pull.headSha,
    repoUrl: `${settings.serverUrl}/${settings.repo.owner}/${settings.repo.repo}`,
    ...(argocdClient
      ? {
          argocd: {
            client: argocdClient,
            timeoutMs: config.deploy.argocd.timeoutSeconds * 1000,
            pollMs: settings.argocdPollMs,
          },
        }
      : {}),
    externalSystem: config.deploy.external.system,
    ...(settings.runUrl ? { runUrl: settings.runUrl } : {}),
    log: settings.log,
    ...(settings.now ? { now: settings.now } : {}),
  }
}

function skipped(env: Impacted, detail: string): EnvironmentOutcome {
  return {
    environment: env.environment,
    stage: env.stage.name,
    backend: env.stage.backend,
    result: 'skipped',
    detail,
    child: { number: env.child.number, url: env.child.url },
    durationMs: 0,
  }
}

async function pool<T, R>(
  items: readonly T[],
  size: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length)
  let next = 0
  const workers = Array.from({ length: Math.min(size, items.length) }, async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await work(items[index] as T)
    }
  })
  await Promise.all(workers)
  return results
}

interface Acquired {
  created: HeldLock[]
}

/** Takes every lock, in name order; on any conflict gives back what this run took. */
async function acquireAll(
  state: RunState,
  envs: readonly Impacted[],
  reason: string,
): Promise<Acquired | { refusal: string }> {
  const { settings, pull, trigger } = state
  const created: HeldLock[] = []
  const sorted = [...envs].sort((a, b) => a.environment.localeCompare(b.environment))
  try {
    for (const env of sorted) {
      const result = await acquireLock(settings.client, settings.repo, env.environment, {
        pr: pull.number,
        actor: trigger.actor.login,
        reason,
        sha: pull.headSha,
      })
      if (result.status === 'acquired') created.push(result.held)
      if (result.status === 'conflict') {
        await releaseAcquired(state, created)
        return { refusal: `${env.environment} is ${describeHolder(result.held)}` }
      }
    }
  } catch (error) {
    await releaseAcquired(state, created)
    throw error
  }
  return { created }
}

async function releaseAcquired(state: RunState, locks: readonly HeldLock[]): Promise<void> {
  for (const held of locks) {
    try {
      await releaseLock(
        state.settings.client,
        state.settings.repo,
        held.environment,
        state.pull.number,
        held.lock?.id,
      )
    } catch (error) {
      state.settings.log(
        `could not release the lock of ${held.environment}: ${errorMessage(error)}`,
      )
    }
  }
}

async function lockConflicts(state: RunState, envs: readonly Impacted[]): Promise<string[]> {
  const conflicts: string[] = []
  for (const env of envs) {
    const held = await readLock(state.settings.client, state.settings.repo, env.environment)
    if (held && held.lock?.pr !== state.pull.number)
      conflicts.push(`${env.environment} is ${describeHolder(held)}`)
  }
  return conflicts
}

async function lockCommand(
  state: RunState,
  kind: 'lock' | 'unlock',
  targets: readonly string[],
  reason: string,
): Promise<PromoteResult> {
  const { settings, pull, config } = state
  const { client, repo } = settings
  const pulls = await listOpenPulls(client, repo)
  const { impacted } = impactedOf(state, pulls)
  const resolved = resolveTargets(targets, false, impacted, config)
  if ('error' in resolved) return refuse(state, resolved.error, [], { help: true })
  const stages = stagesIn(config, resolved.selected)
  const minimum: Permission = highestPermission([
    config.promote.permission,
    ...stages.map((stage) => stage.permission),
  ])
  const actorRefusal = await checkActor(client, repo, { ...actorFields(state), minimum, config })
  if (actorRefusal) return refuse(state, actorRefusal.reason, [])

  if (kind === 'lock') {
    const acquired = await acquireAll(state, resolved.selected, reason)
    if ('refusal' in acquired) return refuse(state, acquired.refusal, [])
    const rows = resolved.selected.map((env) =>
      plannedRow(env, '🔒 locked', `held by #${pull.number}${reason ? `: ${reason}` : ''}`),
    )
    return done(
      state,
      `locked ${list(resolved.selected.map((env) => env.environment))} for #${pull.number}`,
      rows,
    )
  }
  const rows: ReplyRow[] = []
  let refused = false
  for (const env of resolved.selected) {
    const result = await releaseLock(client, repo, env.environment, pull.number)
    if (result === 'conflict') refused = true
    const held = result === 'conflict' ? await readLock(client, repo, env.environment) : undefined
    rows.push(
      plannedRow(
        env,
        result === 'released' ? '🔓 unlocked' : result === 'absent' ? 'not locked' : '⛔ not yours',
        held ? describeHolder(held) : '',
      ),
    )
  }
  if (refused)
    return refuse(
      state,
      'some environments are locked by another pull request; only its own runs or merge-cleanup release them',
      rows,
    )
  return done(state, `unlocked ${list(resolved.selected.map((env) => env.environment))}`, rows)
}

function actorFields(state: RunState): { login: string; type?: string } {
  const actor = state.trigger.actor
  return { login: actor.login, ...(actor.type ? { type: actor.type } : {}) }
}

async function showStatus(state: RunState): Promise<PromoteResult> {
  const { settings, pull, config } = state
  const { client, repo } = settings
  const refusal = await checkActor(client, repo, {
    ...actorFields(state),
    minimum: config.promote.permission,
    config,
  })
  if (refusal) return refuse(state, refusal.reason, [])
  const pulls = await listOpenPulls(client, repo)
  const { impacted } = impactedOf(state, pulls)
  const statuses = await latestStatuses(client, repo, pull.headSha)
  const rows: ReplyRow[] = []
  for (const stage of stagesIn(config, impacted)) {
    for (const env of impacted.filter((e) => e.stage.name === stage.name)) {
      const status = statuses.get(environmentContext(env.environment))
      const held = await readLock(client, repo, env.environment)
      const lock = held ? ` · 🔒 ${describeHolder(held)}` : ''
      rows.push({
        environment: env.environment,
        stage: stage.name,
        result: status ? status.state : 'no status',
        detail: `${status?.description ?? ''}${lock}`,
        links: [
          { text: `#${env.child.number}`, url: env.child.url },
          ...(status?.targetUrl ? [{ text: 'details', url: status.targetUrl }] : []),
        ],
      })
    }
  }
  return done(
    state,
    `${impacted.length} environments impacted by #${pull.number} at ${pull.headSha.slice(0, 7)}`,
    rows,
  )
}

async function runAggregate(
  state: RunState,
  pulls: readonly PullSummary[],
): Promise<SetAggregateResult | undefined> {
  if (!state.settings.aggregate) return undefined
  return setAggregateStatus(state.settings.client, state.settings.repo, {
    sha: state.pull.headSha,
    parent: state.pull.number,
    pulls,
    ...(state.settings.runUrl ? { targetUrl: state.settings.runUrl } : {}),
  })
}

function plannedRow(env: Impacted, result: string, detail: string): ReplyRow {
  return {
    environment: env.environment,
    stage: env.stage.name,
    result,
    detail,
    links: [{ text: `#${env.child.number}`, url: env.child.url }],
  }
}

function outcomeRow(outcome: EnvironmentOutcome): ReplyRow {
  return {
    environment: outcome.environment,
    stage: outcome.stage,
    result: outcome.result,
    detail: outcome.detail,
    links: [
      ...(outcome.url && outcome.url !== outcome.child.url
        ? [{ text: outcome.backend === 'argocd' ? 'Argo CD' : 'details', url: outcome.url }]
        : []),
      { text: `#${outcome.child.number}`, url: outcome.child.url },
    ],
    durationMs: outcome.durationMs,
  }
}

function list(names: readonly string[]): string {
  return names.length > 8
    ? `${names.slice(0, 8).join(', ')} and ${names.length - 8} more`
    : names.join(', ')
}

function replyBase(state: RunState) {
  return {
    command: state.commandText,
    actor: state.trigger.actor.login,
    sha: state.pull.headSha,
    promoteCommand: state.config.promote.command,
  }
}

function refuse(
  state: RunState,
  reason: string,
  rows: ReplyRow[],
  options: { help?: boolean } = {},
): PromoteResult {
  return {
    decision: 'refused',
    reason,
    environments: [],
    rows,
    reply: renderReply({
      ...replyBase(state),
      decision: 'refused',
      reason,
      rows,
      help: options.help === true,
    }),
  }
}

function done(
  state: RunState,
  reason: string,
  rows: ReplyRow[],
  options: { help?: boolean } = {},
): PromoteResult {
  return {
    decision: 'done',
    reason,
    environments: [],
    rows,
    reply: renderReply({
      ...replyBase(state),
      decision: 'done',
      reason,
      rows,
      help: options.help === true,
    }),
  }
}

function finish(
  state: RunState,
  decision: Decision,
  reason: string,
  rows: ReplyRow[],
  environments: EnvironmentOutcome[],
): PromoteResult {
  return {
    decision,
    reason,
    environments,
    rows,
    reply: renderReply({ ...replyBase(state), decision, reason, rows }),
  }
}

async function react(state: RunState, content: 'eyes' | 'rocket' | 'confused'): Promise<void> {
  if (state.commentId === undefined) return
  try {
    await reactToComment(state.settings.client, state.settings.repo, state.commentId, content)
  } catch (error) {
    // Feedback only: a missing reaction must not fail the promotion.
    state.settings.log(`could not react ${content}: ${errorMessage(error)}`)
  }
}

async function postReply(state: RunState, body: string): Promise<void> {
  await createComment(state.settings.client, state.settings.repo, state.pull.number, body)
}
