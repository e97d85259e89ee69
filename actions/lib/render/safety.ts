// Safety pre-checks run before anything renders (SPEC §6). The walk reads the
// kustomization files of one environment itself (it does not trust kustomize to
// refuse) and rejects: a key that is not exactly a field the suite supports
// (kustomize matches field names case-insensitively and merges `<<`), a value a
// tool would take as an argument that breaks that tool's grammar, paths leaving
// the repository or a kustomization root, symlinks leaving the repository or
// reaching `.git` at any hop, remote bases that are not allowlisted and pinned,
// exec/KRM-function plugins, non-allowlisted chart repositories and chart
// templates calling getHostByName. Its output is the set of kustomization roots
// (whose checked files are copied into the render tree) and the charts to pull.
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { readdir, readFile, realpath } from 'node:fs/promises'
import { posix } from 'node:path'
import type { Stats } from 'node:fs'
import { pathText, SHA40 } from './grammar.js'
import {
  BUILTIN_PLUGINS,
  FieldError,
  KUSTOMIZATION,
  parseChecked,
  type ParsedDocument,
} from './kustomize-fields.js'

export const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization']

const FUNCTION_ANNOTATIONS = ['config.kubernetes.io/function', 'config.k8s.io/function']
/** Remote base query parameters kustomize understands; each value reaches `git`. */
const REMOTE_PARAMS = new Set(['ref', 'version', 'timeout', 'submodules'])
/** More symlink hops than this is a loop (Linux's own limit). */
const MAX_HOPS = 40
/** Files below one kustomization root: more is refused rather than copied. */
const MAX_ROOT_FILES = 50_000

/** A safety rule said no: the environment is not rendered. */
export class RefusedError extends Error {
  override name = 'RefusedError'
  /** The file (and line) it concerns, once known; the message then ends with it. */
  where: string | undefined
  constructor(readonly problem: string) {
    super(problem)
  }

  locate(where: string): this {
    this.where = where
    this.message = `${this.problem} (${where})`
    return this
  }

  get located(): boolean {
    return this.where !== undefined
  }
}

function located(message: string, where: string): RefusedError {
  return new RefusedError(message).locate(where)
}

/** A refusal as an environment's reason, at most `max` characters: the problem is shortened, never where it is. */
export function refusalReason(error: RefusedError, max = 140): string {
  const where = error.where === undefined ? '' : ` (${error.where})`
  const room = max - 'refused: '.length - where.length
  const problem =
    error.problem.length <= room ? error.problem : `${error.problem.slice(0, room - 1)}…`
  return `refused: ${problem}${where}`
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

/** A regular file of the render tree: where kustomize sees it, and the checked file it is copied from. */
export interface TreeFile {
  /** Repository-relative path in the render tree (symlinks materialized). */
  path: string
  /** Repository-relative real path of the regular file it is copied from (no symlink on it). */
  source: string
}

type Context = 'resource' | 'plugin'
type Kind = 'file' | 'dir' | 'other' | 'missing'

interface Resolved {
  /** Repository-relative path with every symlink resolved. */
  real: string
  kind: Kind
}

/** What one kustomization contributes, independent of who references it. */
interface NodeInfo {
  children: { dir: string; context: Context }[]
  charts: RemoteChartRef[]
  usesHelm: boolean
}

/** Joins a reference to its kustomization directory; refuses absolute paths and `..` leaving the repository. */
function normalizeInRepo(dir: string, entry: string, what: string): string {
  if (
    entry === '' ||
    posix.isAbsolute(entry) ||
    /^[A-Za-z]:[\\/]/.test(entry) ||
    entry.includes('\\')
  ) {
    throw new RefusedError(`${what} must be a relative path inside the repository: "${entry}"`)
  }
  const joined = posix.normalize(posix.join(dir, entry))
  if (joined === '..' || joined.startsWith('../')) {
    throw new RefusedError(`${what} "${entry}" leaves the repository`)
  }
  const path = joined === '.' ? '' : joined.replace(/\/$/, '')
  if (path.split('/').includes('.git')) throw new RefusedError(`${what} "${entry}" is inside .git`)
  return path
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

/**
 * The checks of one run, shared by its environments: each path is resolved,
 * each kustomization parsed and each root scanned once, however many
 * environments reach it.
 */
export class RepoCheck {
  private readonly stats = new Map<string, Stats | undefined>()
  private readonly resolved = new Map<string, Promise<Resolved>>()
  private readonly nodes = new Map<string, Promise<NodeInfo>>()
  private readonly scans = new Map<string, Promise<TreeFile[]>>()
  private readonly charts = new Map<string, Promise<void>>()

  constructor(
    /** The repository's real path (no symlink on it). */
    readonly repoReal: string,
    readonly policy: SafetyPolicy,
  ) {}

  /** A check of the repository at `repoDir` (its real path is taken once). */
  static async open(repoDir: string, policy: SafetyPolicy): Promise<RepoCheck> {
    return new RepoCheck(await realpath(repoDir), policy)
  }

  abs(path: string): string {
    return path === '' ? this.repoReal : `${this.repoReal}/${path}`
  }

  // The walk's file system calls are synchronous: on a checkout in the page
  // cache a promise-based lstat costs five times the CPU of a synchronous one
  // (9 against 1.6 µs, measured on a real fleet's checkout), and the renders
  // the walk feeds run in other processes, so blocking costs them nothing.
  private lstat(real: string): Stats | undefined {
    if (this.stats.has(real)) return this.stats.get(real)
    let stats: Stats | undefined
    try {
      stats = lstatSync(this.abs(real))
    } catch {
      stats = undefined
    }
    this.stats.set(real, stats)
    return stats
  }

  /**
   * Resolves a repository-relative path one component at a time, reading
   * every symlink on the way itself: each hop must stay inside the
   * repository and out of `.git`, so no link (or chain of links) can reach a
   * host file or the checkout's credentials.
   */
  resolve(path: string): Promise<Resolved> {
    let result = this.resolved.get(path)
    if (!result) {
      result = new Promise((done) => done(this.walk(path)))
      this.resolved.set(path, result)
    }
    return result
  }

  private walk(path: string): Resolved {
    const todo = path.split('/').filter((part) => part !== '' && part !== '.')
    const real: string[] = []
    let hops = 0
    let stats: Stats | undefined
    while (todo.length > 0) {
      const part = todo.shift() as string
      if (part === '..') {
        if (real.length === 0) throw new RefusedError(`"${path}" leaves the repository`)
        real.pop()
        stats = undefined
        continue
      }
      if (part === '.git') throw new RefusedError(`"${path}" reaches .git`)
      const candidate = [...real, part].join('/')
      stats = this.lstat(candidate)
      if (!stats) return { real: candidate, kind: 'missing' }
      if (stats.isSymbolicLink()) {
        if (++hops > MAX_HOPS) throw new RefusedError(`symlink ${candidate} loops`)
        const link = readlinkSync(this.abs(candidate))
        const refuse = (why: string) => new RefusedError(`symlink ${candidate} ${why} (-> ${link})`)
        // This hop, read as text, must already stay inside and out of .git; the
        // walk below then follows it component by component (each link again).
        let parts: string[]
        if (posix.isAbsolute(link)) {
          if (link !== this.repoReal && !link.startsWith(`${this.repoReal}/`))
            throw refuse('points outside the repository')
          parts = link.slice(this.repoReal.length + 1).split('/')
          real.length = 0
        } else {
          const target = posix.normalize(posix.join(real.join('/'), link))
          if (target === '..' || target.startsWith('../'))
            throw refuse('points outside the repository')
          parts = link.split('/')
        }
        if (posix.normalize(parts.join('/')).split('/').includes('.git'))
          throw refuse('reaches .git')
        todo.unshift(...parts.filter((p) => p !== '' && p !== '.'))
        stats = undefined
        continue
      }
      if (todo.length > 0 && !stats.isDirectory()) return { real: candidate, kind: 'missing' }
      real.push(part)
    }
    const final = real.join('/')
    stats ??= this.lstat(final)
    if (!stats) return { real: final, kind: 'missing' }
    return {
      real: final,
      kind: stats.isDirectory() ? 'dir' : stats.isFile() ? 'file' : 'other',
    }
  }

  readText(real: string): string {
    return readFileSync(this.abs(real), 'utf8')
  }

  /** What a kustomization directory contributes (parsed and checked once per run). */
  node(dir: string, context: Context): Promise<NodeInfo> {
    const key = `${context}\0${dir}`
    let info = this.nodes.get(key)
    if (!info) {
      info = new Kustomization(this, dir, context).check()
      this.nodes.set(key, info)
    }
    return info
  }

  /**
   * Every regular file below a directory as kustomize will see it in the
   * render tree: symlinks are resolved (and checked) hop by hop and become
   * the files they point to; `.git` is never entered.
   */
  filesBelow(dir: string): Promise<TreeFile[]> {
    let scan = this.scans.get(dir)
    if (!scan) {
      scan = this.resolve(dir).then(async (resolved) => {
        const files: TreeFile[] = []
        await this.scan(dir, resolved.real, new Set([resolved.real]), files)
        return files
      })
      this.scans.set(dir, scan)
    }
    return scan
  }

  private async scan(
    dir: string,
    real: string,
    ancestors: ReadonlySet<string>,
    files: TreeFile[],
  ): Promise<void> {
    const entries = readdirSync(this.abs(real), { withFileTypes: true })
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.name === '.git') continue
      const path = dir === '' ? entry.name : `${dir}/${entry.name}`
      const source = real === '' ? entry.name : `${real}/${entry.name}`
      let kind: Kind = entry.isDirectory() ? 'dir' : entry.isFile() ? 'file' : 'other'
      let target = source
      if (entry.isSymbolicLink()) {
        const resolved = await this.resolve(source)
        kind = resolved.kind
        target = resolved.real
        // A link to a directory holding it would copy forever: it adds nothing kustomize needs.
        if (kind === 'dir' && [...ancestors].some((a) => isUnder(a, target))) continue
      }
      if (kind === 'dir') {
        await this.scan(path, target, new Set([...ancestors, target]), files)
      } else if (kind === 'file') {
        files.push({ path, source: target })
        if (files.length > MAX_ROOT_FILES)
          throw new RefusedError(`more than ${MAX_ROOT_FILES} files below ${dir}`)
      }
    }
  }

  /** A local chart's templates: Helm renders `getHostByName` only with DNS, which is refused. */
  scanLocalChart(chartDir: string): Promise<void> {
    let scan = this.charts.get(chartDir)
    if (!scan) {
      scan = this.filesBelow(chartDir).then((files) => {
        for (const file of files) {
          if (!/\.(tpl|ya?ml|txt|json)$/.test(file.path)) continue
          if (this.readText(file.source).includes('getHostByName')) {
            throw templateRefusal(chartDir, file.path.slice(chartDir.length + 1))
          }
        }
      })
      this.charts.set(chartDir, scan)
    }
    return scan
  }
}

function templateRefusal(label: string, relative: string): RefusedError {
  return located(`${relative} calls getHostByName (DNS lookups are refused)`, `chart ${label}`)
}

/** Checks one environment directory (repository-relative) and everything it references. */
export async function checkEnvironment(
  repoDir: string,
  envPath: string,
  policy: SafetyPolicy,
  /** Shared between the environments of one run. */
  check?: RepoCheck,
): Promise<SafetyReport> {
  const repo = check ?? (await RepoCheck.open(repoDir, policy))
  const start = normalizeInRepo('', envPath, 'environment path')
  if ((await repo.resolve(start)).kind !== 'dir')
    throw new RefusedError(`environment ${envPath}: directory "${start || '.'}" does not exist`)
  const visited = new Map<string, Context>()
  const charts = new Map<string, RemoteChartRef>()
  let usesHelm = false
  let level: { dir: string; context: Context }[] = [{ dir: start, context: 'resource' }]
  while (level.length > 0) {
    const fresh = level.filter(({ dir, context }) => {
      const seen = visited.get(dir)
      if (seen === 'plugin' || seen === context) return false
      visited.set(dir, context)
      return true
    })
    const infos = await Promise.all(fresh.map(({ dir, context }) => repo.node(dir, context)))
    level = []
    for (const info of infos) {
      usesHelm ||= info.usesHelm
      for (const chart of info.charts) charts.set(chart.pullDir, chart)
      level.push(...info.children)
    }
  }
  const roots = [...visited.keys()].sort()
  for (const root of roots) {
    try {
      await repo.filesBelow(root)
    } catch (error) {
      if (error instanceof RefusedError && !error.located)
        throw located(error.problem, `below ${root || '.'}`)
      throw error
    }
  }
  return {
    roots,
    charts: [...charts.values()].sort((a, b) => a.pullDir.localeCompare(b.pullDir)),
    usesHelm,
  }
}

type Plain = Record<string, unknown>

/** One kustomization file, checked field by field. */
class Kustomization {
  private file = ''
  private doc: ParsedDocument | undefined
  private readonly info: NodeInfo = { children: [], charts: [], usesHelm: false }

  constructor(
    private readonly repo: RepoCheck,
    private readonly dir: string,
    /** In a kustomization listed under generators/transformers, resource files are plugin configs. */
    private readonly context: Context,
  ) {}

  private where(path: readonly (string | number)[] = []): string {
    return this.doc ? `${this.file}:${this.doc.lineOf(path)}` : this.file
  }

  async check(): Promise<NodeInfo> {
    const dirLabel = this.dir || '.'
    for (const name of KUSTOMIZATION_FILES) {
      const candidate = this.dir === '' ? name : `${this.dir}/${name}`
      const resolved = await this.repo.resolve(candidate)
      if (resolved.kind === 'file') {
        this.file = candidate
        return this.checkFile(this.repo.readText(resolved.real))
      }
    }
    throw new RefusedError(`no kustomization file in "${dirLabel}"`)
  }

  private async checkFile(text: string): Promise<NodeInfo> {
    let docs: ParsedDocument[]
    try {
      docs = parseChecked(text, () => KUSTOMIZATION, { multi: false })
    } catch (error) {
      if (error instanceof FieldError) throw located(error.message, `${this.file}:${error.line}`)
      throw error
    }
    this.doc = docs[0]
    if (!this.doc) return this.info
    try {
      await this.checkFields(this.doc.value as Plain)
    } catch (error) {
      // The problem first (reasons are clipped to 140 characters), then where it is.
      if (error instanceof RefusedError && !error.located) throw located(error.problem, this.file)
      throw error
    }
    return this.info
  }

  private async checkFields(k: Plain): Promise<void> {
    const list = (field: string) => (k[field] ?? []) as string[]
    const objects = (field: string) => (k[field] ?? []) as Plain[]
    for (const field of ['resources', 'bases', 'components']) {
      for (const [index, entry] of list(field).entries()) {
        await this.reference(entry, field, this.context, [field, index])
      }
    }
    for (const field of ['generators', 'transformers', 'validators']) {
      for (const [index, entry] of list(field).entries()) {
        if (entry.includes('\n')) {
          await this.pluginConfigs(entry, `${this.where([field, index])}`)
        } else {
          await this.reference(entry, field, 'plugin', [field, index])
        }
      }
    }
    for (const field of ['crds', 'configurations']) {
      for (const [index, entry] of list(field).entries())
        await this.localFile(entry, field, [field, index])
    }
    for (const [index, entry] of list('patchesStrategicMerge').entries()) {
      if (!entry.includes('\n'))
        await this.localFile(entry, 'patchesStrategicMerge', ['patchesStrategicMerge', index])
    }
    for (const field of ['patches', 'patchesJson6902', 'replacements']) {
      for (const [index, item] of objects(field).entries()) {
        if (typeof item.path === 'string')
          await this.localFile(item.path, field, [field, index, 'path'])
      }
    }
    const openapi = k.openapi as Plain | undefined
    if (typeof openapi?.path === 'string')
      await this.localFile(openapi.path, 'openapi', ['openapi', 'path'])
    for (const field of ['configMapGenerator', 'secretGenerator']) {
      for (const [index, item] of objects(field).entries()) {
        await this.generatorFiles(item, field, [field, index])
      }
    }
    await this.checkHelm(k)
  }

  private async generatorFiles(
    item: Plain,
    field: string,
    at: (string | number)[],
    base = this.dir,
  ): Promise<void> {
    for (const [index, entry] of ((item.files ?? []) as string[]).entries()) {
      const eq = entry.indexOf('=')
      await this.localFile(
        eq >= 0 ? entry.slice(eq + 1) : entry,
        `${field} files`,
        [...at, 'files', index],
        base,
      )
    }
    for (const [index, entry] of ((item.envs ?? []) as string[]).entries())
      await this.localFile(entry, `${field} envs`, [...at, 'envs', index], base)
    if (typeof item.env === 'string')
      await this.localFile(item.env, `${field} env`, [...at, 'env'], base)
  }

  private async checkHelm(k: Plain): Promise<void> {
    const charts = (k.helmCharts ?? []) as Plain[]
    const globals = k.helmGlobals as Plain | null | undefined
    if (charts.length === 0 && (globals === undefined || globals === null)) return
    if (!this.repo.policy.helmEnabled) {
      throw new RefusedError(`uses Helm, which is disabled (hydrate.helm.enabled: false)`)
    }
    this.info.usesHelm = true
    if (globals?.configHome !== undefined && globals.configHome !== null) {
      throw located(
        `helmGlobals.configHome is not allowed (Helm runs with an empty config)`,
        this.where(['helmGlobals', 'configHome']),
      )
    }
    const chartHome = typeof globals?.chartHome === 'string' ? globals.chartHome : 'charts'
    const home = normalizeInRepo(this.dir, chartHome, `helmGlobals.chartHome`)
    if (!isUnder(home, this.dir)) {
      throw located(
        `helmGlobals.chartHome "${chartHome}" is outside its kustomization root`,
        this.where(['helmGlobals', 'chartHome']),
      )
    }
    const prefix = home ? `${home}/` : ''
    for (const [index, chart] of charts.entries()) {
      const at = (...rest: string[]) => ['helmCharts', index, ...rest]
      const name = typeof chart.name === 'string' ? chart.name : ''
      if (name === '') throw located(`helmCharts entry has no name`, this.where(at()))
      if (typeof chart.valuesFile === 'string')
        await this.localFile(chart.valuesFile, `chart ${name} valuesFile`, at('valuesFile'))
      for (const [i, extra] of ((chart.additionalValuesFiles ?? []) as string[]).entries()) {
        await this.localFile(extra, `chart ${name} additionalValuesFiles`, [
          ...at('additionalValuesFiles'),
          i,
        ])
      }
      const repo = typeof chart.repo === 'string' ? chart.repo : ''
      const version = typeof chart.version === 'string' ? chart.version : ''
      const versioned = `${prefix}${name}-${version}/${name}`
      if (repo === '') {
        // A local chart (kustomize also accepts a vendored copy at the versioned pull location).
        let chartDir = `${prefix}${name}`
        if (version !== '' && (await this.kind(versioned)) === 'dir') chartDir = versioned
        if ((await this.kind(chartDir)) !== 'dir') {
          throw located(
            `local chart ${name} not found at ${chartDir} (no repo given)`,
            this.where(at('name')),
          )
        }
        await this.repo.scanLocalChart(chartDir)
        continue
      }
      if (!/^(https?|oci):\/\/[^\s]+$/.test(repo)) {
        throw located(
          `chart ${name}: repo must be an http(s):// or oci:// URL: "${repo}"`,
          this.where(at('repo')),
        )
      }
      if (!this.repo.policy.allowedChartRepos.some((allowed) => matchesPrefix(repo, allowed))) {
        throw located(
          `chart ${name}: repo not in hydrate.helm.allowedRepos: ${repo}`,
          this.where(at('repo')),
        )
      }
      if (version === '') {
        throw located(`chart ${name} from ${repo} must pin a version`, this.where(at('name')))
      }
      if ((await this.kind(versioned)) === 'dir') {
        // Vendored in the DRY tree: kustomize uses it as is, nothing is pulled.
        await this.repo.scanLocalChart(versioned)
        continue
      }
      this.info.charts.push({ repo, name, version, pullDir: `${prefix}${name}-${version}` })
    }
  }

  private async kind(path: string): Promise<Kind> {
    return (await this.repo.resolve(path)).kind
  }

  /** A reference that may be a directory (kustomization), a file, or a remote base. */
  private async reference(
    entry: string,
    what: string,
    context: Context,
    at: (string | number)[],
  ): Promise<void> {
    const where = this.where(at)
    const problem = pathText(entry)
    if (problem !== undefined) throw located(`${what} entry ${problem}`, where)
    if (looksRemote(entry)) {
      const local =
        posix.isAbsolute(entry) || entry.includes('://') ? 'missing' : await this.tryKind(entry)
      if (local === 'missing') {
        this.checkRemote(entry, what, where)
        return
      }
    }
    let path: string
    let resolved: Resolved
    try {
      path = normalizeInRepo(this.dir, entry, what)
      resolved = await this.repo.resolve(path)
    } catch (error) {
      // Errors of shared (cached) checks are copied, never relocated in place.
      if (error instanceof RefusedError && !error.located) throw located(error.problem, where)
      throw error
    }
    if (resolved.kind === 'dir') {
      this.info.children.push({ dir: path, context })
    } else if (resolved.kind === 'file') {
      if (!isUnder(path, this.dir)) {
        throw located(`${what} "${entry}" is outside its kustomization root`, where)
      }
      if (context === 'plugin') await this.pluginConfigs(this.repo.readText(resolved.real), path)
    } else {
      throw located(`${what} "${entry}" does not exist`, where)
    }
  }

  private async tryKind(entry: string): Promise<Kind> {
    const joined = posix.normalize(posix.join(this.dir, entry))
    if (joined.startsWith('../') || joined.split('/').includes('.git')) return 'missing'
    return this.kind(joined)
  }

  private checkRemote(entry: string, what: string, where: string): void {
    const short = entry.slice(0, 60)
    // eslint-disable-next-line no-control-regex
    if (/[\s\u0000-\u001f\u007f]/.test(entry))
      throw located(`remote base in ${what} holds whitespace: ${short}`, where)
    const query = entry.includes('?') ? entry.slice(entry.indexOf('?') + 1) : ''
    const params = new URLSearchParams(query)
    for (const [key, value] of params) {
      if (value.startsWith('-') || key.startsWith('-')) {
        throw located(`remote base in ${what} has a ${key} starting with "-": ${short}`, where)
      }
      if (!REMOTE_PARAMS.has(key))
        throw located(`remote base in ${what} has an unknown parameter ${key}: ${short}`, where)
    }
    if (!this.repo.policy.remoteBases.some((prefix) => matchesPrefix(entry, prefix))) {
      throw located(`remote base in ${what} is not in hydrate.remoteBases: ${short}`, where)
    }
    const ref = params.get('ref') ?? params.get('version') ?? ''
    if (!SHA40.test(ref)) {
      throw located(`remote base in ${what} must pin ?ref= to a 40-hex commit SHA: ${short}`, where)
    }
  }

  /** A file kustomize reads through its root-only loader: it must sit below the kustomization root. */
  private async localFile(
    entry: string,
    what: string,
    at: (string | number)[],
    base = this.dir,
  ): Promise<void> {
    const where = this.where(at)
    if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(entry)) {
      throw located(`${what} "${entry}" is a URL; remote files are not allowed`, where)
    }
    try {
      const path = normalizeInRepo(base, entry, what)
      if (!isUnder(path, base)) {
        throw new RefusedError(`${what} "${entry}" is outside its kustomization root`)
      }
      if ((await this.kind(path)) === 'missing')
        throw new RefusedError(`${what} "${entry}" does not exist`)
    } catch (error) {
      // Errors of shared (cached) checks are copied, never relocated in place.
      if (error instanceof RefusedError && !error.located) throw located(error.problem, where)
      throw error
    }
  }

  /** Generator/transformer configs: kustomize builtins only, each field exactly as declared. */
  private async pluginConfigs(text: string, where: string): Promise<void> {
    let docs: ParsedDocument[]
    try {
      docs = parseChecked(text, (value, line) => pluginShape(value, `${where}:${line}`), {
        multi: true,
      })
    } catch (error) {
      if (error instanceof FieldError) throw located(error.message, `${where}:${error.line}`)
      throw error
    }
    for (const doc of docs) {
      const config = doc.value as Plain
      const kind = config.kind as string
      if (kind === 'ConfigMapGenerator' || kind === 'SecretGenerator') {
        await this.generatorFiles(config, kind, [])
      }
      const paths = [
        ...(typeof config.path === 'string' ? [config.path] : []),
        ...((config.paths ?? []) as string[]),
        ...((config.replacements ?? []) as Plain[]).flatMap((r) =>
          typeof r.path === 'string' ? [r.path] : [],
        ),
      ]
      for (const path of paths) await this.localFile(path, `${kind} path`, [])
    }
  }
}

function pluginShape(value: unknown, where: string) {
  const config = value as {
    apiVersion?: unknown
    kind?: unknown
    metadata?: { annotations?: unknown }
  }
  const annotations = config.metadata?.annotations
  if (annotations !== null && typeof annotations === 'object') {
    for (const key of FUNCTION_ANNOTATIONS) {
      if (key in annotations) {
        throw located(`KRM-function plugin (${key}) refused; only kustomize builtins run`, where)
      }
    }
  }
  const kind = typeof config.kind === 'string' ? config.kind : ''
  if (kind === 'HelmChartInflationGenerator') {
    throw located(`HelmChartInflationGenerator as a generator is refused; use helmCharts`, where)
  }
  const shape = config.apiVersion === 'builtin' ? BUILTIN_PLUGINS.get(kind) : undefined
  if (!shape) {
    throw located(
      `plugin ${String(config.apiVersion)}/${kind} is not a kustomize builtin (exec/KRM plugins refused)`,
      where,
    )
  }
  return shape
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
        if ((await readFile(path, 'utf8')).includes('getHostByName')) {
          throw templateRefusal(label, path.slice(chartDir.length + 1))
        }
      }
    }
  }
}
