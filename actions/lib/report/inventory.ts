// What an environment runs, read from its WET branch (the rendered truth):
// the Helm releases (chart name and version from the `helm.sh/chart` label of
// the rendered objects, completed by the DRY `helmCharts` entry the render was
// made from) and the container images of every workload. Pure: text in,
// records out.
import { parseAllDocuments } from 'yaml'
import type { Environment } from '../config/types.js'
import { errorMessage } from '../errors.js'
import type { ChartRelease, EnvironmentInventory, ImageUse } from './types.js'

/** A `helmCharts` entry of the DRY kustomizations an environment loads. */
export interface DryChart {
  name: string
  repo?: string
  /** The entry's `version`, or the version in the local chart's Chart.yaml. */
  version?: string
  releaseName?: string
  namespace?: string
  /** The kustomization that declares it. */
  file: string
}

export interface WetContent {
  sha: string
  /** Managed manifest files, path → text. */
  files: ReadonlyMap<string, string>
  /** The `hydrator.metadata` text, when the branch has one. */
  metadata?: string
}

interface K8sObject {
  kind?: unknown
  metadata?: { name?: unknown; namespace?: unknown; labels?: unknown }
  spec?: unknown
}

const CHART_LABEL = 'helm.sh/chart'
const INSTANCE_LABEL = 'app.kubernetes.io/instance'

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined

/** `hydrator.metadata`'s drySha, when it is a commit SHA. */
export function metadataDrySha(metadata: string | undefined): string | undefined {
  if (metadata === undefined) return undefined
  try {
    const sha = (JSON.parse(metadata) as { drySha?: unknown }).drySha
    return typeof sha === 'string' && /^[0-9a-f]{40}$/i.test(sha) ? sha.toLowerCase() : undefined
  } catch {
    return undefined
  }
}

/**
 * `cert-manager-v1.16.2` → chart and version. Known chart names (from the
 * DRY entries) are tried first, since names and versions may both contain
 * `-`; Helm writes a version's `+` as `_` in the label.
 */
export function parseChartLabel(
  value: string,
  knownCharts: readonly string[] = [],
): { chart: string; version: string } | undefined {
  const known = [...knownCharts]
    .sort((a, b) => b.length - a.length)
    .find((name) => value.startsWith(`${name}-`) && value.length > name.length + 1)
  const match = known
    ? [value, known, value.slice(known.length + 1)]
    : /^(.+?)-(v?\d+(?:\.\d+){0,2}(?:[-_.].*)?)$/.exec(value)
  const chart = match?.[1]
  const version = match?.[2]
  if (!chart || !version) return undefined
  return { chart, version: version.replace(/_/g, '+') }
}

/** `registry:5000/team/app:1.2@sha256:…` → repository, tag and digest. */
export function parseImage(image: string): { repository: string; tag?: string; digest?: string } {
  const at = image.indexOf('@')
  const digest = at === -1 ? undefined : image.slice(at + 1)
  const name = at === -1 ? image : image.slice(0, at)
  const slash = name.lastIndexOf('/')
  const colon = name.lastIndexOf(':')
  const hasTag = colon > slash
  return {
    repository: hasTag ? name.slice(0, colon) : name,
    ...(hasTag ? { tag: name.slice(colon + 1) } : {}),
    ...(digest ? { digest } : {}),
  }
}

/** The pod spec of a workload (Pod, CronJob, or anything with `spec.template.spec`). */
function podSpec(object: K8sObject): Record<string, unknown> | undefined {
  const spec = object.spec
  if (!isRecord(spec)) return undefined
  if (object.kind === 'Pod') return spec
  const template = object.kind === 'CronJob' ? jobTemplateSpec(spec) : spec.template
  return isRecord(template) && isRecord(template.spec) ? template.spec : undefined
}

function jobTemplateSpec(spec: Record<string, unknown>): unknown {
  const job = spec.jobTemplate
  return isRecord(job) && isRecord(job.spec) ? job.spec.template : undefined
}

function containersOf(object: K8sObject): Array<{ name: string; image: string }> {
  const spec = podSpec(object)
  if (!spec) return []
  return [spec.initContainers, spec.containers].flatMap((list) =>
    Array.isArray(list)
      ? list.flatMap((container: unknown) => {
          if (!isRecord(container)) return []
          const image = text(container.image)
          return image ? [{ name: text(container.name) ?? '', image }] : []
        })
      : [],
  )
}

function parseManifests(files: ReadonlyMap<string, string>, problems: string[]): K8sObject[] {
  const objects: K8sObject[] = []
  for (const [path, content] of files) {
    try {
      for (const doc of parseAllDocuments(content, { uniqueKeys: false })) {
        if ('errors' in doc && doc.errors.length > 0) {
          throw new Error(doc.errors[0]?.message.split('\n')[0] ?? 'invalid YAML')
        }
        const value = doc.toJS({ maxAliasCount: -1 }) as unknown
        if (isRecord(value)) objects.push(value)
      }
    } catch (error) {
      problems.push(`${path}: ${errorMessage(error)}`)
    }
  }
  return objects
}

function labelsOf(object: K8sObject): Record<string, string> {
  const labels = object.metadata?.labels
  if (!isRecord(labels)) return {}
  return Object.fromEntries(
    Object.entries(labels).filter(
      (entry): entry is [string, string] => typeof entry[1] === 'string',
    ),
  )
}

/** `chart@version@release`: one Helm release as rendered. */
function releaseKey(release: Pick<ChartRelease, 'chart' | 'version' | 'release'>): string {
  return `${release.chart}@${release.version}@${release.release ?? ''}`
}

/**
 * The inventory of one environment. `dryCharts` are the helmCharts entries
 * of the DRY commit the WET render was made from; `chartRepositories` names
 * where vendored charts are released (`report.chartRepositories`).
 */
export function readInventory(
  env: Environment,
  wet: WetContent,
  dryCharts: readonly DryChart[],
  chartRepositories: ReadonlyMap<string, string> = new Map(),
): EnvironmentInventory {
  const problems: string[] = []
  const objects = parseManifests(wet.files, problems)
  const { releases, images } = chartsAndImages(objects, dryCharts, chartRepositories)
  addDryReleases(releases, dryCharts, chartRepositories)

  const charts = [...releases.values()].sort(
    (a, b) => compare(a.chart, b.chart) || compare(a.release ?? '', b.release ?? ''),
  )
  images.sort(
    (a, b) =>
      compare(a.addon, b.addon) ||
      compare(a.workload, b.workload) ||
      compare(a.container, b.container),
  )
  const drySha = metadataDrySha(wet.metadata)
  return {
    name: env.name,
    stage: env.stage,
    path: env.path,
    branch: env.branch,
    wetSha: wet.sha,
    ...(drySha ? { drySha } : {}),
    objects: objects.length,
    charts,
    images,
    addons: addonVersions(charts, images),
    problems,
  }
}

/** Objects of a chart whose templates set no helm.sh/chart label: the entry's namespace tells ('' when two charts share it). */
function chartsByNamespace(dryCharts: readonly DryChart[]): Map<string, string> {
  const chartByNamespace = new Map<string, string>()
  for (const entry of dryCharts) {
    if (!entry.namespace) continue
    const current = chartByNamespace.get(entry.namespace)
    chartByNamespace.set(
      entry.namespace,
      current === undefined || current === entry.name ? entry.name : '',
    )
  }
  return chartByNamespace
}

/** The chart releases the objects' labels name, and every container image with its add-on. */
function chartsAndImages(
  objects: ReturnType<typeof parseManifests>,
  dryCharts: readonly DryChart[],
  chartRepositories: ReadonlyMap<string, string>,
): { releases: Map<string, ChartRelease>; images: ImageUse[] } {
  const knownCharts = dryCharts.map((chart) => chart.name)
  const entryFor = (chart: string, release?: string) =>
    dryCharts.find(
      (entry) => entry.name === chart && (release ?? entry.releaseName) === entry.releaseName,
    ) ?? dryCharts.find((entry) => entry.name === chart)
  const chartByNamespace = chartsByNamespace(dryCharts)
  const releases = new Map<string, ChartRelease>()
  const images: ImageUse[] = []
  for (const object of objects) {
    const labels = labelsOf(object)
    const namespace = text(object.metadata?.namespace)
    const label = labels[CHART_LABEL]
      ? parseChartLabel(labels[CHART_LABEL], knownCharts)
      : undefined
    let addon: string | undefined
    if (label) {
      const releaseName = labels[INSTANCE_LABEL]
      const entry = entryFor(label.chart, releaseName)
      const release: ChartRelease = {
        addon: label.chart,
        chart: label.chart,
        version: label.version,
        source: 'label',
        ...((releaseName ?? entry?.releaseName)
          ? { release: releaseName ?? entry?.releaseName }
          : {}),
        ...((namespace ?? entry?.namespace) ? { namespace: namespace ?? entry?.namespace } : {}),
        ...repoOf(label.chart, entry, chartRepositories),
      }
      if (!releases.has(releaseKey(release))) releases.set(releaseKey(release), release)
      addon = label.chart
    } else if (namespace) {
      addon = chartByNamespace.get(namespace) || namespace
    }
    const kind = text(object.kind) ?? 'Object'
    const name = text(object.metadata?.name) ?? ''
    for (const container of containersOf(object)) {
      images.push({
        addon: addon ?? name,
        image: container.image,
        ...parseImage(container.image),
        workload: [kind, namespace, name].filter(Boolean).join('/'),
        container: container.name,
      })
    }
  }
  return { releases, images }
}

/** Entries whose objects carry no chart label: the DRY entry says what was rendered. */
function addDryReleases(
  releases: Map<string, ChartRelease>,
  dryCharts: readonly DryChart[],
  chartRepositories: ReadonlyMap<string, string>,
): void {
  for (const entry of dryCharts) {
    const rendered = [...releases.values()].some((release) => release.chart === entry.name)
    if (rendered) continue
    const release: ChartRelease = {
      addon: entry.name,
      chart: entry.name,
      version: entry.version ?? 'unknown',
      source: 'dry',
      ...(entry.releaseName ? { release: entry.releaseName } : {}),
      ...(entry.namespace ? { namespace: entry.namespace } : {}),
      ...repoOf(entry.name, entry, chartRepositories),
    }
    if (!releases.has(releaseKey(release))) releases.set(releaseKey(release), release)
  }
}

function repoOf(
  chart: string,
  entry: DryChart | undefined,
  chartRepositories: ReadonlyMap<string, string>,
): { repo?: string } {
  const repo = entry?.repo ?? chartRepositories.get(chart)
  return repo ? { repo } : {}
}

/** The version shown per add-on: chart versions, else `image:tag` of its workloads. */
function addonVersions(charts: readonly ChartRelease[], images: readonly ImageUse[]) {
  const versions = new Map<string, Set<string>>()
  const add = (addon: string, version: string) => {
    const set = versions.get(addon) ?? new Set<string>()
    set.add(version)
    versions.set(addon, set)
  }
  for (const chart of charts) add(chart.addon, chart.version)
  const chartAddons = new Set(charts.map((chart) => chart.addon))
  for (const image of images) {
    if (chartAddons.has(image.addon)) continue
    const name = image.repository.slice(image.repository.lastIndexOf('/') + 1)
    add(
      image.addon,
      `${name}:${image.tag ?? (image.digest ? image.digest.slice(0, 19) : 'latest')}`,
    )
  }
  return Object.fromEntries(
    [...versions]
      .sort(([a], [b]) => compare(a, b))
      .map(([addon, set]) => [addon, [...set].sort(compare).join(', ')]),
  )
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
