import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
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
import { createArgoCdClient } from '../lib/argocd/client.js'
import { UserError } from '../lib/errors.js'
import { Git } from '../lib/git/git.js'
import { createGitHubClient, rateLimitLedger } from '../lib/github/client.js'
import { mergeCleanup, openParentNote } from './merge-cleanup.js'

export const contract = defineContract({
  inputs: {
    token: {
      description:
        'GitHub token with contents, pull-requests and issues write access (it pushes child branches, merges and closes child PRs, deletes branches and comments on the parent), and statuses (checks with `statuses: per-stage`) for the stale children of other parents.',
      required: true,
    },
    config: {
      description: 'Configuration file, read from the base branch HEAD (never from the PR head).',
      default: 'fleet-promote.yaml',
    },
    'argocd-token': {
      description:
        'Argo CD API token, for stages with the `argocd` backend (Applications are reset to their WET branches).',
      default: '',
    },
    'argocd-poll-seconds': {
      description:
        'Seconds between Argo CD status polls while waiting for a restored Application to be Synced and Healthy.',
      default: '5',
    },
    'argocd-server': {
      description: 'Argo CD server URL; overrides `deploy.argocd.server` of the configuration.',
      default: '',
    },
    pr: {
      description: "Parent pull request number (defaults to the `pull_request` event's).",
      default: '',
    },
    'working-directory': {
      description:
        'A git repository to work in (an actions/checkout workspace, or any directory: a temporary repository is used when it is not one). Its HEAD and index are never changed.',
      default: '.',
    },
    parallelism: {
      description: 'Environments handled at once within a stage, and render processes.',
      default: '4',
    },
    'rerender-workflow': {
      description:
        'The pull request workflow file (under `.github/workflows`, with a `workflow_dispatch` trigger taking `pr`) to dispatch for each other open parent whose children this landing made stale, so they are re-rendered on the new tips (needs `actions: write`); empty: none, their statuses ask for a push or a re-run.',
      default: 'fleet-promote-pr.yml',
    },
  },
  outputs: {
    merged: {
      description:
        'JSON array of the environments whose change landed on their WET branch (child merged, or the branch already held the render).',
    },
    closed: {
      description: 'JSON array of the environments whose child was closed without merging.',
    },
    left: {
      description:
        'JSON array of what is left for a human, each `{environment, reason, child}`: a child kept open, a failed step, an Application not back on its WET branch (the step then fails).',
    },
  },
})

export interface MergeCleanupInputs {
  token: string
  config: string
  argocdToken: string
  argocdServer: string
  argocdPollMs: number
  pr?: number
  workingDirectory: string
  parallelism: number
  rerenderWorkflow: string
}

export function parseInputs(): MergeCleanupInputs {
  const raw = readInputs(core, contract)
  if (raw['argocd-token']) core.setSecret(raw['argocd-token'])
  return {
    token: raw.token,
    config: raw.config || 'fleet-promote.yaml',
    argocdToken: raw['argocd-token'],
    argocdServer: raw['argocd-server'],
    argocdPollMs: parseSecondsInput('argocd-poll-seconds', raw['argocd-poll-seconds'] || '5', 300),
    ...(raw.pr ? { pr: parseIntegerInput('pr', raw.pr, 1) } : {}),
    workingDirectory: resolve(raw['working-directory'] || '.'),
    parallelism: parseIntegerInput('parallelism', raw.parallelism || '4', 1, 64),
    rerenderWorkflow: parseWorkflowFile(raw['rerender-workflow']),
  }
}

/** A workflow file name as the dispatch API takes it (`fleet-promote-pr.yml`), or '' for none. */
export function parseWorkflowFile(value: string): string {
  const name = value.trim().replace(/^\.github\/workflows\//, '')
  if (name !== '' && !/^[\w.-]+\.ya?ml$/.test(name)) {
    throw new UserError(
      `rerender-workflow: "${value}" is not a workflow file name such as fleet-promote-pr.yml`,
    )
  }
  return name
}

/** The parent PR: the input, else the pull_request event's. */
export function parentFromEvent(
  inputs: MergeCleanupInputs,
  payload: Record<string, unknown>,
): number {
  if (inputs.pr !== undefined) return inputs.pr
  const pull = payload.pull_request as { number?: unknown } | undefined
  const number = pull?.number
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 1) {
    throw new UserError('merge-cleanup runs on pull_request closed events, or needs the pr input')
  }
  return number
}

export async function run(): Promise<void> {
  let scratch: string | undefined
  const rateLimits = rateLimitLedger()
  try {
    const inputs = parseInputs()
    const { context } = github
    const parent = parentFromEvent(inputs, context.payload)
    const { owner, repo } = context.repo
    let dir = inputs.workingDirectory
    if (!existsSync(join(dir, '.git'))) {
      // No checkout: everything is fetched from the remote, so an empty repository will do.
      scratch = await mkdtemp(join(tmpdir(), 'fleet-promote-workspace-'))
      dir = scratch
      await Git.init(dir)
    }
    const git = new Git(dir, { token: inputs.token, serverUrl: github.context.serverUrl })
    const client = createGitHubClient(github.getOctokit, inputs.token, {
      log: core.info,
      rateLimits,
    })
    const result = await mergeCleanup({
      client,
      git,
      remote: `${context.serverUrl}/${owner}/${repo}.git`,
      repo: { owner, repo },
      parent,
      configFile: inputs.config,
      serverUrl: context.serverUrl,
      runUrl: `${context.serverUrl}/${owner}/${repo}/actions/runs/${context.runId}`,
      ...(inputs.argocdToken
        ? {
            argocd: (server: string) =>
              createArgoCdClient({ server, token: inputs.argocdToken, log: core.info }),
          }
        : {}),
      ...(inputs.argocdServer ? { argocdServer: inputs.argocdServer } : {}),
      argocdPollMs: inputs.argocdPollMs,
      parallelism: inputs.parallelism,
      rerenderWorkflow: inputs.rerenderWorkflow,
      log: core.info,
    })
    if (result.parentState === 'open') core.notice(openParentNote(parent))
    else
      core.info(
        `#${parent} ${result.parentState}: merged ${result.merged.length}, closed ${result.closed.length}, left ${result.left.length}`,
      )
    writeOutputs(core, contract, {
      merged: result.merged,
      closed: result.closed,
      left: result.left,
    })
    await core.summary.addRaw(result.summary).write()
    if (result.failed) {
      const list = result.left.map((item) => `${item.environment}: ${item.reason}`).join('; ')
      core.setFailed(
        `some environments did not finish or a cluster is not back on its WET branch; re-run the workflow to complete the cleanup (${list})`,
      )
    }
  } catch (error) {
    failAction(core, error)
  } finally {
    await noteRateLimitWaits(core, rateLimits)
    if (scratch) await rm(scratch, { recursive: true, force: true })
  }
}
