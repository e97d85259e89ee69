// The fleet report as people read it: the dashboard issue and the job summary
// (one table per add-on, a Mermaid picture of clusters per version, a section
// per drift kind), and a short plain-text table for the terminal. Text that
// comes from branches, manifests or Argo CD goes through the one escaper
// (`untrusted`); versions, images, branches and commands are code spans.
import { details, inlineCode, link, plural, table, truncate, untrusted } from '../markdown.js'
import type { AddonReport, AddonVersion, DriftFinding, DriftKind, FleetReport } from './types.js'

/** The hidden marker of the dashboard issue's body. */
export const DASHBOARD_MARKER = '<!-- fleet-promote:report -->'

export interface RenderOptions {
  /** Most characters (the issue body limit, or the job summary's). */
  limit: number
  /** Cluster names listed per cell before "+N more". */
  namesPerCell?: number
  /** Rows per drift section before "… N more". */
  rowsPerSection?: number
  runUrl?: string
  /** Start with the dashboard marker (the issue body). */
  marker?: boolean
}

const short = (sha: string) => sha.slice(0, 7)

function names(list: readonly string[], max: number): string {
  const shown = list.slice(0, max).join(', ')
  return list.length > max ? `${shown} +${list.length - max} more` : shown
}

function state(version: AddonVersion, addon: AddonReport): string {
  if (version.belowMinimum) return `🔴 below the minimum ${addon.minimum?.version ?? ''}`
  if (version.behindPatch) return `🟠 behind the newest patch`
  if (version.newest.patch !== undefined) return '🟢 newest patch'
  return '⚪ newest releases unknown'
}

/** "cert-manager: 1.16.2 on 5 clusters, 1.15.4 on 3 (eu-prod-1, eu-prod-2, ap-prod-1)" */
export function addonLine(addon: AddonReport, max = 5): string {
  const parts = addon.versions.map((version, index) => {
    const count = version.environments.length
    const where = index === 0 ? '' : ` (${names(version.environments, max)})`
    return `${version.version} on ${index === 0 ? plural(count, 'cluster') : count}${where}`
  })
  return `${addon.name}: ${parts.join(', ')}`
}

function addonHeading(addon: AddonReport): string {
  const facts: string[] = []
  if (addon.kind === 'chart') {
    facts.push(
      addon.repos.length > 0
        ? `chart from ${addon.repos.map((repo) => inlineCode(repo)).join(', ')}`
        : 'vendored chart',
    )
    if (addon.latest) facts.push(`newest release ${inlineCode(addon.latest)}`)
    else if (addon.releasesNote) facts.push(`⚠️ ${untrusted(addon.releasesNote)}`)
  } else {
    facts.push('no Helm chart: versions are its images')
  }
  if (addon.minimum) {
    facts.push(
      `minimum ${inlineCode(addon.minimum.version)}${addon.minimum.reason ? ` (${untrusted(addon.minimum.reason)})` : ''}`,
    )
  }
  return `### ${untrusted(addon.name)}\n\n${facts.join(' · ')}`
}

function addonTable(addon: AddonReport, max: number): string {
  if (addon.kind === 'images') {
    return table(
      ['Images', 'Clusters'],
      addon.versions.map((v) => [
        inlineCode(v.version),
        `${v.environments.length}: ${names(v.environments, max)}`,
      ]),
    )
  }
  return table(
    ['Version', 'Clusters', 'Newest patch', 'Newest minor', 'State'],
    addon.versions.map((v) => [
      inlineCode(v.version),
      `${v.environments.length}: ${names(v.environments, max)}`,
      v.newest.patch ? inlineCode(v.newest.patch) : '–',
      v.newest.minor ? inlineCode(v.newest.minor) : '–',
      state(v, addon),
    ]),
  )
}

/** Mermaid node text: letters, digits and a few separators only (no quotes, brackets or markup). */
function mermaidText(text: string): string {
  return text.replace(/[^\w.,+:/@ -]/g, '_').slice(0, 60)
}

/** One fan per add-on: its versions with their cluster counts; behind the patch in red. */
export function renderMermaid(report: FleetReport): string {
  const lines = [
    'flowchart LR',
    '  classDef addon fill:#ddf4ff,stroke:#0969da,color:#0a3069',
    '  classDef newest fill:#dafbe1,stroke:#1a7f37,color:#116329',
    '  classDef behind fill:#ffebe9,stroke:#cf222e,color:#82071e',
    '  classDef minimum fill:#cf222e,stroke:#82071e,color:#ffffff',
    '  classDef unknown fill:#f6f8fa,stroke:#6e7781,color:#24292f',
  ]
  report.addons.forEach((addon, a) => {
    lines.push(`  a${a}["${mermaidText(addon.name)}"]:::addon`)
    addon.versions.forEach((version, v) => {
      const kind = version.belowMinimum
        ? 'minimum'
        : version.behindPatch
          ? 'behind'
          : version.newest.patch !== undefined
            ? 'newest'
            : 'unknown'
      const count = plural(version.environments.length, 'cluster')
      lines.push(`  a${a} --> a${a}v${v}["${mermaidText(version.version)}<br/>${count}"]:::${kind}`)
    })
  })
  return ['```mermaid', ...lines, '```'].join('\n')
}

const DRIFT_TITLES: Record<DriftKind, string> = {
  wet: 'WET branch is not the render of the DRY branch',
  argocd: 'Argo CD does not run the WET branch tip',
  orphaned: 'Application on the child branch of a closed or deleted parent',
}

function fixCell(finding: DriftFinding): string {
  const parts = [
    finding.command ? inlineCode(finding.command) : '',
    finding.link ? link(untrusted(finding.link.text), finding.link.url) : '',
  ]
  return parts.filter(Boolean).join('<br>')
}

function driftSection(report: FleetReport, kind: DriftKind, rows: number): string {
  const findings = report.drift.filter((finding) => finding.kind === kind)
  const title = `### ${DRIFT_TITLES[kind]} (${findings.length})`
  if (findings.length === 0) return `${title}\n\nNone.`
  const shown = findings.slice(0, rows)
  const body = table(
    ['Cluster', 'What', 'Fix'],
    shown.map((finding) => [
      finding.environment,
      finding.problems.map((problem) => untrusted(problem)).join('<br>'),
      fixCell(finding),
    ]),
  )
  const more =
    findings.length > shown.length
      ? `\n\n… and ${findings.length - shown.length} more (the \`report\` JSON output lists all).`
      : ''
  return `${title}\n\n${body}${more}`
}

function headline(report: FleetReport): string {
  const { totals } = report
  const drift = totals.drift.wet + totals.drift.argocd + totals.drift.orphaned
  const parts = [
    plural(totals.environments, 'cluster'),
    plural(totals.addons, 'add-on'),
    totals.behindPatch > 0
      ? `**${plural(totals.behindPatch, 'cluster')} behind the newest patch**`
      : 'all on the newest known patch',
    ...(totals.belowMinimum > 0 ? [`**🔴 ${totals.belowMinimum} below a required minimum**`] : []),
    drift > 0
      ? `**drift: ${totals.drift.wet} WET, ${totals.drift.argocd} Argo CD, ${totals.drift.orphaned} orphaned**`
      : 'no drift',
  ]
  return parts.join(' · ')
}

function imagesSection(report: FleetReport, max: number): string {
  const uses = new Map<string, Set<string>>()
  for (const env of report.environments) {
    for (const image of env.images) {
      const key = `${image.addon}\0${image.image}`
      uses.set(key, (uses.get(key) ?? new Set()).add(env.name))
    }
  }
  if (uses.size === 0) return ''
  const rows = [...uses]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, envs]) => {
      const [addon = '', image = ''] = key.split('\0')
      return [untrusted(addon), inlineCode(image), `${envs.size}: ${names([...envs].sort(), max)}`]
    })
  return details(`Container images (${uses.size})`, table(['Add-on', 'Image', 'Clusters'], rows))
}

/** The dashboard issue body or the job summary. */
export function renderReport(report: FleetReport, options: RenderOptions): string {
  const max = options.namesPerCell ?? 8
  const rows = options.rowsPerSection ?? 30
  const provenance = [
    `Rendered ${inlineCode(report.dry.branch)} at ${inlineCode(short(report.dry.sha))}`,
    `updated ${report.generatedAt}`,
    ...(options.runUrl ? [link('run', options.runUrl)] : []),
  ].join(' · ')
  const sections = [
    ...(options.marker ? [DASHBOARD_MARKER] : []),
    '## Fleet report',
    headline(report),
    provenance,
    '### Versions per add-on',
    renderMermaid(report),
    ...report.addons.flatMap((addon) => [addonHeading(addon), addonTable(addon, max)]),
    '## Drift',
    ...(['wet', 'argocd', 'orphaned'] as const).map((kind) => driftSection(report, kind, rows)),
  ]
  if (report.promotions.length > 0) {
    sections.push(
      `### Promotions under way (${report.promotions.length})`,
      table(
        ['Cluster', 'Application', 'Runs'],
        report.promotions
          .slice(0, rows)
          .map((p) => [
            p.environment,
            untrusted(p.application),
            `${inlineCode(p.branch)} (#${p.parent})`,
          ]),
      ),
    )
  }
  if (report.warnings.length > 0) {
    sections.push('## Warnings', report.warnings.map((w) => `- ${untrusted(w)}`).join('\n'))
  }
  const images = imagesSection(report, max)
  if (images) sections.push(images)
  return truncate(`${sections.join('\n\n')}\n`, options.limit)
}

/** What the text table shows when the newest patch is not known: no repository to ask, or it did not answer. */
function newestUnknown(addon: AddonReport): string {
  if (addon.kind !== 'chart') return '-'
  return addon.releases === 'vendored' ? 'vendored' : '?'
}

/** A short table for the terminal: one line per add-on version, then the drift. */
export function renderText(report: FleetReport, max = 6): string {
  const rows: string[][] = [['add-on', 'version', 'clusters', 'newest patch', 'state']]
  for (const addon of report.addons) {
    for (const version of addon.versions) {
      rows.push([
        addon.name,
        version.version,
        `${version.environments.length} (${names(version.environments, max)})`,
        version.newest.patch ?? newestUnknown(addon),
        version.belowMinimum
          ? 'BELOW MINIMUM'
          : version.behindPatch
            ? 'behind patch'
            : version.newest.patch
              ? 'ok'
              : '',
      ])
    }
  }
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? []
  const lines = rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd(),
  )
  const { drift } = report.totals
  lines.push('', `drift: ${drift.wet} WET, ${drift.argocd} Argo CD, ${drift.orphaned} orphaned`)
  for (const finding of report.drift) {
    lines.push(`  ${finding.kind} ${finding.environment}: ${finding.problems.join('; ')}`)
    if (finding.command) lines.push(`    fix: ${finding.command}`)
  }
  for (const warning of report.warnings) lines.push(`warning: ${warning}`)
  return `${lines.join('\n')}\n`
}
