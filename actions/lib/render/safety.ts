// Safety pre-checks run before anything renders (SPEC §6). The walk reads the
// kustomization files of one environment itself (it does not trust kustomize to
// refuse) and rejects: paths leaving the repository or a kustomization root,
// symlinks pointing outside the repository, remote bases that are not
// allowlisted and pinned, exec/KRM-function plugins, non-allowlisted chart
// repositories and chart templates calling getHostByName. Its output is the set
// of kustomization roots (copied into the render tree) and the charts to pull.
import { lstat, readdir, readFile, readlink, realpath } from 'node:fs/promises'
import { posix } from 'node:path'
import { isMap, parseAllDocuments, parseDocument } from 'yaml'

export const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization']

/** Kinds kustomize runs in-process under `apiVersion: builtin` (no exec, no network). */
const BUILTIN_PLUGIN_KINDS = new Set([
  'AnnotationsTransformer',
  'ConfigMapGenerator',
  'HashTransformer',
  'ImageTagTransformer',
  'LabelTransformer',
  'LegacyOrderTransformer',
  'NamespaceTransformer',
  'PatchJson6902Transformer',
  'PatchStrategicMergeTransformer',
  'PatchTransformer',
  'PrefixSuffixTransformer',
  'PrefixTransformer',
  'SuffixTransformer',
  'ReplacementTransformer',
  'ReplicaCountTransformer',
  'SecretGenerator',
  'SortOrderTransformer',
  'ValueAddTransformer',
])

const FUNCTION_ANNOTATIONS = ['config.kubernetes.io/function', 'config.k8s.io/function']
const SHA40 = /^[0-9a-f]{40}$/
const SAFE_CHART_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
const SAFE_CHART_VERSION = /^[A-Za-z0-9][A-Za-z0-9.+_-]*$/

/** A safety rule said no: the environment is not rendered. */
export class RefusedError extends Error {
  override name = 'RefusedError'
  /** Set once the kustomization file it concerns was appended to the message. */
  located = false
}

export interface SafetyPolicy {
  helmEnabled: boolean
  /** Chart repository URL prefixes (http(s):// or oci://). */
  allowedChartRepos: readonly string[]
  /** Remote kustomize base URL prefixes; they must also pin a 40-hex ref. */
  remoteBases: readonly string[]
}

/** A chart kustomize would pull: we pull it once into the shared cache instead. */
export interface RemoteChartRef {
  repo: string
  name: string
  version: string
  /** Repository-relative directory where kustomize looks for it: `<chartHome>/<name>-<version>`. */
  pullDir: string
}

export interface SafetyReport {
  /** Repository-relative kustomization directories the render reads (copied into the render tree). */
  roots: string[]
  charts: RemoteChartRef[]
  usesHelm: boolean
}

type Context = 'resource' | 'plugin'

/** Checks one environment directory (repository-relative) and everything it references. */
export async function checkEnvironment(
  repoDir: string,
  envPath: string,
  policy: SafetyPolicy,
  /** Shared between the environments of one run: each kustomization root's tree is scanned once. */
  treeScans: Map<string, Promise<void>> = new Map(),
): Promise<SafetyReport> {
  const walker = new Walker(await realpath(repoDir), policy)
  const start = normalizeInRepo('', envPath, 'environment path')
  await walker.visit(start, 'resource', `environment ${envPath}`)
  for (const root of walker.roots) {
    let scan = treeScans.get(root)
    if (!scan) {
      scan = walker.scanTree(root)
      treeScans.set(root, scan)
    }
    await scan
  }
  return {
    roots: [...walker.roots].sort(),
    charts: [...walker.charts.values()].sort((a, b) => a.pullDir.localeCompare(b.pullDir)),
    usesHelm: walker.usesHelm,
  }
}

/** Joins a reference to its kustomization directory; refuses absolute paths and `..` leaving the repository. */
function normalizeInRepo(dir: string, entry: string, what: string): string {
  if (
    entry === '' ||
    posix.isAbsolute(entry) ||
    /^[A-Za-z]:[\\/]/.test(entry) ||
    entry.includes('\\')
  ) {
    throw new RefusedError(`${what} "${entry}" must be a relative path inside the repository`)
  }
  const joined = posix.normalize(posix.join(dir, entry))
  if (joined === '..' || joined.startsWith('../')) {
    throw new RefusedError(`${what} "${entry}" leaves the repository`)
  }
  return joined === '.' ? '' : joined.replace(/\/$/, '')
}

function isUnder(path: string, dir: string): boolean {
  return dir === '' || path === dir || path.startsWith(`${dir}/`)
}

function looksRemote(entry: string): boolean {
  return (
    /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(entry) ||
    entry.startsWith('git@') ||
    entry.startsWith('git::') ||
    entry.includes('?') ||
    /^[^./][^/]*\.[^/]+\//.test(entry)
  )
}

/** True when `url` starts with `prefix` at a path boundary (so `org/repo` does not allow `org/repo-evil`). */
export function matchesPrefix(url: string, prefix: string): boolean {
  if (!url.startsWith(prefix)) return false
  if (prefix.endsWith('/')) return true
  const rest = url.slice(prefix.length)
  return rest === '' || rest.startsWith('/') || rest.startsWith('?') || /^\.git([/?]|$)/.test(rest)
}

function asStrings(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new RefusedError(`${field} must be a list of strings`)
  }
  return value as string[]
}

function asObjects(value: unknown, field: string): Record<string, unknown>[] {
  if (value === undefined || value === null) return []
  if (
    !Array.isArray(value) ||
    value.some((v) => typeof v !== 'object' || v === null || Array.isArray(v))
  ) {
    throw new RefusedError(`${field} must be a list of objects`)
  }
  return value as Record<string, unknown>[]
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') throw new RefusedError(`${field} must be a string`)
  return value
}

class Walker {
  readonly roots = new Set<string>()
  readonly charts = new Map<string, RemoteChartRef>()
  usesHelm = false
  private readonly visited = new Map<string, Context>()

  constructor(
    private readonly repoReal: string,
    private readonly policy: SafetyPolicy,
  ) {}

  private abs(path: string): string {
    return path === '' ? this.repoReal : `${this.repoReal}/${path}`
  }

  /**
   * lstat-walks every component of a repository path: a symlink anywhere on it
   * must resolve inside the repository. Returns the kind of the final target.
   */
  private async inspect(path: string, what: string): Promise<'file' | 'dir' | 'missing'> {
    let current = ''
    for (const part of path.split('/').filter((p) => p !== '')) {
      current = current === '' ? part : `${current}/${part}`
      let stats
      try {
        stats = await lstat(this.abs(current))
      } catch {
        return 'missing'
      }
      if (stats.isSymbolicLink()) await this.checkSymlink(current, what)
    }
    try {
      const target = await realpath(this.abs(path))
      const stats = await lstat(target)
      if (stats.isDirectory()) return 'dir'
      if (stats.isFile()) return 'file'
      throw new RefusedError(`${what} "${path}" is not a regular file or directory`)
    } catch (error) {
      if (error instanceof RefusedError) throw error
      return 'missing'
    }
  }

  private async checkSymlink(path: string, what: string): Promise<void> {
    const link = await readlink(this.abs(path))
    let target: string
    try {
      target = await realpath(this.abs(path))
    } catch {
      throw new RefusedError(`${what}: symlink ${path} -> ${link} is dangling or loops`)
    }
    if (target !== this.repoReal && !target.startsWith(`${this.repoReal}/`)) {
      throw new RefusedError(`symlink ${path} -> ${link} points outside the repository`)
    }
  }

  async visit(dir: string, context: Context, from: string): Promise<void> {
    const seen = this.visited.get(dir)
    if (seen === 'plugin' || seen === context) return
    this.visited.set(dir, context)
    const kind = await this.inspect(dir, from)
    if (kind !== 'dir') throw new RefusedError(`${from}: directory "${dir || '.'}" does not exist`)
    let file: string | undefined
    for (const name of KUSTOMIZATION_FILES) {
      const candidate = dir === '' ? name : `${dir}/${name}`
      if ((await this.inspect(candidate, from)) === 'file') {
        file = candidate
        break
      }
    }
    if (!file) throw new RefusedError(`${from}: no kustomization file in "${dir || '.'}"`)
    this.roots.add(dir)
    const doc = parseDocument(await readFile(this.abs(file), 'utf8'), { uniqueKeys: false })
    if (doc.errors.length > 0) {
      throw new RefusedError(`invalid YAML (${doc.errors[0]?.message.split('\n')[0] ?? ''})`)
    }
    const k: unknown = doc.toJS({ maxAliasCount: 100 })
    if (k === null || k === undefined) return
    if (typeof k !== 'object' || Array.isArray(k)) throw new RefusedError(`not a kustomization`)
    try {
      await this.checkKustomization(dir, file, k as Record<string, unknown>, context)
    } catch (error) {
      // The problem first (reasons are clipped to 140 characters), then where it is.
      if (error instanceof RefusedError && !error.located) {
        error.message = `${error.message} (${file})`
        error.located = true
      }
      throw error
    }
  }

  private async checkKustomization(
    dir: string,
    file: string,
    k: Record<string, unknown>,
    context: Context,
  ): Promise<void> {
    if (k.helmChartInflationGenerator !== undefined) {
      throw new RefusedError(`helmChartInflationGenerator is not supported; use helmCharts`)
    }
    // In a kustomization listed under generators/transformers, resource files are plugin configs.
    for (const field of ['resources', 'bases', 'components']) {
      for (const entry of asStrings(k[field], field)) {
        await this.reference(dir, entry, `${field}`, context)
      }
    }
    for (const field of ['generators', 'transformers', 'validators']) {
      for (const entry of asStrings(k[field], field)) {
        if (entry.includes('\n')) {
          this.checkPluginConfigs(entry, `inline ${field} entry`)
        } else {
          await this.reference(dir, entry, `${field}`, 'plugin')
        }
      }
    }
    for (const field of ['crds', 'configurations']) {
      for (const entry of asStrings(k[field], field)) await this.localFile(dir, entry, `${field}`)
    }
    for (const entry of asStrings(k.patchesStrategicMerge, 'patchesStrategicMerge')) {
      if (!entry.includes('\n')) await this.localFile(dir, entry, `patchesStrategicMerge`)
    }
    for (const field of ['patches', 'patchesJson6902', 'replacements']) {
      for (const item of asObjects(k[field], field)) {
        const path = optionalString(item.path, `${field}[].path`)
        if (path !== undefined) await this.localFile(dir, path, `${field}`)
      }
    }
    if (k.openapi !== undefined && k.openapi !== null && typeof k.openapi === 'object') {
      const path = optionalString((k.openapi as Record<string, unknown>).path, 'openapi.path')
      if (path !== undefined) await this.localFile(dir, path, `openapi`)
    }
    for (const field of ['configMapGenerator', 'secretGenerator']) {
      for (const item of asObjects(k[field], field)) {
        for (const entry of asStrings(item.files, `${field}[].files`)) {
          const eq = entry.indexOf('=')
          await this.localFile(dir, eq >= 0 ? entry.slice(eq + 1) : entry, `${field} files`)
        }
        for (const entry of asStrings(item.envs, `${field}[].envs`)) {
          await this.localFile(dir, entry, `${field} envs`)
        }
        const env = optionalString(item.env, `${field}[].env`)
        if (env !== undefined) await this.localFile(dir, env, `${field} env`)
      }
    }
    await this.checkHelm(dir, file, k)
  }

  private async checkHelm(dir: string, file: string, k: Record<string, unknown>): Promise<void> {
    const charts = asObjects(k.helmCharts, 'helmCharts')
    const globals = k.helmGlobals
    if (charts.length === 0 && (globals === undefined || globals === null)) return
    if (!this.policy.helmEnabled) {
      throw new RefusedError(`uses Helm, which is disabled (hydrate.helm.enabled: false)`)
    }
    this.usesHelm = true
    let chartHome = 'charts'
    if (globals !== undefined && globals !== null) {
      if (typeof globals !== 'object') throw new RefusedError(`helmGlobals must be an object`)
      const g = globals as Record<string, unknown>
      if (g.configHome !== undefined) {
        throw new RefusedError(
          `helmGlobals.configHome is not allowed (Helm runs with an empty config)`,
        )
      }
      chartHome = optionalString(g.chartHome, 'helmGlobals.chartHome') ?? 'charts'
    }
    const home = normalizeInRepo(dir, chartHome, `helmGlobals.chartHome`)
    if (!isUnder(home, dir)) {
      throw new RefusedError(
        `helmGlobals.chartHome "${chartHome}" is outside its kustomization root`,
      )
    }
    for (const chart of charts) {
      const name = optionalString(chart.name, 'helmCharts[].name') ?? ''
      if (!SAFE_CHART_NAME.test(name) || name.includes('..')) {
        throw new RefusedError(`helmCharts name "${name}" is not a valid chart name`)
      }
      const valuesFile = optionalString(chart.valuesFile, 'helmCharts[].valuesFile')
      if (valuesFile !== undefined)
        await this.localFile(dir, valuesFile, `chart ${name} valuesFile`)
      for (const extra of asStrings(chart.additionalValuesFiles, 'additionalValuesFiles')) {
        await this.localFile(dir, extra, `chart ${name} additionalValuesFiles`)
      }
      const repo = optionalString(chart.repo, 'helmCharts[].repo')
      const version = optionalString(chart.version, 'helmCharts[].version') ?? ''
      if (version !== '' && !SAFE_CHART_VERSION.test(version)) {
        throw new RefusedError(`chart ${name} version "${version}" is not a valid version`)
      }
      const versioned = `${home ? `${home}/` : ''}${name}-${version}/${name}`
      if (repo === undefined || repo === '') {
        // A local chart (kustomize also accepts a vendored copy at the versioned pull location).
        let chartDir = `${home ? `${home}/` : ''}${name}`
        if (version !== '' && (await this.inspect(versioned, file)) === 'dir') chartDir = versioned
        if ((await this.inspect(chartDir, file)) !== 'dir') {
          throw new RefusedError(`local chart ${name} not found at ${chartDir} (no repo given)`)
        }
        await scanChartTemplates(this.abs(chartDir), chartDir)
        continue
      }
      if (!/^(https?|oci):\/\/[^\s]+$/.test(repo)) {
        throw new RefusedError(`chart ${name} repo "${repo}" must be an http(s):// or oci:// URL`)
      }
      if (!this.policy.allowedChartRepos.some((prefix) => matchesPrefix(repo, prefix))) {
        throw new RefusedError(`chart ${name} repo ${repo} is not in hydrate.helm.allowedRepos`)
      }
      if (version === '') {
        throw new RefusedError(`chart ${name} from ${repo} must pin a version`)
      }
      const pullDir = `${home ? `${home}/` : ''}${name}-${version}`
      if ((await this.inspect(versioned, file)) === 'dir') {
        // Vendored in the DRY tree: kustomize uses it as is, nothing is pulled.
        await scanChartTemplates(this.abs(versioned), versioned)
        continue
      }
      this.charts.set(pullDir, { repo, name, version, pullDir })
    }
  }

  /** A reference that may be a directory (kustomization), a file, or a remote base. */
  private async reference(
    dir: string,
    entry: string,
    what: string,
    context: Context,
  ): Promise<void> {
    if (entry.startsWith('-')) throw new RefusedError(`${what} "${entry}" starts with "-"`)
    if (looksRemote(entry)) {
      const local =
        posix.isAbsolute(entry) || entry.includes('://')
          ? 'missing'
          : await this.tryInspect(dir, entry, what)
      if (local === 'missing') {
        this.checkRemote(entry, what)
        return
      }
    }
    const path = normalizeInRepo(dir, entry, what)
    const kind = await this.inspect(path, what)
    if (kind === 'dir') {
      await this.visit(path, context, what)
    } else if (kind === 'file') {
      if (!isUnder(path, dir)) {
        throw new RefusedError(`${what} "${entry}" is outside its kustomization root`)
      }
      if (context === 'plugin')
        this.checkPluginConfigs(await readFile(this.abs(path), 'utf8'), path)
    } else {
      throw new RefusedError(`${what} "${entry}" does not exist`)
    }
  }

  private async tryInspect(
    dir: string,
    entry: string,
    what: string,
  ): Promise<'file' | 'dir' | 'missing'> {
    const joined = posix.normalize(posix.join(dir, entry))
    if (joined.startsWith('../')) return 'missing'
    return this.inspect(joined, what)
  }

  private checkRemote(entry: string, what: string): void {
    const query = entry.includes('?') ? entry.slice(entry.indexOf('?') + 1) : ''
    const params = new URLSearchParams(query)
    for (const [key, value] of params) {
      if (value.startsWith('-') || key.startsWith('-')) {
        throw new RefusedError(
          `remote base ${entry.slice(0, 60)} in ${what} has a ${key} starting with "-"`,
        )
      }
    }
    if (!this.policy.remoteBases.some((prefix) => matchesPrefix(entry, prefix))) {
      throw new RefusedError(
        `remote base ${entry.slice(0, 60)} in ${what} is not in hydrate.remoteBases`,
      )
    }
    const ref = params.get('ref') ?? params.get('version') ?? ''
    if (!SHA40.test(ref)) {
      throw new RefusedError(
        `remote base ${entry.slice(0, 60)} in ${what} must pin ?ref= to a 40-hex commit SHA`,
      )
    }
  }

  /** A file kustomize reads through its root-only loader: it must sit below the kustomization root. */
  private async localFile(dir: string, entry: string, what: string): Promise<void> {
    if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(entry)) {
      throw new RefusedError(`${what} "${entry}" is a URL; remote files are not allowed`)
    }
    const path = normalizeInRepo(dir, entry, what)
    if (!isUnder(path, dir)) {
      throw new RefusedError(`${what} "${entry}" is outside its kustomization root`)
    }
    const kind = await this.inspect(path, what)
    if (kind === 'missing') throw new RefusedError(`${what} "${entry}" does not exist`)
  }

  private checkPluginConfigs(text: string, where: string): void {
    for (const doc of parseAllDocuments(text)) {
      if ('errors' in doc && doc.errors.length > 0) throw new RefusedError(`${where}: invalid YAML`)
      const value: unknown = doc.toJS()
      if (value === null || value === undefined) continue
      if (!isMap(doc.contents))
        throw new RefusedError(`${where}: a plugin config must be an object`)
      const config = value as {
        apiVersion?: unknown
        kind?: unknown
        metadata?: { annotations?: Record<string, unknown> }
      }
      const annotations = config.metadata?.annotations ?? {}
      for (const key of FUNCTION_ANNOTATIONS) {
        if (key in annotations) {
          throw new RefusedError(
            `${where}: KRM-function plugin (${key}) refused; only kustomize builtins run`,
          )
        }
      }
      const kind = typeof config.kind === 'string' ? config.kind : ''
      if (kind === 'HelmChartInflationGenerator') {
        throw new RefusedError(
          `${where}: HelmChartInflationGenerator as a generator is refused; use helmCharts`,
        )
      }
      if (config.apiVersion !== 'builtin' || !BUILTIN_PLUGIN_KINDS.has(kind)) {
        throw new RefusedError(
          `${where}: plugin ${String(config.apiVersion)}/${kind} is not a kustomize builtin (exec/KRM plugins refused)`,
        )
      }
    }
  }

  /** Every entry below a kustomization root: symlinks must stay inside the repository. */
  async scanTree(root: string): Promise<void> {
    const entries = await readdir(this.abs(root), { withFileTypes: true })
    for (const entry of entries) {
      if (entry.name === '.git') continue
      const path = root === '' ? entry.name : `${root}/${entry.name}`
      if (entry.isSymbolicLink()) {
        await this.checkSymlink(path, `below ${root || '.'}`)
      } else if (entry.isDirectory()) {
        await this.scanTree(path)
      }
    }
  }
}

/** Helm renders `getHostByName` as "" without --enable-dns; we refuse such charts outright. */
export async function scanChartTemplates(chartDir: string, label: string): Promise<void> {
  const stack = [chartDir]
  while (stack.length > 0) {
    const dir = stack.pop() as string
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`
      if (entry.isDirectory()) {
        stack.push(path)
      } else if (entry.isFile() && /\.(tpl|ya?ml|txt|json)$/.test(entry.name)) {
        const text = await readFile(path, 'utf8')
        if (text.includes('getHostByName')) {
          const relative = path.slice(chartDir.length + 1)
          const error = new RefusedError(
            `chart ${label}: ${relative} calls getHostByName (DNS lookups are refused)`,
          )
          error.located = true
          throw error
        }
      }
    }
  }
}
