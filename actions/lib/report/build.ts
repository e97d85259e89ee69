// Assembles the fleet report from gathered facts (pure): the versions of each
// add-on across the fleet, the newest releases of each chart, the clusters
// behind the newest patch or a configured minimum, and the drift findings;
// and decides the exit status.
import { UserError } from '../errors.js'
import { plural } from '../markdown.js'
import { matchesPrefix } from '../render/safety.js'
import { releaseKey, type ReleaseLookup } from './chart-index.js'
import { compareVersionsDescending, isOlder, newestVersions } from './releases.js'
import type {
  AddonReport,
  AddonVersion,
  DriftFinding,
  EnvironmentInventory,
  FleetReport,
  PromotionInProgress,
} from './types.js'

export interface MinimumVersion {
  chart: string
  version: string
  reason: string
}

export interface ReportInput {
  generatedAt: string
  dry: { branch: string; sha: string }
  environments: readonly EnvironmentInventory[]
  /** Chart versions per `releaseKey(repo, chart)`; repositories not asked are absent. */
  releases: ReadonlyMap<string, ReleaseLookup>
  allowedRepos: readonly string[]
  minimums: readonly MinimumVersion[]
  drift: { findings: DriftFinding[]; promotions: PromotionInProgress[] }
  warnings: readonly string[]
}

/** The (repository, chart) pairs to look up: only repositories hydrate may pull from. */
export function releasesToLookUp(
  environments: readonly EnvironmentInventory[],
  allowedRepos: readonly string[],
): Array<{ repo: string; chart: string }> {
  const wanted = new Map<string, { repo: string; chart: string }>()
  for (const env of environments) {
    for (const chart of env.charts) {
      if (!chart.repo || !isAllowed(chart.repo, allowedRepos)) continue
      wanted.set(releaseKey(chart.repo, chart.chart), { repo: chart.repo, chart: chart.chart })
    }
  }
  return [...wanted.values()].sort((a, b) =>
    compareText(releaseKey(a.repo, a.chart), releaseKey(b.repo, b.chart)),
  )
}

function isAllowed(repo: string, allowedRepos: readonly string[]): boolean {
  return allowedRepos.some((prefix) => matchesPrefix(repo, prefix))
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

interface Releases {
  status: AddonReport['releases']
  note?: string
  versions: string[]
}

function chartReleases(chart: string, repos: readonly string[], input: ReportInput): Releases {
  if (repos.length === 0) {
    return {
      status: 'vendored',
      note: 'vendored chart: name its repository in report.chartRepositories to compare releases',
      versions: [],
    }
  }
  const allowed = repos.filter((repo) => isAllowed(repo, input.allowedRepos))
  if (allowed.length === 0) {
    return {
      status: 'not-allowed',
      note: `${repos.join(', ')} is not in hydrate.helm.allowedRepos: not asked`,
      versions: [],
    }
  }
  const lookups = allowed.map((repo) => input.releases.get(releaseKey(repo, chart)))
  const known = lookups.flatMap((lookup) => (lookup?.status === 'known' ? lookup.versions : []))
  if (lookups.some((lookup) => lookup?.status === 'known'))
    return { status: 'known', versions: known }
  for (const lookup of lookups) {
    if (lookup !== undefined && lookup.status !== 'known') {
      return { status: lookup.status, note: lookup.note, versions: [] }
    }
  }
  return { status: 'unreachable', note: `${allowed.join(', ')} was not read`, versions: [] }
}

function addonReport(
  name: string,
  perEnvironment: ReadonlyMap<string, Set<string>>,
  kind: AddonReport['kind'],
  repos: readonly string[],
  input: ReportInput,
): AddonReport {
  const releases: Releases =
    kind === 'chart' ? chartReleases(name, repos, input) : { status: 'none', versions: [] }
  const minimum = input.minimums.find((entry) => entry.chart === name)
  const latest = newestVersions('', releases.versions).major
  const byVersion = new Map<string, string[]>()
  for (const [environment, versions] of perEnvironment) {
    for (const version of versions)
      byVersion.set(version, [...(byVersion.get(version) ?? []), environment])
  }
  const versions: AddonVersion[] = [...byVersion]
    .sort(([a], [b]) => compareVersionsDescending(a, b))
    .map(([version, environments]) => {
      const newest = newestVersions(version, releases.versions)
      return {
        version,
        environments: environments.sort(compareText),
        newest,
        behindPatch: newest.patch !== undefined && isOlder(version, newest.patch) === true,
        belowMinimum: minimum !== undefined && isOlder(version, minimum.version) === true,
      }
    })
  return {
    name,
    kind,
    repos: [...repos].sort(compareText),
    ...(latest ? { latest } : {}),
    releases: releases.status,
    ...(releases.note ? { releasesNote: releases.note } : {}),
    ...(minimum ? { minimum: { version: minimum.version, reason: minimum.reason } } : {}),
    versions,
  }
}

export function buildReport(input: ReportInput): FleetReport {
  const addons = addonReports(input)
  const behind = behindEntries(addons)
  const count = (kind: DriftFinding['kind']) =>
    input.drift.findings.filter((f) => f.kind === kind).length
  return {
    version: 1,
    generatedAt: input.generatedAt,
    dry: input.dry,
    environments: [...input.environments].sort((a, b) => compareText(a.name, b.name)),
    addons,
    behind,
    drift: input.drift.findings,
    promotions: input.drift.promotions,
    warnings: [...input.warnings, ...addonWarnings(addons)],
    totals: {
      environments: input.environments.length,
      addons: addons.length,
      behindPatch: new Set(behind.filter((b) => b.behindPatch).map((b) => b.environment)).size,
      belowMinimum: new Set(behind.filter((b) => b.belowMinimum).map((b) => b.environment)).size,
      drift: { wet: count('wet'), argocd: count('argocd'), orphaned: count('orphaned') },
    },
  }
}

type VersionIndex = Map<string, Map<string, Set<string>>>

function addVersion(index: VersionIndex, addon: string, env: string, version: string): void {
  const perEnv = index.get(addon) ?? new Map<string, Set<string>>()
  perEnv.set(env, (perEnv.get(env) ?? new Set()).add(version))
  index.set(addon, perEnv)
}

/** One report per add-on: charts by their releases, others by their images' versions. */
function addonReports(input: ReportInput): FleetReport['addons'] {
  const chartVersions: VersionIndex = new Map()
  const chartRepos = new Map<string, Set<string>>()
  const imageVersions: VersionIndex = new Map()
  for (const env of input.environments) {
    for (const chart of env.charts) {
      addVersion(chartVersions, chart.addon, env.name, chart.version)
      const repos = chartRepos.get(chart.addon) ?? new Set<string>()
      if (chart.repo) repos.add(chart.repo)
      chartRepos.set(chart.addon, repos)
    }
    for (const [addon, version] of Object.entries(env.addons)) {
      if (!env.charts.some((chart) => chart.addon === addon))
        addVersion(imageVersions, addon, env.name, version)
    }
  }
  return [
    ...[...chartVersions].map(([name, perEnv]) =>
      addonReport(name, perEnv, 'chart', [...(chartRepos.get(name) ?? [])], input),
    ),
    ...[...imageVersions]
      .filter(([name]) => !chartVersions.has(name))
      .map(([name, perEnv]) => addonReport(name, perEnv, 'images', [], input)),
  ].sort((a, b) => compareText(a.name, b.name))
}

function addonWarnings(addons: FleetReport['addons']): string[] {
  const warnings: string[] = []
  for (const addon of addons) {
    if (addon.releases === 'unreachable' || addon.releases === 'not-found') {
      warnings.push(
        `${addon.name}: newest releases unknown: ${addon.releasesNote ?? addon.releases}`,
      )
    }
    if (
      addon.minimum &&
      addon.versions.some((v) => isOlder(v.version, addon.minimum?.version ?? '') === undefined)
    ) {
      warnings.push(
        `${addon.name}: a deployed version is not a semantic version; the minimum ${addon.minimum.version} cannot be checked for it`,
      )
    }
  }
  return warnings
}

function behindEntries(addons: FleetReport['addons']): FleetReport['behind'] {
  return addons.flatMap((addon) =>
    addon.versions
      .filter((version) => version.behindPatch || version.belowMinimum)
      .flatMap((version) =>
        version.environments.map((environment) => ({
          addon: addon.name,
          environment,
          version: version.version,
          ...(version.newest.patch ? { newestPatch: version.newest.patch } : {}),
          behindPatch: version.behindPatch,
          belowMinimum: version.belowMinimum,
        })),
      ),
  )
}

export type FailOn = 'drift' | 'below-minimum' | 'behind-patch'
export const FAIL_ON_VALUES: readonly FailOn[] = ['drift', 'below-minimum', 'behind-patch']

/** Why the run should fail under the `fail-on` policy; empty when it passes. */
export function failureReasons(report: FleetReport, failOn: ReadonlySet<FailOn>): string[] {
  const reasons: string[] = []
  const drift = report.drift.length
  if (failOn.has('drift') && drift > 0) reasons.push(plural(drift, 'drift finding'))
  if (failOn.has('below-minimum') && report.totals.belowMinimum > 0) {
    reasons.push(`${plural(report.totals.belowMinimum, 'cluster')} below a required minimum`)
  }
  if (failOn.has('behind-patch') && report.totals.behindPatch > 0) {
    reasons.push(`${plural(report.totals.behindPatch, 'cluster')} behind the newest patch`)
  }
  return reasons
}

/** `drift, below-minimum` → the policy; `what` names the input or option in the error. */
export function parseFailOn(text: string, what: string): Set<FailOn> {
  const values = text
    .split(/[\s,]+/)
    .map((value) => value.trim())
    .filter((value) => value !== '' && value !== 'none')
  const unknown = values.filter((value) => !(FAIL_ON_VALUES as readonly string[]).includes(value))
  if (unknown.length > 0) {
    throw new UserError(
      `${what}: unknown value${unknown.length > 1 ? 's' : ''} ${unknown.map((v) => `"${v}"`).join(', ')}; use ${FAIL_ON_VALUES.join(', ')} or none`,
    )
  }
  return new Set(values as FailOn[])
}
