import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import * as core from '@actions/core'
import {
  defineContract,
  failAction,
  parseBooleanInput,
  parseIntegerInput,
  parseJsonInput,
  readInputs,
  writeOutputs,
} from '../lib/action-io.js'
import type { Environment } from '../lib/config/types.js'
import { invalidFolderReason } from '../lib/config/naming.js'
import { UserError } from '../lib/errors.js'
import { Git, GitCredentialsError } from '../lib/git/git.js'
import type { EnvironmentHydration, HydrationResult } from '../lib/hydration-types.js'
import { hydrate } from '../lib/render/hydrate.js'
import { loadChartLock, loadRenderConfig } from '../lib/render/sources.js'
import { untrusted, tableCell } from '../lib/markdown.js'

export const contract = defineContract({
  inputs: {
    environments: {
      description:
        'JSON array of environments `{name, path, stage, branch, folder?}`: detect-impact’s `environments` output, or one matrix shard’s `environments`.',
      required: true,
    },
    config: {
      description: 'Configuration file, relative to the repository root.',
      default: 'fleet-promote.yaml',
    },
    base: {
      description:
        'Base commit to read `config` and `chart-lock` from (set it in privileged runs so the PR head cannot change them); empty reads the workspace.',
      default: '',
    },
    'chart-lock': {
      description:
        'Optional chart lock file (`charts: [{repo, chart, version, digest}]`) whose sha256 digests pulled charts must match; empty for none.',
      default: '',
    },
    'output-dir': {
      description:
        'Where to write `hydration.json` and one directory per environment (empty: `$RUNNER_TEMP/fleet-promote/rendered`).',
      default: '',
    },
    parallelism: {
      description: 'Concurrent kustomize processes (`0`: the number of CPUs).',
      default: '0',
    },
    'allow-deletions': {
      description:
        'Let renders the deletion guard blocks through. Set only by promote for an authorized, SHA-bound `.promote --allow-deletions`; never set it by hand in a workflow.',
      default: 'false',
    },
    'working-directory': {
      description: 'The DRY checkout to render (the pull request merge result).',
      default: '.',
    },
    token: {
      description:
        'Token to fetch the WET branches (and a missing base commit) from `origin` with; it is passed to git only (never saved, never seen by kustomize or Helm), so check the pull request out with `persist-credentials: false`.',
      default: '${{ github.token }}',
    },
  },
  outputs: {
    result: {
      description:
        'JSON array, one entry per environment: `name`, `status` (rendered, unchanged, failed, blocked), `reason`, `resources`, `diff` counts.',
    },
    changed: {
      description: '`true` when any environment rendered something new for its WET branch.',
    },
    'output-dir': {
      description: 'The directory holding `hydration.json` and the rendered environments.',
    },
  },
})

export interface HydrateInputs {
  environments: Environment[]
  config: string
  base: string
  chartLock: string
  outputDir: string
  parallelism: number
  allowDeletions: boolean
  workingDirectory: string
  token: string
}

function parseEnvironments(text: string): Environment[] {
  let parsed = parseJsonInput<unknown>('environments', text)
  if (
    parsed !== null &&
    typeof parsed === 'object' &&
    !Array.isArray(parsed) &&
    'environments' in parsed
  ) {
    parsed = parsed.environments
  }
  if (!Array.isArray(parsed))
    throw new UserError('input "environments" must be a JSON array of environments')
  return parsed.map((item: unknown, index) => {
    const env = (item ?? {}) as Record<string, unknown>
    for (const key of ['name', 'path', 'stage', 'branch']) {
      if (typeof env[key] !== 'string' || (key !== 'stage' && env[key] === '')) {
        throw new UserError(`input "environments": entry ${index} needs a string "${key}"`)
      }
    }
    const folder = env.folder
    const problem =
      folder === undefined
        ? undefined
        : typeof folder !== 'string'
          ? 'is not a string'
          : invalidFolderReason(folder)
    if (problem) throw new UserError(`input "environments": entry ${index}: the folder ${problem}`)
    return {
      name: env.name as string,
      path: env.path as string,
      stage: env.stage as string,
      branch: env.branch as string,
      ...(typeof folder === 'string' ? { folder } : {}),
    }
  })
}

export function parseInputs(): HydrateInputs {
  const raw = readInputs(core, contract)
  return {
    environments: parseEnvironments(raw.environments),
    config: raw.config || 'fleet-promote.yaml',
    base: raw.base,
    chartLock: raw['chart-lock'],
    outputDir:
      raw['output-dir'] || join(process.env.RUNNER_TEMP ?? tmpdir(), 'fleet-promote', 'rendered'),
    parallelism: parseIntegerInput('parallelism', raw.parallelism || '0', 0, 256),
    allowDeletions: parseBooleanInput('allow-deletions', raw['allow-deletions']),
    workingDirectory: raw['working-directory'] || '.',
    token: raw.token,
  }
}

/** The compact per-environment result (no diff text), for outputs and the next job. */
export function compactResult(result: HydrationResult) {
  return result.environments.map((env) => ({
    name: env.name,
    status: env.status,
    ...(env.reason !== undefined ? { reason: env.reason } : {}),
    resources: env.resources,
    diff: env.diff,
  }))
}

export function summaryMarkdown(result: HydrationResult, sandbox: string): string {
  const icon: Record<EnvironmentHydration['status'], string> = {
    rendered: '🆕',
    unchanged: '✅',
    failed: '❌',
    blocked: '⛔',
  }
  const rows = result.environments.map(
    (env) =>
      `| ${tableCell(untrusted(env.name))} | ${tableCell(untrusted(env.stage))} | ${icon[env.status]} ${env.status} | ${env.resources.before} → ${env.resources.after} | +${env.diff.added} ~${env.diff.changed} -${env.diff.deleted} | ${tableCell(untrusted(env.reason ?? ''))} |`,
  )
  return [
    `### fleet-promote hydrate (${result.drySha.slice(0, 7)})`,
    '',
    // The suite's own description of the isolation, not text from the pull request.
    sandbox,
    '',
    '| environment | stage | status | resources | diff | reason |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n')
}

export async function run(): Promise<void> {
  try {
    const inputs = parseInputs()
    const repoDir = resolve(process.env.GITHUB_WORKSPACE ?? process.cwd(), inputs.workingDirectory)
    const server = process.env.GITHUB_SERVER_URL ?? 'https://github.com'
    const gitOptions = inputs.token ? { token: inputs.token, serverUrl: server } : {}
    const git = new Git(repoDir, gitOptions)
    const config = await loadRenderConfig(git, repoDir, inputs.config, inputs.base)
    const chartLock = await loadChartLock(git, repoDir, inputs.chartLock, inputs.base)
    const hasOrigin = (await git.raw(['remote', 'get-url', 'origin'])).code === 0
    const { result, stats } = await hydrate({
      repoDir,
      environments: inputs.environments,
      outputDir: inputs.outputDir,
      settings: config.hydrate,
      parallelism: inputs.parallelism,
      allowDeletions: inputs.allowDeletions,
      chartLock,
      git: gitOptions,
      ...(hasOrigin ? { wetRemote: 'origin' } : {}),
      ...(process.env.GITHUB_REPOSITORY
        ? { repoURL: `${server}/${process.env.GITHUB_REPOSITORY}` }
        : {}),
      log: core.info,
    })
    core.info(
      `${stats.sandbox}; charts pulled: ${stats.chartPulls}; kustomize ${stats.tools.kustomize}, helm ${stats.tools.helm}`,
    )
    writeOutputs(core, contract, {
      result: compactResult(result),
      changed: String(result.environments.some((env) => env.status === 'rendered')),
      'output-dir': inputs.outputDir,
    })
    await core.summary.addRaw(summaryMarkdown(result, stats.sandbox)).write()
    const bad = result.environments.filter(
      (env) => env.status === 'failed' || env.status === 'blocked',
    )
    if (bad.length > 0) {
      throw new UserError(
        `${bad.length} environment(s) not rendered: ${bad.map((env) => `${env.name} (${env.status}: ${env.reason ?? 'no reason'})`).join('; ')}`,
      )
    }
  } catch (error) {
    failAction(
      core,
      error instanceof GitCredentialsError
        ? new UserError(
            `${error.message}: set the \`token\` input to a token that can read this repository ` +
              '(its default is `${{ github.token }}`; the checkout leaves git no credentials with `persist-credentials: false`)',
          )
        : error,
    )
  }
}
