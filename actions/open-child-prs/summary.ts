// open-child-prs' Markdown: the sticky parent comment, the child PR body and
// the job summary.

import { encodeMarker, type ChildMarker } from '../lib/children.js'
import type { HydrationStatus, ResourceChange } from '../lib/hydration-types.js'
import {
  GITHUB_BODY_LIMIT,
  JOB_SUMMARY_LIMIT,
  codeBlock,
  details,
  fitItems,
  inlineCode,
  link,
  nameList,
  plural,
  table,
  truncate,
  untrusted,
} from '../lib/markdown.js'

export const SUMMARY_MARKER = '<!-- fleet-promote:summary -->'

/** Closed children named in the comment; the job summary has every one. */
const CLOSED_SHOWN = 20

export type ChildState = 'created' | 'updated' | 'unchanged' | 'closed' | 'none'

export interface EnvironmentReport {
  environment: string
  stage: string
  status: HydrationStatus
  reason?: string
  resources: { before: number; after: number }
  diff: { added: number; changed: number; deleted: number }
  changes: readonly ResourceChange[]
  child?: { number: number; url: string; state: ChildState }
}

export interface ClosedChild {
  environment: string
  number: number
  url: string
  /** What became of its cluster and lock, e.g. "Argo CD `x` back on its WET branch, lock released". */
  note?: string
}

export interface StageInfo {
  name: string
  autoPromote: boolean
}

export interface SummaryInput {
  parent: number
  headSha: string
  drySha: string
  /** Stages in promotion order. */
  stages: readonly StageInfo[]
  promoteCommand: string
  environments: readonly EnvironmentReport[]
  closed: readonly ClosedChild[]
  /** Link for failures (the workflow run), when known. */
  runUrl?: string
  /** For tests: the size limit (defaults to GitHub's). */
  limit?: number
}

const STATUS_LABEL: Record<HydrationStatus, string> = {
  rendered: '🟡 pending',
  unchanged: '✅ unchanged',
  failed: '❌ render failed',
  blocked: '⛔ blocked',
}

function changeCounts(diff: EnvironmentReport['diff']): string {
  return `+${diff.added} ~${diff.changed} −${diff.deleted}`
}

/** One environment's object diffs as a single `diff` text (stable order). */
export function environmentDiff(changes: readonly ResourceChange[]): string {
  return changes
    .map((change) => {
      const id = `${change.kind} ${change.namespace ? `${change.namespace}/` : ''}${change.name}`
      const body = change.diff.endsWith('\n') ? change.diff : `${change.diff}\n`
      return `# ${change.change}: ${id} (${change.apiVersion})\n${body}`
    })
    .join('')
}

/** The stage shown to the user as the next `.promote` target, if any. */
export function nextStage(
  stages: readonly StageInfo[],
  environments: readonly EnvironmentReport[],
): string | undefined {
  const pending = new Set(environments.filter((e) => e.status === 'rendered').map((e) => e.stage))
  return stages.find((stage) => pending.has(stage.name) && !stage.autoPromote)?.name
}

function sortStages(
  stages: readonly StageInfo[],
  environments: readonly EnvironmentReport[],
): StageInfo[] {
  const known = new Map(stages.map((s) => [s.name, s]))
  const extra = [...new Set(environments.map((e) => e.stage))]
    .filter((name) => !known.has(name))
    .sort()
    .map((name) => ({ name, autoPromote: false }))
  return [...stages, ...extra]
}

interface DiffGroup {
  text: string
  environments: string[]
  diff: EnvironmentReport['diff']
}

/** Identical rendered diffs across environments, largest groups first. */
export function groupDiffs(environments: readonly EnvironmentReport[]): DiffGroup[] {
  const groups = new Map<string, DiffGroup>()
  for (const env of environments) {
    if (env.status !== 'rendered' || env.changes.length === 0) continue
    const text = environmentDiff(env.changes)
    const group = groups.get(text)
    if (group) group.environments.push(env.environment)
    else groups.set(text, { text, environments: [env.environment], diff: env.diff })
  }
  return [...groups.values()]
    .map((g) => ({ ...g, environments: [...g.environments].sort() }))
    .sort(
      (a, b) =>
        b.environments.length - a.environments.length ||
        (a.environments[0] ?? '').localeCompare(b.environments[0] ?? ''),
    )
}

/** What the reader needs first when not every environment fits: problems, then stage order. */
function byPriority(input: SummaryInput): EnvironmentReport[] {
  const stageIndex = new Map(
    sortStages(input.stages, input.environments).map((s, i) => [s.name, i]),
  )
  const problem = (env: EnvironmentReport) =>
    env.status === 'failed' || env.status === 'blocked' ? 0 : 1
  return [...input.environments].sort(
    (a, b) =>
      problem(a) - problem(b) ||
      (stageIndex.get(a.stage) ?? 0) - (stageIndex.get(b.stage) ?? 0) ||
      a.environment.localeCompare(b.environment),
  )
}

/**
 * The sticky summary comment of the parent PR, within GitHub's size limit:
 * the largest diffs are left out first; when the environment rows still do
 * not fit, problems come first and the rest is counted ("…and N more
 * environments") with a link to the job summary, which lists every one.
 */
export function renderSummaryComment(input: SummaryInput): string {
  const limit = (input.limit ?? GITHUB_BODY_LIMIT) - 64
  const groups = groupDiffs(input.environments)
  // Leaving out the k largest diffs: the fewest that make the comment fit (binary search, as fitItems).
  const bySize = groups.map((g, i) => ({ i, size: g.text.length })).sort((a, b) => b.size - a.size)
  const largest = (k: number) => new Set(bySize.slice(0, k).map(({ i }) => i))
  const compose = (k: number) => composeSummary(input, groups, largest(k), input.environments, '')
  let low = 0
  let high = groups.length
  if (compose(high).length <= limit) {
    while (low < high) {
      const middle = Math.floor((low + high) / 2)
      if (compose(middle).length <= limit) high = middle
      else low = middle + 1
    }
    return compose(low)
  }
  const omitted = largest(groups.length)
  return fitItems(
    byPriority(input),
    limit,
    (shown, more) => composeSummary(input, groups, omitted, shown, more),
    { noun: 'environments', url: input.runUrl },
  )
}

/** The comment's sections, in order; each returns its lines (a leading '' separates). */
function composeSummary(
  input: SummaryInput,
  groups: readonly DiffGroup[],
  omitted: ReadonlySet<number>,
  shown: readonly EnvironmentReport[],
  more: string,
): string {
  const shownNames = new Set(shown.map((e) => e.environment))
  const out = [
    SUMMARY_MARKER,
    ...headline(input),
    ...problemsSection(input, shownNames),
    ...omittedNote(omitted.size),
    ...nextStep(input),
    ...stageTables(input, shown),
    ...(more ? ['', more] : []),
    ...diffSection(groups, omitted, shownNames),
    ...closedLine(input.closed),
  ]
  return `${out.join('\n')}\n`
}

function countOf(envs: readonly EnvironmentReport[], status: HydrationStatus): number {
  return envs.filter((e) => e.status === status).length
}

function headline(input: SummaryInput): string[] {
  const envs = input.environments
  const count = (status: HydrationStatus) => countOf(envs, status)
  return [
    `### fleet-promote: ${plural(envs.length, 'environment')} impacted by #${input.parent}`,
    '',
    `Rendered DRY commit \`${input.drySha.slice(0, 12)}\` for head \`${input.headSha.slice(0, 12)}\`: ` +
      `${count('rendered')} changed · ${count('unchanged')} unchanged · ${count('failed')} failed · ${count('blocked')} blocked`,
  ]
}

function problemsSection(input: SummaryInput, shownNames: ReadonlySet<string>): string[] {
  const problems = input.environments.filter((e) => e.status === 'failed' || e.status === 'blocked')
  if (problems.length === 0) return []
  const out = [
    '',
    '> [!CAUTION]',
    `> **${plural(problems.length, 'environment')} cannot be promoted**`,
  ]
  for (const env of problems.filter((e) => shownNames.has(e.environment))) {
    const why =
      env.status === 'blocked'
        ? `blocked: ${env.reason ?? 'deletion guard'}`
        : (env.reason ?? 'render failed')
    const override =
      env.status === 'blocked'
        ? `; a maintainer may deploy it with \`${input.promoteCommand} ${env.environment} --allow-deletions\``
        : ''
    out.push(`> - \`${env.environment}\` (${env.stage}): ${untrusted(why)}${override}`)
  }
  if (input.runUrl) out.push(`>`, `> Details: ${link('workflow run', input.runUrl)}`)
  return out
}

function omittedNote(omitted: number): string[] {
  if (omitted === 0) return []
  return [
    '',
    `> [!NOTE]`,
    `> ${plural(omitted, 'diff')} left out to stay under GitHub’s ${GITHUB_BODY_LIMIT.toLocaleString('en-US')}-character limit (largest first); the child PRs show them in full.`,
  ]
}

function nextStep(input: SummaryInput): string[] {
  const next = nextStage(input.stages, input.environments)
  return [
    '',
    next
      ? `**Next:** comment \`${input.promoteCommand} ${next}\` to deploy the ${next} stage.`
      : countOf(input.environments, 'rendered') > 0
        ? '**Next:** the changed stages deploy automatically; nothing to type.'
        : '**Next:** nothing to promote.',
  ]
}

function stageTables(input: SummaryInput, shown: readonly EnvironmentReport[]): string[] {
  const out: string[] = []
  for (const stage of sortStages(input.stages, input.environments)) {
    const members = shown
      .filter((e) => e.stage === stage.name)
      .sort((a, b) => a.environment.localeCompare(b.environment))
    if (members.length === 0) continue
    out.push('', `#### ${stage.name}${stage.autoPromote ? ' (deploys automatically)' : ''}`, '')
    out.push(
      table(
        ['Environment', 'Status', 'Resources', 'Changes', 'Child PR'],
        members.map((env) => [
          `\`${env.environment}\``,
          STATUS_LABEL[env.status],
          `${env.resources.before} → ${env.resources.after}`,
          changeCounts(env.diff),
          env.child && env.child.state !== 'closed' ? `#${env.child.number}` : '—',
        ]),
        ['l', 'l', 'r', 'r', 'l'],
      ),
    )
  }
  return out
}

/** Cut rows take their diff groups with them unless a shown environment shares them. */
function diffSection(
  groups: readonly DiffGroup[],
  omitted: ReadonlySet<number>,
  shownNames: ReadonlySet<string>,
): string[] {
  const shownGroups = groups
    .map((group, i) => ({ group, i }))
    .filter(({ group }) => group.environments.some((name) => shownNames.has(name)))
  if (shownGroups.length === 0) return []
  const out = ['', '#### Rendered changes']
  for (const { group, i } of shownGroups) {
    const who =
      group.environments.length === 1
        ? (group.environments[0] ?? '')
        : `Same change in ${group.environments.length} environments: ${nameList(group.environments, 12)}`
    const summary = `${who} (${changeCounts(group.diff)})`
    const body = omitted.has(i)
      ? `_Diff of ${group.text.length.toLocaleString('en-US')} characters left out here; see the child PRs._`
      : codeBlock(group.text, 'diff')
    out.push('', details(summary, body))
  }
  return out
}

function closedLine(closed: readonly ClosedChild[]): string[] {
  if (closed.length === 0) return []
  return [
    '',
    `Closed children (environment no longer changed): ${nameList(
      closed.map((c) => `#${c.number} (\`${c.environment}\`${c.note ? `: ${c.note}` : ''})`),
      CLOSED_SHOWN,
    )}`,
  ]
}

export interface ChildBodyInput {
  marker: ChildMarker
  report: EnvironmentReport
  autoPromote: boolean
  promoteCommand: string
  limit?: number
}

/** The body of a child PR; ends with the hidden marker. */
export function renderChildBody(input: ChildBodyInput): string {
  const { marker, report } = input
  const limit = (input.limit ?? GITHUB_BODY_LIMIT) - 64
  const markerLine = encodeMarker(marker)
  const head = [
    `Rendered manifests of \`${marker.environment}\` (stage **${marker.stage}**) for #${marker.parent}.`,
    '',
    table(
      ['Resources before', 'Resources after', 'Added', 'Changed', 'Deleted'],
      [
        [
          String(report.resources.before),
          String(report.resources.after),
          String(report.diff.added),
          String(report.diff.changed),
          String(report.diff.deleted),
        ],
      ],
      ['r', 'r', 'r', 'r', 'r'],
    ),
    '',
    `DRY commit \`${marker.drySha}\` · parent head \`${marker.headSha}\` · WET branch \`${marker.branch}\``,
    '',
    ...guardSection(input),
    input.autoPromote && !marker.guard
      ? `This stage deploys automatically.`
      : `Deploy it with \`${input.promoteCommand} ${marker.stage}\` (or \`${input.promoteCommand} ${marker.environment}\`) on #${marker.parent}.`,
    'fleet-promote manages this PR: it is updated with the parent and merged or closed when the parent is.',
  ].join('\n')
  const diff = environmentDiff(report.changes)
  const summary = `Rendered diff (${plural(report.changes.length, 'object')})`
  const fixed = `${head}\n\n\n\n${markerLine}\n`
  let diffSection = diff ? details(summary, codeBlock(diff, 'diff')) : ''
  if (fixed.length + diffSection.length > limit) {
    const room = Math.max(0, limit - fixed.length - 200)
    const cut = truncate(diff, room, '\n…(diff cut to fit GitHub’s body limit)\n')
    diffSection = details(`${summary}, cut`, codeBlock(cut, 'diff'))
  }
  return `${head}\n\n${diffSection}\n\n${markerLine}\n`
}

/** A blocked render's child says what it deletes and who may deploy it. */
function guardSection(input: ChildBodyInput): string[] {
  const { marker, report } = input
  if (!marker.guard) return []
  const deleted = report.changes.filter((change) => change.change === 'deleted')
  const shown = deleted
    .slice(0, 50)
    .map(
      (change) =>
        `> - ${change.kind} ${inlineCode(change.namespace ? `${change.namespace}/${change.name}` : change.name)}`,
    )
  return [
    '> [!WARNING]',
    `> The deletion guard blocked this render: ${untrusted(marker.guard.reason)}. It deploys only with \`${input.promoteCommand} ${marker.environment} --allow-deletions\` on #${marker.parent}, by a maintainer, for the head it was rendered from. It deletes:`,
    ...shown,
    ...(deleted.length > shown.length ? [`> - … and ${deleted.length - shown.length} more`] : []),
    '',
  ]
}

export interface SummaryRow {
  environment: string
  stage: string
  status: HydrationStatus
  child?: { number: number; url: string; state: ChildState }
  diff: EnvironmentReport['diff']
}

/** The job summary table (also what the `children` output lists), within GitHub's 1 MiB. */
export function renderJobSummary(
  parent: number,
  rows: readonly SummaryRow[],
  limit = JOB_SUMMARY_LIMIT,
): string {
  const sorted = [...rows].sort(
    (a, b) => a.stage.localeCompare(b.stage) || a.environment.localeCompare(b.environment),
  )
  const compose = (shown: readonly SummaryRow[], more: string) =>
    [
      `## fleet-promote: child PRs of #${parent}`,
      '',
      table(
        ['Environment', 'Stage', 'Render', 'Changes', 'Child PR', 'Child state'],
        shown.map((row) => [
          row.environment,
          row.stage,
          STATUS_LABEL[row.status],
          changeCounts(row.diff),
          row.child ? link(`#${row.child.number}`, row.child.url) : '—',
          row.child?.state ?? 'none',
        ]),
      ),
      '',
      ...(more ? [more, ''] : []),
    ].join('\n')
  return fitItems(sorted, limit, compose, { noun: 'environments' })
}

export interface SharedChildBodyInput {
  /** The child's marker: `environment` is its unit, `environments` the folders it holds. */
  marker: ChildMarker
  /** One report per environment the child holds, with its folder. */
  reports: readonly (EnvironmentReport & { folder: string })[]
  autoPromote: boolean
  promoteCommand: string
  limit?: number
}

/**
 * The body of a shared WET branch's child: one row per environment folder it
 * holds, then each one's rendered diff, as many as fit GitHub's body limit.
 */
export function renderSharedChildBody(input: SharedChildBodyInput): string {
  const { marker } = input
  const limit = (input.limit ?? GITHUB_BODY_LIMIT) - 64
  const markerLine = encodeMarker(marker)
  const blocked = input.reports.filter((r) => r.status === 'blocked').map((r) => r.environment)
  const head = [
    `Rendered manifests of ${plural(input.reports.length, 'environment')} on the WET branch ${inlineCode(marker.branch)} (stage **${marker.stage}**) for #${marker.parent}, each in its folder:`,
    '',
  ]
  const tail = [
    `DRY commit \`${marker.drySha}\` · parent head \`${marker.headSha}\``,
    '',
    ...(blocked.length > 0
      ? [
          `> [!WARNING]`,
          `> The deletion guard blocked ${nameList(blocked.map(untrusted))}: this child deploys only with \`${input.promoteCommand} ${marker.stage} --allow-deletions\` on #${marker.parent}, by a maintainer.`,
          '',
        ]
      : []),
    input.autoPromote && blocked.length === 0
      ? `This stage deploys automatically.`
      : `Deploy it with \`${input.promoteCommand} ${marker.stage}\` on #${marker.parent}.`,
    'fleet-promote manages this PR: it is updated with the parent and merged or closed when the parent is.',
  ]
  const compose = (shown: readonly (EnvironmentReport & { folder: string })[], more: string) => {
    const rows = shown.map((r) => [
      untrusted(r.environment),
      inlineCode(r.folder),
      String(r.resources.before),
      String(r.resources.after),
      `+${r.diff.added} ~${r.diff.changed} -${r.diff.deleted}`,
    ])
    const diffs = shown.flatMap((r) => {
      // Each diff is cut to a quarter of the limit, so the marker line always fits.
      const diff = truncate(
        environmentDiff(r.changes),
        Math.floor(limit / 4),
        '\n…(diff cut to fit GitHub’s body limit)\n',
      )
      return diff
        ? [
            details(
              `${r.environment}: ${plural(r.changes.length, 'object')}`,
              codeBlock(diff, 'diff'),
            ),
            '',
          ]
        : []
    })
    return [
      ...head,
      table(['Environment', 'Folder', 'Before', 'After', 'Changes'], rows, [
        'l',
        'l',
        'r',
        'r',
        'l',
      ]),
      ...(more ? ['', more] : []),
      '',
      ...tail,
      '',
      ...diffs,
      markerLine,
      '',
    ].join('\n')
  }
  return fitItems(input.reports, limit, compose, { noun: 'environments' })
}
