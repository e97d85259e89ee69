import * as core from '@actions/core'
import * as github from '@actions/github'
import {
  defineContract,
  failAction,
  parseIntegerInput,
  parseJsonInput,
  readInputs,
  writeOutputs,
} from '../lib/action-io.js'
import {
  parentsWithHead,
  PIPELINE_CONTEXT,
  setAggregateStatus,
  type SetAggregateResult,
} from '../lib/aggregate.js'
import { listOpenPulls } from '../lib/github/pulls.js'
import { UserError } from '../lib/errors.js'
import { createGitHubClient, type GitHubClient } from '../lib/github/client.js'
import type { RepoRef } from '../lib/statuses.js'
import {
  type CheckRunPayload,
  type EventPayload,
  type PullRequestPayload,
  type StatusPayload,
} from '../lib/github/events.js'

export const contract = defineContract({
  inputs: {
    token: {
      description: 'GitHub token with statuses write and pull-requests read access.',
      default: '${{ github.token }}',
    },
    sha: {
      description:
        'Commit to gate (default: from the event: `status.sha`, `check_run.head_sha`, the pull request head, or the head of `pr`).',
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
}

export function parseInputs(): AggregateInputs {
  const raw = readInputs(contract)
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
  }
}

export interface Outcome {
  state: 'success' | 'failure' | 'pending' | 'skipped'
  description: string
}

export async function aggregate(
  client: GitHubClient,
  repo: RepoRef,
  inputs: AggregateInputs,
  eventName: string,
  payload: EventPayload,
): Promise<Outcome> {
  // Our own context changing must not feed back into itself.
  if (eventName === 'status' && (payload as StatusPayload).context === PIPELINE_CONTEXT) {
    return {
      state: 'skipped',
      description: `${PIPELINE_CONTEXT} changed; it never depends on itself`,
    }
  }
  const fromEvent: unknown =
    eventName === 'status'
      ? (payload as StatusPayload).sha
      : eventName === 'check_run'
        ? (payload as CheckRunPayload).check_run?.head_sha
        : (payload as PullRequestPayload).pull_request?.head?.sha
  let sha = inputs.sha || (typeof fromEvent === 'string' ? fromEvent : '')
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
    ...(inputs.environments ? { impacted: inputs.environments } : {}),
  })
  return result.written
    ? { state: result.state, description: result.description }
    : { state: 'skipped', description: result.description }
}

export async function run(): Promise<void> {
  try {
    const inputs = parseInputs()
    const { context } = github
    const client = createGitHubClient(inputs.token, { log: core.info })
    const outcome = await aggregate(
      client,
      context.repo,
      inputs,
      context.eventName,
      context.payload,
    )
    core.info(`${PIPELINE_CONTEXT}: ${outcome.state}: ${outcome.description}`)
    writeOutputs(contract, { state: outcome.state, description: outcome.description })
    await core.summary
      .addRaw(
        `### ${PIPELINE_CONTEXT}: ${outcome.state}\n\n${outcome.description.replace(/[<>`|]/g, '\\$&')}\n`,
      )
      .write()
  } catch (error) {
    failAction(error)
  }
}
