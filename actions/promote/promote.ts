// The promote action's core: from an IssueOps comment, a workflow_dispatch or
// an auto-promotion to checked, locked, deployed environments, with one reply.
// Nothing here trusts the event beyond who acted and where: the PR, its head,
// the configuration (from the base branch), roles, reviews, statuses and
// locks are all read live. A promotion is facts (facts.ts) → a pure decision
// (gates.ts) → acting on it (deploy.ts), then one reply (reply.ts).

import { setAggregateStatus, type SetAggregateResult } from '../lib/aggregate.js'
import { loadBaseConfig } from '../lib/config/sources.js'
import { errorMessage } from '../lib/errors.js'
import {
  createComment,
  createEditableComment,
  editComment,
  reactToComment,
} from '../lib/github/comments.js'
import { getPullRequest } from '../lib/github/pulls.js'
import type { EnvironmentOutcome } from './backends.js'
import { parseCommand, type Command, type ParseResult } from './commands.js'
import { executePlan } from './deploy.js'
import { gatherPromoteFacts, type PromoteCommand, type PromoteFacts } from './facts.js'
import { decidePromotion, type DeployPlan } from './gates.js'
import { LiveReply } from './live-reply.js'
import { lockCommand } from './lock-command.js'
import type { ReplyRow } from './reply.js'
import {
  done,
  ignored,
  list,
  refuse,
  result,
  type PromoteResult,
  type PromoteSettings,
  type RunState,
  type Trigger,
} from './run.js'
import { showStatus } from './status.js'
import { rowsInWaves, waveSection } from './waves.js'

export type { Actor, Decision, PromoteResult, PromoteSettings, Trigger } from './run.js'

export async function promote(settings: PromoteSettings, trigger: Trigger): Promise<PromoteResult> {
  const { client, repo } = settings
  const pull = await getPullRequest(client, repo, trigger.pr)
  const config = await loadBaseConfig(client, repo, pull.baseRef, settings.configFile)
  const { parsed, commandText } = readCommand(trigger, config.promote.command)
  if (parsed.kind === 'ignored') return ignored('not a fleet-promote command')

  const state: RunState = {
    settings,
    trigger,
    pull,
    config,
    commandText,
    ...(trigger.kind === 'comment' ? { commentId: trigger.commentId } : {}),
  }
  if (state.commentId !== undefined) await react(state, 'eyes')

  let outcome: PromoteResult
  try {
    outcome =
      parsed.kind === 'malformed'
        ? refuse(state, parsed.error, [], { help: true })
        : await runCommand(state, parsed.command)
  } catch (error) {
    outcome = result(state, 'failed', errorMessage(error), [])
  }
  // An auto-promotion whose environments all succeeded on this head already (a re-run) says nothing.
  if (trigger.kind === 'auto' && (outcome.decision === 'ignored' || outcome.decision === 'done'))
    return outcome
  if (outcome.reply) {
    if (state.live) await state.live.finish(outcome.reply)
    else await createComment(client, repo, pull.number, outcome.reply)
  }
  if (state.commentId !== undefined) {
    await react(
      state,
      outcome.decision === 'refused' || outcome.decision === 'failed' ? 'confused' : 'rocket',
    )
  }
  return outcome
}

/** The command a trigger carries, and the text the reply echoes. */
function readCommand(
  trigger: Trigger,
  prefix: string,
): { parsed: ParseResult; commandText: string } {
  switch (trigger.kind) {
    case 'comment':
      return {
        parsed: parseCommand(trigger.body, { command: prefix }),
        // Echoed in the reply: one line, bounded, without control or bidi characters.
        commandText: (trigger.body.trim().split('\n')[0] ?? '')
          .slice(0, 200)
          // eslint-disable-next-line no-control-regex -- replacing control characters is the point
          .replace(/[\u0000-\u001f\u007f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '?'),
      }
    case 'dispatch': {
      const commandText = `${prefix} ${trigger.target}${trigger.noop ? ' --noop' : ''}`
      return { parsed: parseCommand(commandText, { command: prefix }), commandText }
    }
    case 'auto':
      return {
        parsed: {
          kind: 'command',
          command: { kind: 'promote', targets: [], all: true, noop: false, allowDeletions: false },
        },
        commandText: 'autoPromote',
      }
  }
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

/** Facts → decision → act. */
async function promoteCommand(state: RunState, command: PromoteCommand): Promise<PromoteResult> {
  const facts = await gatherPromoteFacts(state, command)
  const decision = decidePromotion(facts)
  for (const line of decision.log) state.settings.log(line)
  switch (decision.verdict) {
    case 'ignore':
      return ignored(decision.reason)
    case 'refuse':
      return refuse(state, decision.reason, decision.rows, { help: decision.help })
    case 'done':
      return done(state, decision.reason, decision.rows)
    case 'noop':
      return result(state, 'noop', decision.reason, decision.rows, { checks: decision.checks })
    case 'proceed':
      return deploy(state, facts, decision.plan)
  }
}

async function deploy(
  state: RunState,
  facts: PromoteFacts,
  plan: DeployPlan,
): Promise<PromoteResult> {
  if (isLong(state, plan)) state.live = liveReply(state)
  const run = await executePlan(state, facts, plan)
  if ('refusal' in run) return refuse(state, run.refusal, plan.notDeployed)
  const { outcomes, kept } = run
  const waveOptions = { waves: run.waves.flatMap(waveSection) }
  const aggregate = await runAggregate(state, facts)
  const rows = rowsInWaves([...outcomes.map(outcomeRow), ...plan.later, ...plan.already], run.waves)
  const failed = outcomes.filter((o) => o.result === 'failure' || o.result === 'skipped')
  const environments = { environments: outcomes, ...waveOptions }
  const reply =
    failed.length > 0
      ? result(state, 'failed', failureReason(failed, outcomes.length, kept), rows, environments)
      : result(
          state,
          'deployed',
          [deployedReason(state, outcomes), plan.deletions, plan.laterReason]
            .filter(Boolean)
            .join('; '),
          rows,
          environments,
        )
  return { ...reply, ...(aggregate ? { aggregate } : {}) }
}

/**
 * Long enough to watch: waves, a bake or checks, or more environments than
 * deploy at once (not a merge stage: its environments land in one push).
 */
function isLong(state: RunState, plan: DeployPlan): boolean {
  const parallel = state.settings.concurrency ?? 4
  return plan.stages.some(
    (stage) =>
      stage.waves.length > 0 ||
      stage.bakeSeconds > 0 ||
      stage.verify.http.length + stage.verify.prometheus.length > 0 ||
      (stage.backend !== 'merge' &&
        plan.selected.filter((env) => env.stage.name === stage.name).length >
          (stage.maxParallel ?? parallel)),
  )
}

function liveReply(state: RunState): LiveReply {
  const { client, repo, log } = state.settings
  const issue = state.pull.number
  return new LiveReply(
    {
      create: (body) => createEditableComment(client, repo, issue, body),
      edit: (id, body) => editComment(client, repo, id, body),
      post: async (body) => {
        await createComment(client, repo, issue, body)
      },
      log,
    },
    { command: state.commandText, actor: state.trigger.actor.login, sha: state.pull.headSha },
    state.settings.now ?? Date.now,
    state.settings.liveReplyIntervalMs,
  )
}

function failureReason(
  failed: readonly EnvironmentOutcome[],
  total: number,
  kept: readonly string[],
): string {
  const first = failed.find((o) => o.result === 'failure') ?? failed[0]
  const locks =
    kept.length > 0
      ? `; the locks of ${list(kept)} stay: Argo CD could not say their clusters left this pull request's child`
      : ''
  return `${failed.length} of ${total} environments not deployed; ${first?.environment}: ${first?.detail}${locks}`
}

function deployedReason(state: RunState, outcomes: readonly EnvironmentOutcome[]): string {
  if (outcomes.some((o) => o.result === 'waiting'))
    return `handed ${outcomes.length} environments to ${state.config.deploy.external.system}`
  const deployed = outcomes.filter((o) => o.result !== 'queued').length
  const queued = outcomes.length - deployed
  const later = queued > 0 ? `; ${queued} wait for the next wave` : ''
  return `deployed ${deployed} environment${deployed === 1 ? '' : 's'} at ${state.pull.headSha.slice(0, 7)}${later}`
}

async function runAggregate(
  state: RunState,
  facts: PromoteFacts,
): Promise<SetAggregateResult | undefined> {
  if (!state.settings.aggregate) return undefined
  return setAggregateStatus(state.settings.client, state.settings.repo, {
    sha: state.pull.headSha,
    parent: state.pull.number,
    pulls: facts.pulls,
    ...(state.settings.runUrl ? { targetUrl: state.settings.runUrl } : {}),
    statuses: state.config.statuses,
  })
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

async function react(state: RunState, content: 'eyes' | 'rocket' | 'confused'): Promise<void> {
  if (state.commentId === undefined) return
  try {
    await reactToComment(state.settings.client, state.settings.repo, state.commentId, content)
  } catch (error) {
    // Feedback only: a missing reaction must not fail the promotion.
    state.settings.log(`could not react ${content}: ${errorMessage(error)}`)
  }
}
