import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import * as core from '@actions/core'
import * as github from '@actions/github'
import {
  defineContract,
  failAction,
  parseBooleanInput,
  parseIntegerInput,
  readInputs,
  writeOutputs,
  noteRateLimitWaits,
} from '../lib/action-io.js'
import { createArgoCdClient } from '../lib/argocd/client.js'
import { Git } from '../lib/git/git.js'
import { createGitHubClient, rateLimitLedger } from '../lib/github/client.js'
import { failureReasons, parseFailOn, type FailOn } from '../lib/report/build.js'
import { gatherReport } from '../lib/report/gather.js'
import { renderReport } from '../lib/report/markdown.js'
import { parentStates, reportOutput, updateDashboard } from './dashboard.js'

export const contract = defineContract({
  inputs: {
    token: {
      description:
        'GitHub token with contents read (the DRY, WET and child branches), issues write (the dashboard issue) and pull-requests read (whether a child branch’s parent is open).',
      default: '${{ github.token }}',
    },
    config: {
      description: 'Configuration file, read at the DRY branch tip.',
      default: 'fleet-promote.yaml',
    },
    branch: {
      description:
        'The DRY branch whose tip the drift check renders (default: the repository’s default branch, or the branch the workflow runs on).',
      default: '',
    },
    'working-directory': {
      description:
        'A clone of the fleet repository, or any directory: a temporary repository is used when it is not one. Its HEAD, index and work tree are never changed.',
      default: '.',
    },
    render: {
      description:
        'Render every environment from the DRY tip and compare it with its WET branch; `false` skips the WET drift check.',
      default: 'true',
    },
    issue: {
      description: 'Create or update the dashboard issue (found by its marker and author).',
      default: 'true',
    },
    'issue-title': {
      description: 'Title of the dashboard issue.',
      default: 'fleet-promote dashboard',
    },
    'issue-labels': {
      description: 'Comma-separated labels given to the dashboard issue when it is created.',
      default: 'fleet-promote',
    },
    'fail-on': {
      description:
        'Fail the step on `drift`, `below-minimum` and/or `behind-patch` (comma-separated).',
      default: '',
    },
    'argocd-token': {
      description: 'Argo CD API token with read access to the Applications.',
      default: '',
    },
    'argocd-server': {
      description: 'Argo CD server URL; overrides `deploy.argocd.server` of the configuration.',
      default: '',
    },
    parallelism: {
      description: 'Render processes at once (0 = the number of CPUs).',
      default: '0',
    },
  },
  outputs: {
    report: { description: 'The report as JSON.' },
    'report-file': { description: 'Path of a file holding the whole report JSON.' },
    'issue-url': { description: 'URL of the dashboard issue.' },
    drift: { description: 'Number of drift findings.' },
    'behind-patch': { description: 'Clusters with an add-on behind the newest patch.' },
    'below-minimum': { description: 'Clusters with an add-on below its required minimum.' },
  },
})

export interface FleetReportInputs {
  token: string
  config: string
  branch: string
  workingDirectory: string
  render: boolean
  issue: boolean
  issueTitle: string
  issueLabels: string[]
  failOn: Set<FailOn>
  argocdToken: string
  argocdServer: string
  parallelism: number
}

export function parseInputs(): FleetReportInputs {
  const raw = readInputs(core, contract)
  if (raw['argocd-token']) core.setSecret(raw['argocd-token'])
  return {
    token: raw.token,
    config: raw.config || 'fleet-promote.yaml',
    branch: raw.branch,
    workingDirectory: resolve(raw['working-directory'] || '.'),
    render: parseBooleanInput('render', raw.render || 'true'),
    issue: parseBooleanInput('issue', raw.issue || 'true'),
    issueTitle: raw['issue-title'] || 'fleet-promote dashboard',
    issueLabels: (raw['issue-labels'] || 'fleet-promote')
      .split(',')
      .map((label) => label.trim())
      .filter(Boolean),
    failOn: parseFailOn(raw['fail-on'], 'input "fail-on"'),
    argocdToken: raw['argocd-token'],
    argocdServer: raw['argocd-server'],
    parallelism: parseIntegerInput('parallelism', raw.parallelism || '0', 0, 64),
  }
}

/** The input, else the repository's default branch from the event, else the branch the run is on. */
function dryBranch(inputs: FleetReportInputs, context: typeof github.context): string {
  if (inputs.branch) return inputs.branch
  const fromEvent = (context.payload.repository as { default_branch?: unknown } | undefined)
    ?.default_branch
  if (typeof fromEvent === 'string' && fromEvent) return fromEvent
  return context.ref.startsWith('refs/heads/') ? context.ref.slice('refs/heads/'.length) : 'main'
}

/** The checkout, or (none) an empty repository with origin set: everything is fetched. */
async function openWorkspace(
  workingDirectory: string,
  repositoryUrl: string,
): Promise<{ dir: string; scratch?: string }> {
  if (existsSync(join(workingDirectory, '.git'))) return { dir: workingDirectory }
  const scratch = await mkdtemp(join(tmpdir(), 'fleet-promote-workspace-'))
  await Git.init(scratch)
  await new Git(scratch).run(['remote', 'add', 'origin', `${repositoryUrl}.git`])
  return { dir: scratch, scratch }
}

/** The report file, the outputs and the job summary. */
async function publish(
  report: Awaited<ReturnType<typeof gatherReport>>['report'],
  issueUrl: string,
  runUrl: string,
): Promise<void> {
  const file = join(process.env.RUNNER_TEMP || tmpdir(), 'fleet-report.json')
  await writeFile(file, `${JSON.stringify(report)}\n`)
  writeOutputs(core, contract, {
    report: reportOutput(report),
    'report-file': file,
    'issue-url': issueUrl,
    drift: report.drift.length,
    'behind-patch': report.totals.behindPatch,
    'below-minimum': report.totals.belowMinimum,
  })
  await core.summary
    .addRaw(renderReport(report, { limit: SUMMARY_LIMIT, runUrl, rowsPerSection: 200 }))
    .write()
}

export async function run(): Promise<void> {
  let scratch: string | undefined
  const rateLimits = rateLimitLedger()
  try {
    const inputs = parseInputs()
    const { context } = github
    const { owner, repo } = context.repo
    const repositoryUrl = `${context.serverUrl}/${owner}/${repo}`
    const workspace = await openWorkspace(inputs.workingDirectory, repositoryUrl)
    scratch = workspace.scratch
    const git = new Git(workspace.dir, { token: inputs.token, serverUrl: context.serverUrl })
    const client = createGitHubClient(github.getOctokit, inputs.token, {
      log: core.info,
      rateLimits,
    })
    const argocdToken = inputs.argocdToken
    const { report, stats } = await gatherReport({
      git,
      configFile: inputs.config,
      dryBranch: dryBranch(inputs, context),
      remote: 'origin',
      render: inputs.render,
      ...(argocdToken
        ? {
            argocd: (server: string) =>
              createArgoCdClient({ server, token: argocdToken, log: core.info }),
          }
        : {}),
      ...(inputs.argocdServer ? { argocdServer: inputs.argocdServer } : {}),
      argocdSkipped: 'no argocd-token',
      parentStates: (parents) => parentStates(client, { owner, repo }, parents),
      repositoryUrl,
      ...(inputs.parallelism > 0 ? { parallelism: inputs.parallelism } : {}),
      log: core.info,
    })
    core.info(
      `${report.totals.environments} environments: ${stats.lsRemote} ls-remote, ${stats.fetches} fetch, ${stats.argocdCalls} Argo CD list, ${stats.chartRepositories} chart repositories; phases ${JSON.stringify(stats.phases)}`,
    )
    for (const warning of report.warnings) core.warning(warning)
    const runUrl = `${repositoryUrl}/actions/runs/${context.runId}`
    const issueUrl = inputs.issue
      ? await updateDashboard(client, { owner, repo }, report, {
          title: inputs.issueTitle,
          labels: inputs.issueLabels,
          runUrl,
        })
      : ''
    await publish(report, issueUrl, runUrl)
    const reasons = failureReasons(report, inputs.failOn)
    if (reasons.length > 0) core.setFailed(`fleet report: ${reasons.join('; ')} (fail-on)`)
  } catch (error) {
    failAction(core, error)
  } finally {
    await noteRateLimitWaits(core, rateLimits)
    if (scratch) await rm(scratch, { recursive: true, force: true })
  }
}

/** GitHub keeps at most 1 MiB of one step's summary. */
const SUMMARY_LIMIT = 1024 * 1024 - 1024
