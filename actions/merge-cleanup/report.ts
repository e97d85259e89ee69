// merge-cleanup's parent comment and job summary, and its `left` output.

import { inlineCode, link, table, untrusted } from '../lib/markdown.js'
import type {
  ApplicationReset,
  CleanupAction,
  EnvironmentCleanup,
  LeftItem,
  MergeCleanupResult,
  RepairedApplication,
} from './types.js'

export function leftItems(
  results: readonly EnvironmentCleanup[],
  repaired: readonly RepairedApplication[],
): LeftItem[] {
  const items: LeftItem[] = []
  for (const r of results) {
    const child = r.child ? { child: r.child.number } : {}
    if (r.action === 'left' || r.action === 'failed' || r.action === 'skipped') {
      items.push({ environment: r.environment, reason: r.detail, ...child })
    }
    if (r.application?.result === 'failed') {
      items.push({
        environment: r.environment,
        reason: `Argo CD Application ${r.application.name || '(unnamed)'} not back on ${r.branch}: ${r.application.detail}`,
        ...child,
      })
    }
  }
  for (const app of repaired.filter((a) => a.result === 'failed')) {
    items.push({
      environment: app.environment,
      reason: `Argo CD Application ${app.name} runs a branch that no longer exists, and could not be repaired: ${app.detail}`,
    })
  }
  return items
}

// ---------------------------------------------------------------- report

const ACTION_LABEL: Record<CleanupAction, string> = {
  merged: '✅ merged',
  current: '✅ already current',
  closed: '🚫 closed',
  left: '✋ left for a human',
  failed: '❌ failed',
  skipped: '⏸️ not reached',
}

/**
 * The parent comment: the end state of every environment, so a re-run that
 * changes nothing renders the same text and leaves the comment alone.
 */
export function renderCleanupReport(result: MergeCleanupResult, context: { base: string }): string {
  const title =
    result.parentState === 'merged'
      ? `### fleet-promote: #${result.parent} merged, children landed`
      : `### fleet-promote: #${result.parent} closed without merging, children closed`
  const lines = [title, '']
  if (result.environments.length === 0) {
    lines.push('No child pull requests were found.', '')
  } else {
    if (result.drySha) {
      lines.push(
        `Every WET branch was checked against the render of \`${context.base}\` at \`${result.drySha.slice(0, 7)}\` before merging.`,
        '',
      )
    }
    lines.push(
      table(
        ['Environment', 'Stage', 'Result', 'Child', 'Argo CD', 'Details'],
        result.environments.map((r) => [
          inlineCode(r.environment),
          r.stage,
          ACTION_LABEL[r.action],
          r.child ? link(`#${r.child.number}`, r.child.url) : '—',
          r.application ? applicationCell(r.application, r.branch) : '—',
          r.action === 'merged' && r.child
            ? `#${r.child.number} merged into ${r.branch}`
            : untrusted(r.detail),
        ]),
      ),
      '',
    )
  }
  if (result.left.length > 0) {
    lines.push('#### Left for a human', '')
    for (const item of result.left) {
      lines.push(
        `- ${inlineCode(item.environment)}${item.child ? ` (#${item.child})` : ''}: ${untrusted(item.reason)}`,
      )
    }
    lines.push('')
  }
  if (result.failed) {
    lines.push(
      'Some steps failed: re-run the workflow to finish; finished steps are not repeated.',
      '',
    )
  } else {
    lines.push(`No environment lock is held by #${result.parent} any more.`, '')
  }
  return lines.join('\n')
}

/** The job summary: the comment plus what this very run did. */
export function renderJobSummary(
  result: MergeCleanupResult,
  report: string,
  runUrl?: string,
): string {
  const done = result.environments.map((r) => {
    const app = r.application ? `; Argo CD: ${untrusted(r.application.detail)}` : ''
    const lock = r.lock === 'released' ? '; lock released' : ''
    return `- ${inlineCode(r.environment)}: ${untrusted(r.detail)}${app}${lock}`
  })
  for (const environment of result.locksReleased)
    done.push(`- ${inlineCode(environment)}: lock released`)
  for (const app of result.repaired)
    done.push(`- ${inlineCode(app.environment)}: repaired, ${untrusted(app.detail)}`)
  const run = runUrl ? `\n<sub>${link('workflow run', runUrl)}</sub>\n` : ''
  return done.length > 0
    ? `${report}\n#### This run\n\n${done.join('\n')}\n${run}`
    : `${report}${run}`
}

function applicationCell(app: ApplicationReset, branch: string): string {
  if (app.result === 'failed') return `❌ ${inlineCode(app.name)} not back on ${inlineCode(branch)}`
  if (app.result === 'kept') return `↪️ ${inlineCode(app.name)} follows another PR`
  return `✔️ ${inlineCode(app.name)} on ${inlineCode(branch)}`
}
