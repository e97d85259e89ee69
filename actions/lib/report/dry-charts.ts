// The `helmCharts` entries each environment loads at one DRY revision, read
// from git objects (no checkout): the kustomize dependency graph gives every
// kustomization an environment loads, their entries give chart name, repo,
// version, release name and namespace, and a vendored chart's Chart.yaml its
// version.
import { posix } from 'node:path'
import { parse } from 'yaml'
import type { Git } from '../git/git.js'
import { KustomizationCache, RevisionGraph, RevisionTree } from '../kustomize/graph.js'
import type { DryChart } from './inventory.js'

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const scalar = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== ''
    ? value.trim()
    : typeof value === 'number'
      ? String(value)
      : undefined

function safeParse(text: string | undefined): unknown {
  if (text === undefined) return undefined
  try {
    return parse(text, { uniqueKeys: false, maxAliasCount: 100 }) as unknown
  } catch {
    return undefined
  }
}

interface Entry extends DryChart {
  /** Repository path of the vendored chart directory (when no repo). */
  chartDir?: string
}

/** helmCharts (and the deprecated helmChartInflationGenerator) entries of one kustomization. */
function entriesOf(file: string, text: string | undefined): Entry[] {
  const root = safeParse(text)
  if (!isRecord(root)) return []
  const dir = posix.dirname(file)
  const globals = isRecord(root.helmGlobals) ? root.helmGlobals : {}
  const home = scalar(globals.chartHome) ?? 'charts'
  const namespace = scalar(root.namespace)
  const entries: Entry[] = []
  const add = (fields: {
    name: unknown
    repo: unknown
    version: unknown
    releaseName: unknown
    namespace: unknown
    home?: unknown
  }) => {
    const name = scalar(fields.name)
    if (!name) return
    const repo = scalar(fields.repo)
    const version = scalar(fields.version)
    const releaseName = scalar(fields.releaseName)
    const ns = scalar(fields.namespace) ?? namespace
    const chartHome = scalar(fields.home) ?? home
    entries.push({
      name,
      file,
      ...(repo ? { repo } : {}),
      ...(version ? { version } : {}),
      ...(releaseName ? { releaseName } : {}),
      ...(ns ? { namespace: ns } : {}),
      ...(repo ? {} : { chartDir: posix.join(dir === '.' ? '' : dir, chartHome, name) }),
    })
  }
  for (const chart of Array.isArray(root.helmCharts) ? root.helmCharts : []) {
    if (!isRecord(chart)) continue
    add({
      name: chart.name,
      repo: chart.repo,
      version: chart.version,
      releaseName: chart.releaseName,
      namespace: chart.namespace,
    })
  }
  const legacy = root.helmChartInflationGenerator
  for (const chart of Array.isArray(legacy) ? legacy : []) {
    if (!isRecord(chart)) continue
    add({
      name: chart.chartName,
      repo: chart.chartRepoUrl,
      version: chart.chartVersion,
      releaseName: chart.releaseName,
      namespace: chart.releaseNamespace,
      home: chart.chartHome,
    })
  }
  return entries
}

/**
 * Environment path → the chart entries its render reads at `rev`. A
 * vendored chart without a `version` gets the one in its Chart.yaml.
 */
export async function readDryCharts(
  git: Git,
  rev: string,
  environmentPaths: readonly string[],
): Promise<Map<string, DryChart[]>> {
  const blobs = await git.listBlobs(rev)
  const tree = new RevisionTree(rev.slice(0, 12), blobs)
  const cache = new KustomizationCache((oids) => git.readBlobs(oids))
  await cache.preload(tree.kustomizationBlobIds())
  const graph = new RevisionGraph(tree, cache)
  graph.addRoots(environmentPaths)

  const closures = new Map(
    environmentPaths.map((path) => [path, graph.closureOf(path).kustomizations]),
  )
  const files = new Set<string>()
  for (const dirs of closures.values()) {
    for (const dir of dirs) {
      const file = tree.kustomizationsIn(dir)[0]
      if (file) files.add(file)
    }
  }
  const texts = await git.readBlobs([...files].map((file) => blobs.get(file) ?? ''))
  const byFile = new Map(
    [...files].map((file) => [file, entriesOf(file, texts.get(blobs.get(file) ?? ''))]),
  )
  // The Chart.yaml of vendored charts whose entry pins no version.
  const chartFiles = new Set<string>()
  for (const list of byFile.values()) {
    for (const entry of list) {
      if (entry.chartDir && !entry.version) chartFiles.add(`${entry.chartDir}/Chart.yaml`)
    }
  }
  const chartTexts = await git.readBlobs([...chartFiles].map((file) => blobs.get(file) ?? ''))
  const chartVersion = (file: string): string | undefined => {
    const root = safeParse(chartTexts.get(blobs.get(file) ?? ''))
    return isRecord(root) ? scalar(root.version) : undefined
  }

  const result = new Map<string, DryChart[]>()
  for (const [path, dirs] of closures) {
    const charts: DryChart[] = []
    for (const dir of dirs) {
      const file = tree.kustomizationsIn(dir)[0]
      for (const { chartDir, ...entry } of file ? (byFile.get(file) ?? []) : []) {
        const version =
          entry.version ?? (chartDir ? chartVersion(`${chartDir}/Chart.yaml`) : undefined)
        charts.push({ ...entry, ...(version ? { version } : {}) })
      }
    }
    result.set(path, charts)
  }
  return result
}
