import { resolve } from 'node:path'
import * as core from '@actions/core'
import {
  defineContract,
  failAction,
  parseIntegerInput,
  readInputs,
  writeOutputs,
} from '../lib/action-io.js'
import type { Environment } from '../lib/config/types.js'
import { errorMessage, UserError } from '../lib/errors.js'
import { statusDescription } from '../lib/statuses.js'
import { Git } from '../lib/git/git.js'
import { detectImpact, type DetectResult } from '../lib/kustomize/impact.js'
import {
  workflowEvent,
  type EventPayload,
  type MergeGroupPayload,
  type PullRequestPayload,
  type PushPayload,
} from '../lib/github/events.js'
import { untrusted, tableCell } from '../lib/markdown.js'

export const contract = defineContract({
  inputs: {
    config: {
      description:
        'Configuration file, relative to the repository root. Always read at the base revision.',
      default: 'fleet-promote.yaml',
    },
    base: {
      description:
        'Base revision (default: from the event: `pull_request.base.sha`, `merge_group.base_sha`, `before` of a push; on `workflow_dispatch`, the first parent of the checked-out test merge `refs/pull/<pr>/merge`).',
      default: '',
    },
    head: {
      description:
        'Head revision (default: from the event: `pull_request.head.sha`, `merge_group.head_sha`, `after` of a push; on `workflow_dispatch`, the second parent of the checked-out test merge).',
      default: '',
    },
    'shard-size': {
      description: 'Environments per entry of the `matrix` output.',
      default: '10',
    },
    'working-directory': {
      description: 'The repository checkout (relative to the workspace).',
      default: '.',
    },
  },
  outputs: {
    environments: {
      description:
        'JSON array of impacted environments `{name, path, stage, branch, folder?}` (`folder`: its place on a shared WET branch), in stage order.',
    },
    stages: {
      description: 'JSON array of the stage names that have impacted environments, in order.',
    },
    count: { description: 'Number of impacted environments.' },
    matrix: {
      description:
        'JSON for `strategy.matrix`: `{"include": [{"shard": 1, "environments": "<JSON array>"}, …]}`; `include` is empty when nothing is impacted.',
    },
    external: {
      description:
        'JSON array of remote dependencies of impacted environments `{kind, reference, file, line, environments}`.',
    },
    problems: {
      description:
        'JSON object: environment name → what breaks its kustomize dependency graph at the head (`file:line: problem`). Such an environment is impacted and its render fails; the run does not.',
    },
    base: {
      description:
        'The base revision compared (the input, or the one read from the event or the test merge): for hydrate’s `base`.',
    },
    head: { description: 'The head revision compared.' },
    error: {
      description:
        'Set only when the step fails (an input or configuration problem no environment can be blamed for): why, one line, for `aggregate-status`’ `error` input.',
    },
  },
})

export interface DetectInputs {
  config: string
  base: string
  head: string
  shardSize: number
  workingDirectory: string
}

/** Base and head from the triggering event, for the inputs left empty. */
export function revisionsFromEvent(
  eventName: string,
  payload: EventPayload,
): { base: string; head: string } {
  if (eventName === 'pull_request' || eventName === 'pull_request_target') {
    const { pull_request: pull } = payload as PullRequestPayload
    return { base: pull?.base?.sha ?? '', head: pull?.head?.sha ?? '' }
  }
  if (eventName === 'merge_group') {
    const { merge_group: group } = payload as MergeGroupPayload
    return { base: group?.base_sha ?? '', head: group?.head_sha ?? '' }
  }
  if (eventName === 'push') {
    const { before = '', after = '' } = payload as PushPayload
    return { base: /^0+$/.test(before) ? '' : before, head: after }
  }
  return { base: '', head: '' }
}

export function parseInputs(eventName: string, payload: EventPayload): DetectInputs {
  const raw = readInputs(core, contract)
  const fromEvent = revisionsFromEvent(eventName, payload)
  const base = raw.base || fromEvent.base
  const head = raw.head || fromEvent.head
  // A dispatched run (a re-render merge-cleanup asked for) reads them from the test merge.
  if ((!base || !head) && eventName !== 'workflow_dispatch') {
    const article = /^[aeiou]/i.test(eventName) ? 'an' : 'a'
    throw new UserError(
      `cannot tell the base and head revisions of ${article} ${eventName} event: set the base and head inputs`,
    )
  }
  return {
    config: raw.config || 'fleet-promote.yaml',
    base,
    head,
    shardSize: parseIntegerInput('shard-size', raw['shard-size'], 1, 256),
    workingDirectory: raw['working-directory'] || '.',
  }
}

/**
 * Base and head of a pull request's test merge (`refs/pull/<pr>/merge`, what a
 * dispatched run checks out): its two parents, so the run compares exactly
 * what it renders, on the base GitHub merged it with.
 */
export async function revisionsFromTestMerge(
  git: Git,
  given: { base: string; head: string },
): Promise<{ base: string; head: string }> {
  if (given.base && given.head) return given
  const [base, head, third] = await Promise.all(
    ['HEAD^1', 'HEAD^2', 'HEAD^3'].map((rev) => git.tryRevParse(rev)),
  )
  if (!base || !head || third) {
    throw new UserError(
      'cannot tell the base and head revisions of a workflow_dispatch run: check out refs/pull/<pr>/merge (a test merge, two parents) with its parents (fetch-depth 2 or more), or set the base and head inputs',
    )
  }
  return { base: given.base || base, head: given.head || head }
}

/** Splits environments into `strategy.matrix` shards; each carries its environments as a JSON string. */
export function shardMatrix(environments: readonly Environment[], shardSize: number) {
  const include: { shard: number; environments: string }[] = []
  for (let i = 0; i < environments.length; i += shardSize) {
    include.push({
      shard: include.length + 1,
      environments: JSON.stringify(environments.slice(i, i + shardSize)),
    })
  }
  return { include }
}

/** Markdown: impacted environments per stage, each with the changes that caused it. */
export function summaryMarkdown(result: DetectResult): string {
  const lines = [
    `### detect-impact: ${result.count} environment${result.count === 1 ? '' : 's'} impacted`,
    '',
    `Base \`${result.base.slice(0, 12)}\`, head \`${result.head.slice(0, 12)}\`, merge base \`${result.mergeBase.slice(0, 12)}\`, ${result.changedFiles.length} changed file${result.changedFiles.length === 1 ? '' : 's'}.`,
  ]
  for (const stage of result.stages) {
    lines.push(
      '',
      `#### ${untrusted(stage)}`,
      '',
      '| environment | path | because of |',
      '| --- | --- | --- |',
    )
    for (const env of result.environments.filter((e) => e.stage === stage)) {
      const reasons = result.reasons[env.name] ?? []
      const shown = reasons
        .slice(0, 10)
        .map((reason) => tableCell(untrusted(reason)))
        .join('<br>')
      lines.push(
        `| ${tableCell(untrusted(env.name))} | ${tableCell(untrusted(env.path))} | ${shown}${reasons.length > 10 ? `<br>… ${reasons.length - 10} more` : ''} |`,
      )
    }
  }
  const broken = Object.entries(result.problems)
  if (broken.length > 0) {
    lines.push('', '#### Broken at the head (their render fails)', '')
    for (const [name, problems] of broken)
      lines.push(`- ${untrusted(name)}: ${problems.map((p) => untrusted(p)).join('; ')}`)
  }
  if (result.external.length > 0) {
    lines.push('', '#### Remote dependencies (not followed)', '')
    for (const ref of result.external) {
      lines.push(
        `- ${ref.kind} \`${ref.reference.replace(/`/g, "'")}\` in ${untrusted(ref.file)}${ref.line ? `:${ref.line}` : ''} (${ref.environments.length} environment${ref.environments.length === 1 ? '' : 's'})`,
      )
    }
  }
  return `${lines.join('\n')}\n`
}

export async function run(): Promise<void> {
  try {
    // Not @actions/github: the event is all this action needs of it.
    const { eventName, payload } = workflowEvent()
    const inputs = parseInputs(eventName, payload)
    const repoDir = resolve(process.env.GITHUB_WORKSPACE ?? process.cwd(), inputs.workingDirectory)
    const git = new Git(repoDir)
    const { base, head } = await revisionsFromTestMerge(git, inputs)
    const result = await detectImpact({ git, base, head, configFile: inputs.config })
    for (const warning of result.warnings) core.warning(`base revision: ${warning}`)
    for (const issue of result.headIssues) {
      core.warning(`${issue.message}; the environments loading it fail to render`, {
        file: issue.file,
        ...(issue.line !== undefined ? { startLine: issue.line } : {}),
      })
    }
    core.info(
      `${result.count} impacted: ${result.environments.map((env) => env.name).join(', ') || '(none)'}`,
    )
    writeOutputs(core, contract, {
      environments: result.environments,
      stages: result.stages,
      count: result.count,
      matrix: shardMatrix(result.environments, inputs.shardSize),
      external: result.external,
      problems: result.problems,
      base,
      head,
      error: '',
    })
    await core.summary.addRaw(summaryMarkdown(result)).write()
  } catch (error) {
    core.setOutput('error', statusDescription(`detect-impact failed: ${errorMessage(error)}`))
    failAction(core, error)
  }
}
