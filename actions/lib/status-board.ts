// `statuses: per-stage`: the per-environment states of a stage kept in one
// check run on the parent head, `fleet-promote/stage/<stage>` (the stage
// board), instead of one commit status per environment. Every reader still
// gets one Map<context, CommitStatus> (`fleet-promote/<environment>` → its
// status), so the gate and every decision read the same as in the default
// `per-environment` mode. This file is the pure part: names, the marker, the
// combination rule and which check-run writes a set of changes needs.
//
// The name cannot collide: environment and stage names never contain "/"
// (config/naming.ts, the stage name pattern), so `fleet-promote/stage/<stage>`
// is neither `fleet-promote/<environment>` nor `fleet-promote/pipeline`, which
// branch protection matches by name across statuses and check runs.
//
// Combination rule: a commit status `fleet-promote/<environment>` on the head
// wins over the board's entry for that environment, and the suite's own
// writes for that environment then go to that commit status too. In
// per-stage mode the suite writes no such status, so one present was posted
// by an external CD (Kargo reports per environment through the status API):
// the newest word about the environment, the CD's or the suite's, decides,
// as in per-environment mode.

import { gunzipSync, gzipSync } from 'node:zlib'
import { fitItems, link, nameList, plural, table, untrusted } from './markdown.js'
import {
  sameStatus,
  statusDescription,
  STATUS_CONTEXT_PREFIX,
  type CommitStatus,
  type StatusState,
} from './statuses.js'

export type StatusesMode = 'per-environment' | 'per-stage'

export const STAGE_CHECK_PREFIX = `${STATUS_CONTEXT_PREFIX}stage/`

/** GitHub refuses a check run's `output.summary` or `output.text` over this many bytes (UTF-8) with a 422. */
export const CHECK_OUTPUT_LIMIT = 65_535

const MARKER_PREFIX = '<!-- fleet-promote:stage-board v1 '
const MARKER_SUFFIX = ' -->'
const MARKER_PATTERN = /<!-- fleet-promote:stage-board v1 ([A-Za-z0-9+/=]+) -->/

/** `fleet-promote/stage/<stage>` */
export function stageCheckName(stage: string): string {
  return `${STAGE_CHECK_PREFIX}${stage}`
}

/** The stage a check run name is the board of, or undefined. */
export function stageOfCheckName(name: string): string | undefined {
  if (!name.startsWith(STAGE_CHECK_PREFIX)) return undefined
  const stage = name.slice(STAGE_CHECK_PREFIX.length)
  return stage.length > 0 && !stage.includes('/') ? stage : undefined
}

/** One environment's entry on a board: a commit status without its context. */
export interface BoardEntry {
  state: StatusState
  description: string
  targetUrl?: string
}

/** A stage board as read from GitHub. */
export interface StageBoard {
  stage: string
  checkRunId: number
  /** The check run's status: a completed run is never reopened (a new one is created). */
  completed: boolean
  /** environment → entry; undefined when the marker is missing or malformed. */
  entries: Map<string, BoardEntry> | undefined
}

/** A check run as the reader sees it (the fields of GitHub's list response the board needs). */
export interface CheckRunLike {
  id: number
  name: string
  status: string
  output?: { text?: string | null } | null
}

/** The newest readable board per stage among a ref's check runs. */
export function boardsOf(runs: Iterable<CheckRunLike>): Map<string, StageBoard> {
  const boards = new Map<string, StageBoard>()
  for (const run of runs) {
    const stage = stageOfCheckName(run.name)
    if (stage === undefined) continue
    const current = boards.get(stage)
    // Ids grow: the highest is the newest (a reopened board is a new run).
    if (current && current.checkRunId > run.id) continue
    boards.set(stage, {
      stage,
      checkRunId: run.id,
      completed: run.status === 'completed',
      entries: parseBoardMarker(run.output?.text, stage),
    })
  }
  return boards
}

/**
 * The one Map every reader gets: the commit statuses, with each board entry
 * added as `fleet-promote/<environment>` (tagged with its stage) where no
 * commit status of that context exists. A board without a readable marker
 * adds nothing: its environments have no status, which the gate counts as
 * pending (fail closed).
 */
export function combineStatuses(
  commit: ReadonlyMap<string, CommitStatus>,
  boards: ReadonlyMap<string, StageBoard>,
): Map<string, CommitStatus> {
  const combined = new Map(commit)
  const newestFirst = [...boards.values()].sort((a, b) => b.checkRunId - a.checkRunId)
  for (const board of newestFirst) {
    for (const [environment, entry] of board.entries ?? []) {
      const context = `${STATUS_CONTEXT_PREFIX}${environment}`
      if (!combined.has(context)) combined.set(context, { context, ...entry, board: board.stage })
    }
  }
  return combined
}

/** Where a change goes: a stage's board, or a commit status (per-environment mode, an external CD's context, an environment no stage has). */
export function routeOf(
  mode: StatusesMode,
  current: CommitStatus | undefined,
  stage: string | undefined,
): { board: string } | 'commit-status' {
  if (mode === 'per-environment' || stage === undefined) return 'commit-status'
  if (current !== undefined && current.board === undefined) return 'commit-status'
  return { board: stage }
}

export type BoardConclusion = 'success' | 'failure'

/** One check-run write: a create, or an update of `checkRunId`. */
export interface CheckRunWrite {
  stage: string
  name: string
  checkRunId?: number
  /** `in_progress` while any environment is pending; else completed with the conclusion. */
  status: 'in_progress' | 'completed'
  conclusion?: BoardConclusion
  output: { title: string; summary: string; text: string }
}

export interface BoardPlanInput {
  /** The boards as read just before writing. */
  boards: ReadonlyMap<string, StageBoard>
  /** stage → environment → the status it should have (context included). */
  changes: ReadonlyMap<string, ReadonlyMap<string, CommitStatus>>
  /** The run whose job summary lists everything (linked when a summary is cut). */
  runUrl?: string
  /** stage → its environments an external CD's commit status speaks for: off the board, named under it. */
  external?: ReadonlyMap<string, readonly string[]>
}

/**
 * The check-run writes that put `changes` on the boards: one per stage whose
 * entries change, none for a stage whose board already says all of it. A
 * completed board that would be pending again gets a new run (GitHub does
 * not reliably reopen a completed one); any other change updates it.
 */
export function planBoardWrites(input: BoardPlanInput): CheckRunWrite[] {
  const writes: CheckRunWrite[] = []
  for (const [stage, changed] of [...input.changes].sort(([a], [b]) => a.localeCompare(b))) {
    const board = input.boards.get(stage)
    const external = input.external?.get(stage) ?? []
    const entries = new Map(board?.entries ?? [])
    for (const [environment, status] of changed) entries.set(environment, entryOf(status))
    for (const environment of external) entries.delete(environment)
    const next = fitMarker(stage, entries)
    if (board?.entries && sameEntries(board.entries, next.entries)) continue
    const rendered = renderBoard(stage, next.entries, next.text, input.runUrl, external)
    const reopen = board !== undefined && board.completed && rendered.status !== 'completed'
    writes.push({
      stage,
      name: stageCheckName(stage),
      ...(board && !reopen ? { checkRunId: board.checkRunId } : {}),
      ...rendered,
    })
  }
  return writes
}

function entryOf(status: CommitStatus): BoardEntry {
  return {
    state: status.state,
    description: statusDescription(status.description),
    ...(status.targetUrl ? { targetUrl: status.targetUrl } : {}),
  }
}

function sameEntries(a: ReadonlyMap<string, BoardEntry>, b: ReadonlyMap<string, BoardEntry>) {
  if (a.size !== b.size) return false
  for (const [environment, entry] of b) {
    if (!sameStatus(withContext(environment, a.get(environment)), withContext(environment, entry)))
      return false
  }
  return true
}

function withContext(environment: string, entry: BoardEntry): CommitStatus
function withContext(environment: string, entry: BoardEntry | undefined): CommitStatus | undefined
function withContext(environment: string, entry: BoardEntry | undefined) {
  return entry && { context: `${STATUS_CONTEXT_PREFIX}${environment}`, ...entry }
}

type MarkerEntry = [state: StatusState, description: number, targetUrl: number]

interface MarkerBody {
  stage: string
  /** Distinct descriptions and URLs, referenced by index (-1: none). */
  strings: string[]
  environments: Record<string, MarkerEntry>
}

/**
 * The hidden marker: the board's entries as gzipped JSON in base64 (500
 * environments with a description and a link each are about 100 KB of JSON,
 * over the 65,535 bytes a check run's text holds; repeated words compress
 * well, and base64 cannot close the HTML comment).
 */
export function encodeBoardMarker(stage: string, entries: ReadonlyMap<string, BoardEntry>): string {
  const strings: string[] = []
  const index = new Map<string, number>()
  const ref = (text: string | undefined) => {
    if (text === undefined) return -1
    let at = index.get(text)
    if (at === undefined) {
      at = strings.push(text) - 1
      index.set(text, at)
    }
    return at
  }
  const environments: Record<string, MarkerEntry> = {}
  for (const [environment, entry] of [...entries].sort(([a], [b]) => a.localeCompare(b)))
    environments[environment] = [entry.state, ref(entry.description), ref(entry.targetUrl)]
  const body: MarkerBody = { stage, strings, environments }
  const packed = gzipSync(JSON.stringify(body), { level: 9 }).toString('base64')
  return `${MARKER_PREFIX}${packed}${MARKER_SUFFIX}`
}

const STATES: readonly StatusState[] = ['pending', 'success', 'failure', 'error']

/** The entries of a board's marker, or undefined when it has none, it is malformed or names another stage. */
export function parseBoardMarker(
  text: string | null | undefined,
  stage: string,
): Map<string, BoardEntry> | undefined {
  const packed = text?.match(MARKER_PATTERN)?.[1]
  if (packed === undefined) return undefined
  let body: MarkerBody
  try {
    body = JSON.parse(gunzipSync(Buffer.from(packed, 'base64')).toString('utf8')) as MarkerBody
  } catch {
    return undefined
  }
  if (body?.stage !== stage || !Array.isArray(body.strings)) return undefined
  const string = (at: unknown) =>
    typeof at === 'number' && typeof body.strings[at] === 'string' ? body.strings[at] : undefined
  const entries = new Map<string, BoardEntry>()
  for (const [environment, raw] of Object.entries(body.environments ?? {})) {
    if (!Array.isArray(raw) || !STATES.includes(raw[0])) return undefined
    const description = string(raw[1])
    const targetUrl = string(raw[2])
    entries.set(environment, {
      state: raw[0],
      description: description ?? '',
      ...(targetUrl ? { targetUrl } : {}),
    })
  }
  return entries
}

const byteLength = (text: string) => Buffer.byteLength(text, 'utf8')

/**
 * The entries as the marker can hold them, with the marker. Only in a
 * pathological board (hundreds of long, distinct descriptions) does it not
 * fit: then descriptions are shortened, then dropped, never a state.
 */
export function fitMarker(
  stage: string,
  entries: ReadonlyMap<string, BoardEntry>,
): { entries: Map<string, BoardEntry>; text: string } {
  for (const cut of [Infinity, 60, 20, 0]) {
    const fitted = new Map(
      [...entries].map(([environment, entry]): [string, BoardEntry] => [
        environment,
        cut === Infinity ? entry : { ...entry, description: shorten(entry.description, cut) },
      ]),
    )
    const text = encodeBoardMarker(stage, fitted)
    if (byteLength(text) <= CHECK_OUTPUT_LIMIT) return { entries: fitted, text }
  }
  throw new Error(`the board of stage ${stage} holds too many environments for one check run`)
}

function shorten(text: string, max: number): string {
  if (max === 0) return ''
  const chars = [...text]
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`
}

const ORDER: Record<StatusState, number> = { failure: 0, error: 0, pending: 1, success: 2 }

/** The check run's status, conclusion, title and summary (a table of every environment, failures first, cut at GitHub's limit). */
export function renderBoard(
  stage: string,
  entries: ReadonlyMap<string, BoardEntry>,
  text: string,
  runUrl?: string,
  external: readonly string[] = [],
): Omit<CheckRunWrite, 'stage' | 'name' | 'checkRunId'> {
  const rows = [...entries].sort(
    ([a, x], [b, y]) => ORDER[x.state] - ORDER[y.state] || a.localeCompare(b),
  )
  const count = (...states: StatusState[]) =>
    rows.filter(([, entry]) => states.includes(entry.state)).length
  const failed = count('failure', 'error')
  const pending = count('pending')
  const title = [
    `${count('success')}/${rows.length} succeeded`,
    ...(failed > 0 ? [`${failed} failed`] : []),
    ...(pending > 0 ? [`${pending} pending`] : []),
  ].join(', ')
  const summary = fitItems(
    rows,
    CHECK_OUTPUT_LIMIT,
    (shown, more) =>
      [
        `**${untrusted(stage)}**: ${plural(rows.length, 'environment')}; the gate is \`fleet-promote/pipeline\`.`,
        table(
          ['environment', 'state', 'description'],
          shown.map(([environment, entry]) => [
            link(untrusted(environment), entry.targetUrl),
            entry.state,
            untrusted(entry.description),
          ]),
        ),
        more,
        external.length > 0
          ? `Reported through their own commit status \`fleet-promote/<environment>\`: ${untrusted(nameList([...external].sort(), 20))}.`
          : '',
      ]
        .filter(Boolean)
        .join('\n\n'),
    { noun: 'environments', url: runUrl },
    byteLength,
  )
  return {
    ...(failed > 0
      ? { status: 'completed', conclusion: 'failure' }
      : pending > 0
        ? { status: 'in_progress' }
        : { status: 'completed', conclusion: 'success' }),
    output: { title, summary, text },
  }
}
