// The one reply comment per command (also the job summary). The command text
// and reasons may carry hostile comment text: it only appears inside inline
// code or escaped table cells, and it was length-limited by the parser.

import { helpText } from './commands.js'
import {
  fitItems,
  GITHUB_BODY_LIMIT,
  inlineCode,
  JOB_SUMMARY_LIMIT,
  link,
  table,
  untrusted,
} from '../lib/markdown.js'

export interface ReplyRow {
  environment: string
  stage: string
  /** Its wave in a stage deployed in waves, e.g. `1 of 2`. */
  wave?: string
  /** `success`, `failure`, `waiting`, `skipped`, or a phrase such as "would deploy". */
  result: string
  detail: string
  links: { text: string; url: string }[]
  durationMs?: number
}

export interface ReplyInput {
  decision: 'deployed' | 'noop' | 'refused' | 'ignored' | 'failed' | 'done'
  reason: string
  /** The command as typed (first line, at most 200 characters). */
  command: string
  actor: string
  sha: string
  promoteCommand: string
  rows: readonly ReplyRow[]
  /** A dry run's verdict of every precheck. */
  checks?: readonly { gate: string; ok: boolean; detail: string }[]
  help?: boolean
  /** Markdown lines saying where each stage deployed in waves stands (trusted: names from config and discovery). */
  waves?: readonly string[]
  /** The run whose job summary holds every row the comment leaves out. */
  runUrl?: string
}

const HEADLINE: Record<ReplyInput['decision'], string> = {
  deployed: '🚀 fleet-promote: deployed',
  noop: '🧪 fleet-promote: dry run (--noop)',
  refused: '😕 fleet-promote: refused',
  ignored: 'fleet-promote: ignored',
  failed: '❌ fleet-promote: failed',
  done: '✅ fleet-promote',
}

const RESULT_LABEL: Record<string, string> = {
  success: '✅ success',
  failure: '❌ failure',
  error: '❌ error',
  pending: '⏳ pending',
  waiting: '⏳ waiting',
  skipped: '⏭️ skipped',
  queued: '⏸️ next wave',
  'would deploy': '🧪 would deploy',
  'would be refused': '⛔ would be refused',
  'not deployed': '⛔ not deployed',
  'already deployed': '✅ already deployed',
  'no status': '❔ no status',
}

/** `850 ms`, `4.2 s`, `3 min 05 s` */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  const seconds = Math.round(ms / 1000)
  return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`
}

/** What is worth seeing first when not every row fits: failures, then waiting, then the rest. */
const ROW_PRIORITY: Record<string, number> = { failure: 0, error: 0, waiting: 1, pending: 1 }

/**
 * The reply comment, within GitHub's body limit: when the rows do not all fit,
 * failures and waiting environments come first and the rest is counted, with
 * a link to the job summary (`renderReply(input, JOB_SUMMARY_LIMIT)`) that
 * lists every row.
 */
export function renderReply(input: ReplyInput, limit = GITHUB_BODY_LIMIT): string {
  const compose = (rows: readonly ReplyRow[], more: string) => composeReply(input, rows, more)
  const whole = compose(input.rows, '')
  if (whole.length <= limit) return whole
  const byPriority = [...input.rows].sort(
    (a, b) => (ROW_PRIORITY[a.result] ?? 2) - (ROW_PRIORITY[b.result] ?? 2),
  )
  return fitItems(byPriority, limit, compose, { noun: 'environments', url: input.runUrl })
}

/** The whole reply, every row: the job summary, bounded by GitHub's summary limit. */
export function renderReplySummary(input: ReplyInput): string {
  return renderReply(input, JOB_SUMMARY_LIMIT)
}

function composeReply(input: ReplyInput, shownRows: readonly ReplyRow[], more: string): string {
  const out: string[] = [`### ${HEADLINE[input.decision]}`, '']
  out.push(
    `${inlineCode(input.command || input.promoteCommand)} by @${input.actor} on ${inlineCode(input.sha.slice(0, 7))}`,
    '',
  )
  if (input.decision === 'refused' || input.decision === 'failed') {
    out.push(`**Reason:** ${untrusted(input.reason)}`, '')
    if (input.decision === 'refused') out.push('Nothing was changed.', '')
  } else {
    out.push(untrusted(input.reason), '')
  }
  if (input.waves) out.push(...input.waves)
  if (shownRows.length > 0) {
    const withWave = input.rows.some((row) => row.wave !== undefined)
    const withDuration = input.rows.some((row) => row.durationMs !== undefined)
    const headers = [
      'Environment',
      'Stage',
      ...(withWave ? ['Wave'] : []),
      'Result',
      'Details',
      'Link',
      ...(withDuration ? ['Duration'] : []),
    ]
    const rows = shownRows.map((row) => [
      inlineCode(row.environment),
      row.stage,
      ...(withWave ? [row.wave ?? ''] : []),
      RESULT_LABEL[row.result] ?? row.result,
      untrusted(row.detail),
      row.links.map((l) => link(l.text, l.url)).join(' · '),
      ...(withDuration ? [row.durationMs === undefined ? '' : formatDuration(row.durationMs)] : []),
    ])
    const align = headers.map((header) => (header === 'Duration' ? 'r' : 'l'))
    out.push(table(headers, rows, align), '')
  }
  if (more) out.push(more, '')
  if (input.checks && input.checks.length > 0) {
    out.push(
      '**Checks**',
      '',
      ...input.checks.map(
        (check) => `- ${check.ok ? '✅' : '❌'} ${check.gate}: ${untrusted(check.detail)}`,
      ),
      '',
    )
  }
  if (input.help) out.push(helpText(input.promoteCommand), '')
  return `${out.join('\n').trimEnd()}\n`
}
