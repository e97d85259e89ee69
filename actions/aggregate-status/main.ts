import * as core from '@actions/core'
import * as github from '@actions/github'
import {
  defineContract,
  failAction,
  parseIntegerInput,
  parseJsonInput,
  readInputs,
  writeOutputs,
  noteRateLimitWaits,
} from '../lib/action-io.js'
import {
  parentsWithHead,
  PIPELINE_CONTEXT,
  setAggregateStatus,
  type SetAggregateResult,
} from '../lib/aggregate.js'
import { listOpenPulls } from '../lib/github/pulls.js'
import { UserError } from '../lib/errors.js'
import { createGitHubClient, rateLimitLedger, type GitHubClient } from '../lib/github/client.js'
import { STATUS_CONTEXT_PREFIX, type RepoRef } from '../lib/statuses.js'
import {
  type CheckRunPayload,
  type CheckSuitePayload,
  type EventPayload,
  type PullRequestPayload,
  type StatusPayload,
} from '../lib/github/events.js'

export const contract = defineContract({
  inputs: {
    token: {
      description:
        'GitHub token with statuses write, pull-requests read and checks read access (checks: the stage check runs of `statuses: per-stage`).',
      default: '${{ github.token }}',
    },
    sha: {
      description:
        'Commit to gate (default: from the event: `status.sha`, `check_run.head_sha`, `check_suite.head_sha`, the pull request head, or the head of `pr`).',
      default: '',
    },
    pr: {
      description:
        'Parent pull request number (default: the open pull requests whose head is `sha`).',
      default: '',
    },
    environments: {
      description: 'JSON array of environment names known to be impacted (open-child-prs’ view).',
      default: '',
    },
    error: {
      description:
        'Why the impact could not be computed (detect-impact’s `error` output): the gate fails with it as its description and links this run.',
      default: '',
    },
  },
  outputs: {
    state: {
      description: '`success`, `failure` or `pending` as set; `skipped` when nothing was set.',
    },
    description: { description: 'The status description set, or why nothing was set.' },
  },
})

export interface AggregateInputs {
  token: string
  sha: string
  pr?: number
  environments?: string[]
  error?: string
}

export function parseInputs(): AggregateInputs {
  const raw = readInputs(core, contract)
  if (raw.sha && !/^[0-9a-f]{40}$/i.test(raw.sha))
    throw new UserError(`input "sha" must be a full commit SHA, got "${raw.sha}"`)
  let environments: string[] | undefined
  if (raw.environments) {
    const parsed = parseJsonInput<unknown>('environments', raw.environments)
    if (!Array.isArray(parsed) || !parsed.every((name) => typeof name === 'string')) {
      throw new UserError('input "environments" must be a JSON array of environment names')
    }
    environments = parsed
  }
  return {
    token: raw.token,
    sha: raw.sha.toLowerCase(),
    ...(raw.pr ? { pr: parseIntegerInput('pr', raw.pr, 1) } : {}),
    ...(environments ? { environments } : {}),
    ...(raw.error ? { error: raw.error } : {}),
  }
}

export interface Outcome {
  state: 'success' | 'failure' | 'pending' | 'skipped'
  description: string
}

/**
 * The commit an event is about, or why it cannot change the gate. The gate
 * reads only `fleet-promote/<environment>` statuses, so a status of another
 * context (every CI status) and of the gate's own context (a loop) are
 * skipped without a write; a check run or check suite re-evaluates its head.
 */
export function eventCommit(
  eventName: string,
  payload: EventPayload,
): { sha: string } | { skip: string } {
  const text = (value: unknown) => (typeof value === 'string' ? value : '')
  switch (eventName) {
    case 'status': {
      const status = payload as StatusPayload
      const context = text(status.context)
      if (context === PIPELINE_CONTEXT)
        return { skip: `${PIPELINE_CONTEXT} changed; it never depends on itself` }
      if (!context.startsWith(STATUS_CONTEXT_PREFIX))
        return {
          skip: `status ${context || '(no context)'} is not fleet-promote's; the gate reads only ${STATUS_CONTEXT_PREFIX}<environment>`,
        }
      return { sha: text(status.sha) }
    }
    case 'check_run':
      return { sha: text((payload as CheckRunPayload).check_run?.head_sha) }
    case 'check_suite':
      return { sha: text((payload as CheckSuitePayload).check_suite?.head_sha) }
    default:
      return { sha: text((payload as PullRequestPayload).pull_request?.head?.sha) }
  }
}

export async function aggregate(
  client: GitHubClient,
  repo: RepoRef,
  inputs: AggregateInputs,
  eventName: string,
  payload: EventPayload,
  runUrl?: string,
): Promise<Outcome> {
  const event = eventCommit(eventName, payload)
  if ('skip' in event) return { state: 'skipped', description: event.skip }
  let sha = inputs.sha || event.sha
  let parents: number[]
  const pulls = await listOpenPulls(client, repo)
  if (inputs.pr !== undefined) {
    const pull = pulls.find((p) => p.number === inputs.pr)
    if (!pull) return { state: 'skipped', description: `#${inputs.pr} is not an open pull request` }
    sha ||= pull.headSha
    if (pull.headSha !== sha) {
      return {
        state: 'skipped',
        description: `${sha.slice(0, 7)} is no longer the head of #${inputs.pr}`,
      }
    }
    parents = [inputs.pr]
  } else {
    if (!sha)
      throw new UserError(
        `cannot tell which commit to gate on ${eventName}: set the sha or pr input`,
      )
    parents = parentsWithHead(pulls, sha).map((p) => p.number)
    if (parents.length === 0) {
      return {
        state: 'skipped',
        description: `no open parent pull request has ${sha.slice(0, 7)} as its head`,
      }
    }
  }
  const result: SetAggregateResult = await setAggregateStatus(client, repo, {
    sha,
    parents,
    pulls,
    // No configuration here: the stage boards are read too (`statuses: per-stage`).
    statuses: 'auto',
    ...(inputs.environments ? { impacted: inputs.environments } : {}),
    // The run's log is where a failure that names no environment is explained.
    ...(inputs.error ? { failure: inputs.error, ...(runUrl ? { targetUrl: runUrl } : {}) } : {}),
  })
  return result.written
    ? { state: result.state, description: result.description }
    : { state: 'skipped', description: result.description }
}

export async function run(): Promise<void> {
  const rateLimits = rateLimitLedger()
  try {
    const inputs = parseInputs()
    const { context } = github
    const client = createGitHubClient(github.getOctokit, inputs.token, {
      log: core.info,
      rateLimits,
    })
    const runUrl = process.env.GITHUB_RUN_ID
      ? `${context.serverUrl}/${context.repo.owner}/${context.repo.repo}/actions/runs/${process.env.GITHUB_RUN_ID}`
      : undefined
    const outcome = await aggregate(
      client,
      context.repo,
      inputs,
      context.eventName,
      context.payload,
      runUrl,
    )
    core.info(`${PIPELINE_CONTEXT}: ${outcome.state}: ${outcome.description}`)
    writeOutputs(core, contract, { state: outcome.state, description: outcome.description })
    await core.summary
      .addRaw(
        `### ${PIPELINE_CONTEXT}: ${outcome.state}\n\n${outcome.description.replace(/[<>`|]/g, '\\$&')}\n`,
      )
      .write()
  } catch (error) {
    failAction(core, error)
  } finally {
    await noteRateLimitWaits(core, rateLimits)
  }
}
