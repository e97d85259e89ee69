import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import * as core from '@actions/core'
import * as github from '@actions/github'
import {
  defineContract,
  failAction,
  parseIntegerInput,
  parseSecondsInput,
  readInputs,
  writeOutputs,
  noteRateLimitWaits,
} from '../lib/action-io.js'
import { checkResultInput, openChildPrs, type OpenChildPrsResult } from './child-prs.js'
import type { RestoreOptions } from './restore.js'
import { loadHydration } from '../lib/hydration.js'
import { stageOrder } from '../lib/config/config.js'
import { loadBaseConfig } from '../lib/config/sources.js'
import { UserError } from '../lib/errors.js'
import { Git } from '../lib/git/git.js'
import { createGitHubClient, rateLimitLedger } from '../lib/github/client.js'
import { createArgoCdClient } from '../lib/argocd/client.js'
import type { StageInfo } from './summary.js'
import { getPullRequest } from '../lib/github/pulls.js'

export const contract = defineContract({
  inputs: {
    token: {
      description:
        'Token that can push branches and write pull requests, issues and statuses, and checks with `statuses: per-stage` (a GitHub App token lets child PR CI run).',
      required: true,
    },
    'rendered-dir': {
      description:
        'hydrate’s output directory (`hydration.json` plus the rendered files; subdirectories of matrix shards are merged). Empty: `$RUNNER_TEMP/fleet-promote/rendered`.',
      default: '',
    },
    result: {
      description:
        'Optional: hydrate’s `result` output, checked against `rendered-dir` (it must parse and name only environments found there).',
      default: '',
    },
    config: {
      description:
        "Configuration file, read from the parent's base branch (stage order and command name).",
      default: 'fleet-promote.yaml',
    },
    pr: {
      description:
        "Parent pull request number (empty: from the event: the pull request, or a workflow_dispatch's `pr` input).",
      default: '',
    },
    labels: {
      description: 'Labels for child pull requests, comma or newline separated.',
      default: '',
    },
    'tag-template': {
      description:
        'Optional Kargo-style tag per child commit, e.g. `{component}-pr-{pr}` (`{component}`/`{environment}`, `{stage}`, `{pr}`, `{sha}`), pushed in the same atomic push.',
      default: '',
    },
    'argocd-token': {
      description:
        'Argo CD API token: a cluster still running the child of an environment no longer impacted is put back on its WET branch before the child closes.',
      default: '',
    },
    'argocd-poll-seconds': {
      description: 'Seconds between Argo CD status polls while waiting for a restored Application.',
      default: '5',
    },
    'working-directory': {
      description: 'The DRY checkout hydrate rendered (holds the rendered commit).',
      default: '.',
    },
  },
  outputs: {
    children: {
      description:
        'JSON array, one entry per environment: `environment`, `stage`, `render`, `branch`, `number`, `url`, `state` (created, updated, unchanged, closed, none).',
    },
    stale: {
      description: '`true` when the parent moved on since the render and nothing was written.',
    },
  },
})

export interface OpenChildPrsInputs {
  token: string
  renderedDir: string
  result: string
  config: string
  pr?: number
  labels: string[]
  tagTemplate: string
  argocdToken: string
  argocdPollMs: number
  workingDirectory: string
}

export function parseInputs(): OpenChildPrsInputs {
  const raw = readInputs(core, contract)
  if (raw['argocd-token']) core.setSecret(raw['argocd-token'])
  return {
    token: raw.token,
    renderedDir:
      raw['rendered-dir'] || join(process.env.RUNNER_TEMP ?? tmpdir(), 'fleet-promote', 'rendered'),
    result: raw.result,
    config: raw.config || 'fleet-promote.yaml',
    ...(raw.pr ? { pr: parseIntegerInput('pr', raw.pr, 1) } : {}),
    labels: raw.labels
      .split(/[,\n]/)
      .map((label) => label.trim())
      .filter(Boolean),
    tagTemplate: raw['tag-template'],
    argocdToken: raw['argocd-token'],
    argocdPollMs: parseSecondsInput('argocd-poll-seconds', raw['argocd-poll-seconds'] || '5', 300),
    workingDirectory: raw['working-directory'] || '.',
  }
}

/** The pull request of the event: a pull_request's, an issue_comment's, or a workflow_dispatch's `pr` input. */
function parentFromEvent(payload: typeof github.context.payload): number | undefined {
  const number: unknown =
    payload.pull_request?.number ??
    payload.issue?.number ??
    (payload.inputs as { pr?: unknown } | undefined)?.pr
  const parsed = typeof number === 'string' && /^[1-9]\d*$/.test(number) ? Number(number) : number
  return typeof parsed === 'number' && Number.isSafeInteger(parsed) ? parsed : undefined
}

/** Argo CD for putting clusters back on their WET branch, when a token and a server are given. */
function restoreOptions(
  inputs: OpenChildPrsInputs,
  config: RestoreOptions['config'],
  repoURL: string,
): RestoreOptions {
  const server = config.deploy.argocd.server
  return {
    config,
    ...(inputs.argocdToken && server
      ? { argocd: createArgoCdClient({ server, token: inputs.argocdToken, log: core.info }) }
      : {}),
    repoURL,
    pollMs: inputs.argocdPollMs,
  }
}

/** The log, job summary and outputs; clusters left on a closing child fail the step. */
async function report(result: OpenChildPrsResult, parent: number): Promise<void> {
  if (result.stale) {
    core.notice(
      `nothing written: ${result.reason ?? 'the parent moved on'}; the newer run takes over`,
    )
  } else {
    core.info(`children of #${parent}: ${result.children.filter((c) => c.number !== null).length}`)
    if (result.commentUrl) core.info(`summary comment: ${result.commentUrl}`)
    await core.summary.addRaw(result.jobSummary).write()
  }
  writeOutputs(core, contract, { children: result.children, stale: result.stale })
  if (result.unrestored.length > 0) {
    core.setFailed(
      `clusters still run children of #${parent} that close or get a new render, and could not be put back on their WET branch; re-run the workflow: ${result.unrestored
        .map((item) => `${item.environment}: ${item.reason}`)
        .join('; ')}`,
    )
  }
}

export async function run(): Promise<void> {
  const rateLimits = rateLimitLedger()
  try {
    const inputs = parseInputs()
    const { context } = github
    const parent = inputs.pr ?? parentFromEvent(context.payload)
    if (parent === undefined) {
      throw new UserError(
        `cannot tell the parent pull request on ${context.eventName}: set the pr input`,
      )
    }
    const hydration = await loadHydration(resolve(inputs.renderedDir))
    checkResultInput(inputs.result, hydration)
    const workspace = resolve(process.env.GITHUB_WORKSPACE ?? '.', inputs.workingDirectory)
    const { owner, repo } = context.repo
    const client = createGitHubClient(github.getOctokit, inputs.token, {
      log: core.info,
      rateLimits,
    })
    const baseRef =
      (context.payload.pull_request?.base as { ref?: string } | undefined)?.ref ??
      (await getPullRequest(client, { owner, repo }, parent)).baseRef
    // From the base branch, never the checkout: a pull_request_target run has the PR's content there.
    const config = await loadBaseConfig(client, { owner, repo }, baseRef, inputs.config)
    if (config.defaultsNote) core.warning(config.defaultsNote)
    const stages: StageInfo[] = stageOrder(config).map((name) => ({
      name,
      autoPromote: config.stages.find((stage) => stage.name === name)?.autoPromote ?? false,
    }))
    const runUrl = process.env.GITHUB_RUN_ID
      ? `${context.serverUrl}/${owner}/${repo}/actions/runs/${process.env.GITHUB_RUN_ID}`
      : undefined
    const result = await openChildPrs({
      client,
      git: new Git(workspace, { token: inputs.token, serverUrl: context.serverUrl }),
      remote: `${context.serverUrl}/${owner}/${repo}.git`,
      repo: { owner, repo },
      parent,
      hydration,
      renderedDir: resolve(inputs.renderedDir),
      stages,
      promoteCommand: config.promote.command,
      statuses: config.statuses,
      labels: inputs.labels,
      ...(inputs.tagTemplate ? { tagTemplate: inputs.tagTemplate } : {}),
      restore: restoreOptions(inputs, config, `${context.serverUrl}/${owner}/${repo}`),
      ...(runUrl ? { runUrl } : {}),
      log: core.info,
    })
    await report(result, parent)
  } catch (error) {
    failAction(core, error)
  } finally {
    await noteRateLimitWaits(core, rateLimits)
  }
}
