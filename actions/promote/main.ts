import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as core from '@actions/core'
import * as github from '@actions/github'
import {
  defineContract,
  failAction,
  parseBooleanInput,
  parseIntegerInput,
  parseSecondsInput,
  readInputs,
  writeOutputs,
  noteRateLimitWaits,
} from '../lib/action-io.js'
import { createArgoCdClient } from '../lib/argocd/client.js'
import { UserError } from '../lib/errors.js'
import { Git } from '../lib/git/git.js'
import { createGitHubClient, rateLimitLedger } from '../lib/github/client.js'
import { promote, type PromoteResult, type Trigger } from './promote.js'
import { parseVerifyEnv } from './verify.js'
import {
  type EventPayload,
  type IssueCommentPayload,
  type PullRequestPayload,
  type WorkflowDispatchPayload,
} from '../lib/github/events.js'

export const contract = defineContract({
  inputs: {
    token: {
      description:
        'GitHub token with contents, pull-requests, issues, statuses and deployments write access (locks are branches; replies are comments), and checks write with `statuses: per-stage`.',
      default: '${{ github.token }}',
    },
    config: {
      description:
        "Configuration file, read from the pull request's base branch through the API (never from the PR head).",
      default: 'fleet-promote.yaml',
    },
    'argocd-token': {
      description: 'Argo CD API token, for stages with the `argocd` backend.',
      default: '',
    },
    'argocd-poll-seconds': {
      description: 'Seconds between Argo CD status polls while waiting for Synced and Healthy.',
      default: '5',
    },
    pr: {
      description:
        "Parent pull request number, for workflow_dispatch and auto-promotion (defaults to the event's `inputs.pr` or pull request).",
      default: '',
    },
    target: {
      description:
        "What to promote on workflow_dispatch, as after the command: stages, environments, globs or `all` (defaults to the event's `inputs.target`).",
      default: '',
    },
    noop: {
      description:
        "On workflow_dispatch, run every check without deploying (defaults to the event's `inputs.noop`).",
      default: 'false',
    },
    'auto-promote': {
      description:
        "Deploy the pull request's `autoPromote` stages now, without a command (run it as the step after open-child-prs).",
      default: 'false',
    },
    aggregate: {
      description: 'Set `fleet-promote/pipeline` after changing environment statuses.',
      default: 'true',
    },
    'verify-env': {
      description:
        "Tokens for `verify` checks: one `NAME=value` per line, each value from a workflow secret. A check's `tokenEnv` names one (the step's environment is looked at next). Every value is masked.",
      default: '',
    },
  },
  outputs: {
    decision: {
      description:
        '`deployed`, `failed`, `noop`, `refused` (nothing changed), `done` (status, lock, unlock, help) or `ignored`.',
    },
    reason: { description: 'One sentence explaining the decision.' },
    environments: { description: 'JSON array, one entry per environment the command named.' },
  },
})

export interface PromoteInputs {
  token: string
  config: string
  argocdToken: string
  argocdPollMs: number
  pr?: number
  target: string
  noop: boolean
  autoPromote: boolean
  aggregate: boolean
  verifyEnv: Map<string, string>
}

export function parseInputs(): PromoteInputs {
  const raw = readInputs(core, contract)
  if (raw['argocd-token']) core.setSecret(raw['argocd-token'])
  const verifyEnv = parseVerifyEnv(raw['verify-env'])
  for (const value of verifyEnv.values()) if (value) core.setSecret(value)
  return {
    token: raw.token,
    config: raw.config,
    argocdToken: raw['argocd-token'],
    argocdPollMs: parseSecondsInput('argocd-poll-seconds', raw['argocd-poll-seconds'] || '5', 300),
    ...(raw.pr ? { pr: parseIntegerInput('pr', raw.pr, 1) } : {}),
    target: raw.target,
    noop: parseBooleanInput('noop', raw.noop),
    autoPromote: parseBooleanInput('auto-promote', raw['auto-promote']),
    aggregate: parseBooleanInput('aggregate', raw.aggregate),
    verifyEnv,
  }
}

/**
 * The trigger from the event, or the reason it is not ours. Only who acted,
 * on which PR and what they wrote come from the payload; everything else is
 * read live.
 */
export function triggerFromEvent(
  inputs: PromoteInputs,
  eventName: string,
  payload: EventPayload,
  actor: string,
): Trigger | { ignored: string } {
  const triggeringActor = process.env.GITHUB_TRIGGERING_ACTOR || actor
  if (inputs.autoPromote) {
    const pr = inputs.pr ?? Number((payload as PullRequestPayload).pull_request?.number)
    if (!Number.isSafeInteger(pr) || pr < 1)
      throw new UserError(
        'auto-promote needs a pull request: run it on pull_request events or set the pr input',
      )
    return { kind: 'auto', pr, actor: { login: triggeringActor } }
  }
  if (eventName === 'issue_comment') {
    const { action, issue, comment } = payload as IssueCommentPayload
    if (action !== 'created') return { ignored: 'only new comments are commands' }
    if (!issue?.pull_request) return { ignored: 'the comment is on an issue, not a pull request' }
    const pr = Number(issue.number)
    const commentId = Number(comment?.id)
    const body: unknown = comment?.body
    const login: unknown = comment?.user?.login
    const type: unknown = comment?.user?.type
    if (
      !Number.isSafeInteger(pr) ||
      !Number.isSafeInteger(commentId) ||
      typeof body !== 'string' ||
      typeof login !== 'string'
    ) {
      throw new UserError(
        'the issue_comment event lacks the issue number, comment id, body or author',
      )
    }
    return {
      kind: 'comment',
      pr,
      commentId,
      body,
      actor: { login, ...(typeof type === 'string' ? { type } : {}) },
    }
  }
  const dispatchInputs = (payload as WorkflowDispatchPayload).inputs ?? {}
  const eventPr = dispatchInputs.pr
  const prText =
    inputs.pr ??
    (typeof eventPr === 'string' || typeof eventPr === 'number' ? String(eventPr) : undefined)
  const target =
    inputs.target || (typeof dispatchInputs.target === 'string' ? dispatchInputs.target : '')
  if (prText === undefined || prText === '' || target === '') {
    if (eventName === 'workflow_dispatch')
      throw new UserError('workflow_dispatch needs the pr and target inputs')
    return { ignored: `nothing to do on ${eventName} without pr and target (or auto-promote)` }
  }
  const pr = typeof prText === 'number' ? prText : parseIntegerInput('pr', prText, 1)
  const noop = inputs.noop || String(dispatchInputs.noop) === 'true'
  return { kind: 'dispatch', pr, target, noop, actor: { login: triggeringActor } }
}

export async function run(): Promise<void> {
  let scratch: string | undefined
  const rateLimits = rateLimitLedger()
  try {
    const inputs = parseInputs()
    const { context } = github
    const trigger = triggerFromEvent(inputs, context.eventName, context.payload, context.actor)
    let result: PromoteResult
    if ('ignored' in trigger) {
      result = { decision: 'ignored', reason: trigger.ignored, environments: [], rows: [] }
    } else {
      const client = createGitHubClient(github.getOctokit, inputs.token, {
        log: core.info,
        rateLimits,
      })
      // Lock commits are built in a scratch repository: the run needs no checkout.
      scratch = await mkdtemp(join(tmpdir(), 'fleet-promote-locks-'))
      const git = await Git.init(scratch, {
        bare: true,
        token: inputs.token,
        serverUrl: context.serverUrl,
      })
      result = await promote(
        {
          client,
          repo: context.repo,
          configFile: inputs.config,
          locks: {
            git,
            remote: `${context.serverUrl}/${context.repo.owner}/${context.repo.repo}.git`,
          },
          serverUrl: context.serverUrl,
          runUrl: `${context.serverUrl}/${context.repo.owner}/${context.repo.repo}/actions/runs/${context.runId}`,
          ...(inputs.argocdToken
            ? {
                argocd: (server: string) =>
                  createArgoCdClient({ server, token: inputs.argocdToken, log: core.info }),
              }
            : {}),
          argocdPollMs: inputs.argocdPollMs,
          verifyEnv: inputs.verifyEnv,
          stepEnv: (name: string) => {
            const value = process.env[name]
            if (value) core.setSecret(value)
            return value
          },
          aggregate: inputs.aggregate,
          log: core.info,
        },
        trigger,
      )
    }
    core.info(`decision: ${result.decision}: ${result.reason}`)
    writeOutputs(core, contract, {
      decision: result.decision,
      reason: result.reason,
      environments: result.rows.map((row) => ({
        name: row.environment,
        stage: row.stage,
        result: row.result,
        detail: row.detail,
        url: row.links[0]?.url ?? '',
      })),
    })
    if (result.summary) await core.summary.addRaw(result.summary).write()
    if (result.decision === 'failed') core.setFailed(result.reason)
  } catch (error) {
    failAction(core, error)
  } finally {
    await noteRateLimitWaits(core, rateLimits)
    if (scratch) await rm(scratch, { recursive: true, force: true })
  }
}
