// The kustomize/Helm dependency graph of a fleet at one revision, read from
// git objects (no checkout). Nodes are directories that kustomize loads (a
// kustomization, or a plain-YAML environment directory); each node records
// the files and whole directories its render reads and the nodes it pulls
// in. Reverse edges then answer "which environments can this path reach".
import { posix } from 'node:path'
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml'
import { UserError } from '../errors.js'
import { parseBlockYaml } from './block-yaml.js'

export const KUSTOMIZATION_FILE_NAMES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization']

/** A repository path that kustomize cannot read from the tree: fetched at render time. */
export interface ExternalReference {
  kind: 'kustomize' | 'helm'
  reference: string
  /** The kustomization that names it. */
  file: string
  line?: number
}

/** A problem in a kustomization: it would make `kustomize build` fail. */
export interface GraphIssue {
  message: string
  file: string
  line?: number
  /** The kustomization directory whose load found it: the environments reaching it are the broken ones. */
  dir?: string
}

export interface GraphNode {
  dir: string
  /** The kustomization file, or undefined for a plain-YAML directory. */
  file?: string
  /** Files read directly (the kustomization itself, patches, values, generator inputs…). */
  files: Set<string>
  /** Directories read as a whole (Helm charts, plain-YAML directories). */
  trees: Set<string>
  /** Kustomization directories loaded from here (resources, components, plugin configs). */
  children: Set<string>
  external: RemoteEntry[]
}

/** A remote reference as the graph keeps it: its line is found only when it is reported. */
export interface RemoteEntry {
  kind: ExternalReference['kind']
  reference: string
  file: string
  /** Blob id of the kustomization and the key path of the entry, to find the line. */
  oid: string
  path: KeyPath
}

/** One revision's tree: path → blob id. Directory facts are derived once. */
export class RevisionTree {
  /** Every directory holding at least one file below it ('' is the root). */
  readonly dirs = new Set<string>([''])
  private readonly kustomizationFiles = new Map<string, string[]>()

  constructor(
    /** For messages, e.g. `head (1a2b3c4)`. */
    readonly label: string,
    readonly files: ReadonlyMap<string, string>,
  ) {
    for (const path of files.keys()) {
      const dir = parentDir(path)
      if (KUSTOMIZATION_FILE_NAMES.includes(path.slice(path.lastIndexOf('/') + 1))) {
        const list = this.kustomizationFiles.get(dir)
        if (list) list.push(path)
        else this.kustomizationFiles.set(dir, [path])
      }
      for (let d = dir; d !== '' && !this.dirs.has(d); d = parentDir(d)) this.dirs.add(d)
    }
  }

  /** Kustomization files of a directory (more than one is a kustomize error). */
  kustomizationsIn(dir: string): readonly string[] {
    return this.kustomizationFiles.get(dir) ?? []
  }

  /** Blob ids of every kustomization file, to read them in one batch. */
  kustomizationBlobIds(): string[] {
    const ids: string[] = []
    for (const paths of this.kustomizationFiles.values()) {
      for (const path of paths) ids.push(this.files.get(path) ?? '')
    }
    return ids
  }
}

/** `relative` resolved against `dir` (both repository-relative); undefined when it leaves the repository. */
export function resolvePath(dir: string, relative: string): string | undefined {
  // Most entries name a plain path below the directory: no segments to resolve.
  if (relative !== '' && !/(?:^|\/)\.\.?(?:\/|$)|\/\/|^\/|\/$/.test(relative))
    return dir === '' ? relative : `${dir}/${relative}`
  const parts = dir === '' ? [] : dir.split('/')
  for (const segment of relative.split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment !== '..') parts.push(segment)
    else if (parts.length === 0 || parts.pop() === undefined) return undefined
  }
  return parts.join('/')
}

export function parentDir(path: string): string {
  const slash = path.lastIndexOf('/')
  return slash <= 0 ? '' : path.slice(0, slash)
}

/** `path` and every directory above it, nearest first, ending with '' (the root). */
export function selfAndAncestors(path: string): string[] {
  const list = [path]
  for (let d = parentDir(path); ; d = parentDir(d)) {
    list.push(d)
    if (d === '') return list
  }
}

const REMOTE =
  /^(?:[a-z][a-z0-9+.-]*:\/\/|git::|git@|(?:github\.com|gitlab\.com|bitbucket\.org)[/:])/i

/** Whether kustomize would fetch this entry over the network instead of reading the tree. */
export function isRemoteReference(value: string): boolean {
  return REMOTE.test(value) || /\?(?:.*&)?(?:ref|version|submodules|timeout)=/.test(value)
}

type ReferenceKind =
  /** resources/bases: a file, or a directory with a kustomization. */
  | 'resource'
  /** components: a directory with a kustomization. */
  | 'component'
  /** Any other file input (patches, generator files, values files…). */
  | 'file'
  /** transformers/generators/validators: a plugin config file or a kustomization directory. */
  | 'plugin'
  /** A Helm chart directory; may be absent when the chart comes from a repository. */
  | 'chart'

/** Where a value sits in a kustomization, e.g. `['helmCharts', 0, 'valuesFile']`. */
type KeyPath = (string | number)[]

interface Reference {
  kind: ReferenceKind
  value: string
  field: string
  path: KeyPath
  /** For charts: the chart source when it is remote. */
  repo?: string
  version?: string
}

type ParsedKustomization =
  { references: Reference[] } | { error: string; line?: number; path?: KeyPath }

/**
 * Parses a kustomization's text into the references it makes (independent of
 * its directory, so cached by blob id). Plain block YAML takes the fast path;
 * anything else, and every error, goes through the full YAML parser.
 */
export function parseKustomization(text: string): ParsedKustomization {
  const fast = parseBlockYaml(text)
  if (fast !== undefined) return extractReferences(fast)
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false })
  const yamlError = doc.errors[0]
  if (yamlError) {
    const reason = (yamlError.message.split('\n')[0] ?? '').replace(
      / at line \d+, column \d+:?$/,
      '',
    )
    return { error: `invalid YAML: ${reason}`, line: lineCounter.linePos(yamlError.pos[0]).line }
  }
  return extractReferences(doc.toJS({ maxAliasCount: 100 }) as unknown)
}

/** The line of the value at `path`, found with the full parser (only needed for messages). */
export function lineAt(text: string, path: KeyPath): number | undefined {
  return lineIn(parseWithLines(text), path)
}

interface LinedDocument {
  doc: ReturnType<typeof parseDocument>
  lineCounter: LineCounter
}

function parseWithLines(text: string): LinedDocument {
  const lineCounter = new LineCounter()
  return { doc: parseDocument(text, { lineCounter, uniqueKeys: false }), lineCounter }
}

function lineIn({ doc, lineCounter }: LinedDocument, path: KeyPath): number | undefined {
  let node: unknown = doc.contents
  let last: unknown = node
  for (const key of path) {
    const next = isMap(node) || isSeq(node) ? (node.get(key, true) as unknown) : undefined
    if (next === undefined) break
    last = node = next
  }
  const range = (last as { range?: [number, number, number] } | null)?.range
  return range ? lineCounter.linePos(range[0]).line : undefined
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

function extractReferences(root: unknown): ParsedKustomization {
  if (root === null || root === undefined) return { references: [] }
  if (!isRecord(root)) return { error: 'a kustomization must be a YAML mapping', path: [] }
  const found = new ReferenceCollector(root)
  pathReferences(found)
  generatorReferences(found)
  if (isRecord(root.openapi)) {
    const path = ['openapi', 'path']
    found.add('file', found.text(root.openapi.path, 'openapi.path', path), 'openapi.path', path)
  }
  for (const key of ['transformers', 'generators', 'validators'])
    found.each(key, (item, path) => found.pathOrInline('plugin', item, key, path))
  const globals = isRecord(root.helmGlobals) ? root.helmGlobals : {}
  const chartHome =
    found.text(globals.chartHome, 'helmGlobals.chartHome', ['helmGlobals', 'chartHome']) ?? 'charts'
  helmChartReferences(found, chartHome)
  inflatorReferences(found, chartHome)
  return found.problem ?? { references: found.references }
}

/** A kustomization's references as they are read; the first problem found is the one reported. */
class ReferenceCollector {
  readonly references: Reference[] = []
  problem: { error: string; path: KeyPath } | undefined

  constructor(private readonly root: Record<string, unknown>) {}

  fail(message: string, path: KeyPath): void {
    this.problem ??= { error: message, path }
  }

  list(value: unknown, name: string, path: KeyPath): unknown[] {
    if (value === undefined || value === null) return []
    if (Array.isArray(value)) return value
    this.fail(`"${name}" must be a list`, path)
    return []
  }

  text(value: unknown, name: string, path: KeyPath): string | undefined {
    if (value === undefined || value === null) return undefined
    if (typeof value === 'string' || typeof value === 'number') return String(value)
    this.fail(`"${name}" must be a string`, path)
    return undefined
  }

  add(kind: ReferenceKind, value: string | undefined, name: string, path: KeyPath): void {
    if (value !== undefined && value.trim() !== '')
      this.references.push({ kind, value: value.trim(), field: name, path })
  }

  /** Entries that may be inline YAML documents instead of paths. */
  pathOrInline(kind: ReferenceKind, value: unknown, name: string, path: KeyPath): void {
    const entry = this.text(value, name, path)
    if (entry !== undefined && !entry.includes('\n')) this.add(kind, entry, name, path)
  }

  each(key: string, visit: (item: unknown, path: KeyPath) => void): void {
    // Most keys are absent: no key path to build for them.
    if (this.root[key] !== undefined)
      this.list(this.root[key], key, [key]).forEach((item, index) => visit(item, [key, index]))
  }
}

/** Resources, components and the files patches and CRDs point at. */
function pathReferences(found: ReferenceCollector): void {
  for (const key of ['resources', 'bases'])
    found.each(key, (item, path) => found.add('resource', found.text(item, key, path), key, path))
  found.each('components', (item, path) =>
    found.add('component', found.text(item, 'components', path), 'components', path),
  )
  for (const key of ['crds', 'configurations'])
    found.each(key, (item, path) => found.add('file', found.text(item, key, path), key, path))
  found.each('patchesStrategicMerge', (item, path) =>
    found.pathOrInline('file', item, 'patchesStrategicMerge', path),
  )
  for (const key of ['patches', 'patchesJson6902', 'replacements']) {
    found.each(key, (item, path) => {
      if (isRecord(item)) {
        const at = [...path, 'path']
        found.add('file', found.text(item.path, `${key}.path`, at), `${key}.path`, at)
      } else if (key === 'patches') found.pathOrInline('file', item, key, path)
      else found.fail(`"${key}" entries must be mappings`, path)
    })
  }
}

/** The files and env files of configMapGenerator and secretGenerator entries. */
function generatorReferences(found: ReferenceCollector): void {
  for (const key of ['configMapGenerator', 'secretGenerator']) {
    found.each(key, (item, path) => {
      if (!isRecord(item)) return
      found.list(item.files, `${key}.files`, [...path, 'files']).forEach((entry, index) => {
        const at = [...path, 'files', index]
        const value = found.text(entry, `${key}.files`, at)
        // `key=path` names the data key; the file is the part after the first '='.
        if (value !== undefined)
          found.add('file', value.slice(value.indexOf('=') + 1), `${key}.files`, at)
      })
      found.list(item.envs, `${key}.envs`, [...path, 'envs']).forEach((entry, index) => {
        const at = [...path, 'envs', index]
        found.add('file', found.text(entry, `${key}.envs`, at), `${key}.envs`, at)
      })
      const at = [...path, 'env']
      found.add('file', found.text(item.env, `${key}.env`, at), `${key}.env`, at)
    })
  }
}

function helmChartReferences(found: ReferenceCollector, chartHome: string): void {
  found.each('helmCharts', (chart, path) => {
    if (!isRecord(chart)) return found.fail('"helmCharts" entries must be mappings', path)
    const valuesAt = [...path, 'valuesFile']
    const values = found.text(chart.valuesFile, 'helmCharts.valuesFile', valuesAt)
    found.add('file', values, 'helmCharts.valuesFile', valuesAt)
    const field = 'helmCharts.additionalValuesFiles'
    found
      .list(chart.additionalValuesFiles, field, [...path, 'additionalValuesFiles'])
      .forEach((entry, index) => {
        const at = [...path, 'additionalValuesFiles', index]
        found.add('file', found.text(entry, field, at), field, at)
      })
    const name = found.text(chart.name, 'helmCharts.name', [...path, 'name'])
    if (name === undefined) return
    const repo = found.text(chart.repo, 'helmCharts.repo', [...path, 'repo'])
    const version = found.text(chart.version, 'helmCharts.version', [...path, 'version'])
    found.references.push({
      kind: 'chart',
      value: posix.join(chartHome, name),
      field: 'helmCharts',
      path,
      ...(repo ? { repo } : {}),
      ...(version ? { version } : {}),
    })
  })
}

/** The deprecated inflator: the same inputs as helmCharts under older names. */
function inflatorReferences(found: ReferenceCollector, chartHome: string): void {
  const field = 'helmChartInflationGenerator'
  found.each(field, (chart, path) => {
    if (!isRecord(chart)) return found.fail(`"${field}" entries must be mappings`, path)
    const valuesAt = [...path, 'values']
    found.add(
      'file',
      found.text(chart.values, `${field}.values`, valuesAt),
      `${field}.values`,
      valuesAt,
    )
    const name = found.text(chart.chartName, `${field}.chartName`, [...path, 'chartName'])
    if (name === undefined) return
    const home =
      found.text(chart.chartHome, `${field}.chartHome`, [...path, 'chartHome']) ?? chartHome
    const repo = found.text(chart.chartRepoUrl, `${field}.chartRepoUrl`, [...path, 'chartRepoUrl'])
    const version = found.text(chart.chartVersion, `${field}.chartVersion`, [
      ...path,
      'chartVersion',
    ])
    found.references.push({
      kind: 'chart',
      value: posix.join(home, name),
      field,
      path,
      ...(repo ? { repo } : {}),
      ...(version ? { version } : {}),
    })
  })
}

/** Parsed kustomizations by blob id, shared by every revision and environment. */
export class KustomizationCache {
  private readonly texts = new Map<string, string>()
  private readonly parsed = new Map<string, ParsedKustomization>()
  // Full parses with positions, only of the files something is reported in.
  private readonly lined = new Map<string, LinedDocument>()

  constructor(private readonly read: (oids: string[]) => Promise<Map<string, string>>) {}

  /** Reads (in one batch) the blobs not read yet. */
  async preload(oids: Iterable<string>): Promise<void> {
    const missing = [...new Set(oids)].filter((oid) => !this.texts.has(oid))
    if (missing.length === 0) return
    for (const [oid, text] of await this.read(missing)) this.texts.set(oid, text)
  }

  get(oid: string): ParsedKustomization {
    let parsed = this.parsed.get(oid)
    if (!parsed) {
      const text = this.texts.get(oid)
      parsed =
        text === undefined
          ? { error: 'kustomization blob could not be read' }
          : parseKustomization(text)
      this.parsed.set(oid, parsed)
    }
    return parsed
  }

  /** The line of a value in a kustomization, for messages. */
  lineOf(oid: string, path: KeyPath | undefined): number | undefined {
    const text = this.texts.get(oid)
    if (text === undefined || path === undefined) return undefined
    let lined = this.lined.get(oid)
    if (!lined) this.lined.set(oid, (lined = parseWithLines(text)))
    return lineIn(lined, path)
  }
}

/**
 * The dependency graph of the given root directories at one revision. Never
 * throws for content problems: they are collected in `issues`, and the graph
 * still records every path a reference names (present or not), so a change
 * that adds a missing file is seen.
 */
export class RevisionGraph {
  readonly nodes = new Map<string, GraphNode>()
  readonly issues: GraphIssue[] = []
  // Reverse indexes (path → node directories); most paths have one reader, so
  // a single string is stored until a second one appears (fewer objects to collect).
  private readonly parents = new Map<string, string | Set<string>>()
  private readonly fileIndex = new Map<string, string | Set<string>>()
  private readonly treeIndex = new Map<string, string | Set<string>>()
  private readonly reach = new Map<string, Set<string>>()
  private readonly rootDirs = new Set<string>()

  constructor(
    readonly tree: RevisionTree,
    private readonly cache: KustomizationCache,
  ) {}

  /** Adds environment directories (kustomization or plain YAML) and everything they load. */
  addRoots(dirs: Iterable<string>): void {
    for (const dir of dirs) {
      this.rootDirs.add(dir)
      if (this.tree.kustomizationsIn(dir).length > 0) this.visit(dir, [])
      else this.plainDirectory(dir)
    }
    this.reach.clear()
  }

  /** Nodes whose render reads `path`, directly or as the nearest kustomization directory above it. */
  nodesTouching(path: string): Set<string> {
    const found = new Set<string>(valuesOf(this.fileIndex, path))
    const chain = selfAndAncestors(path)
    for (const dir of chain) for (const node of valuesOf(this.treeIndex, dir)) found.add(node)
    // Ownership: the nearest directory above the path that kustomize loads as a unit.
    for (const dir of chain.slice(1)) {
      if (this.tree.kustomizationsIn(dir).length > 0 || this.nodes.has(dir)) {
        if (this.nodes.has(dir)) found.add(dir)
        break
      }
    }
    return found
  }

  /** Root directories (environments) that load `dir`, including itself. */
  rootsReaching(dir: string): Set<string> {
    const cached = this.reach.get(dir)
    if (cached) return cached
    const roots = new Set<string>()
    const seen = new Set<string>([dir])
    const queue = [dir]
    for (let current = queue.pop(); current !== undefined; current = queue.pop()) {
      if (this.rootDirs.has(current)) roots.add(current)
      for (const parent of valuesOf(this.parents, current)) {
        if (!seen.has(parent)) {
          seen.add(parent)
          queue.push(parent)
        }
      }
    }
    this.reach.set(dir, roots)
    return roots
  }

  /** Remote references reachable from a root. */
  externalOf(root: string): ExternalReference[] {
    const found: RemoteEntry[] = []
    const seen = new Set<string>()
    const walk = (dir: string) => {
      if (seen.has(dir)) return
      seen.add(dir)
      const node = this.nodes.get(dir)
      if (!node) return
      found.push(...node.external)
      for (const child of node.children) walk(child)
    }
    walk(root)
    return found.map(({ kind, reference, file, oid, path }) => {
      const line = this.cache.lineOf(oid, path)
      return { kind, reference, file, ...(line !== undefined ? { line } : {}) }
    })
  }

  /** Every file and directory a root's render can read (for inspection and tests). */
  closureOf(root: string): { files: string[]; trees: string[]; kustomizations: string[] } {
    const files = new Set<string>()
    const trees = new Set<string>()
    const kustomizations = new Set<string>()
    const stack = [root]
    for (let dir = stack.pop(); dir !== undefined; dir = stack.pop()) {
      const node = this.nodes.get(dir)
      if (!node || kustomizations.has(dir)) continue
      kustomizations.add(dir)
      for (const file of node.files) files.add(file)
      for (const tree of node.trees) trees.add(tree)
      stack.push(...node.children)
    }
    const sorted = (set: Set<string>) => [...set].sort()
    return { files: sorted(files), trees: sorted(trees), kustomizations: sorted(kustomizations) }
  }

  private newNode(dir: string, file?: string): GraphNode {
    const node: GraphNode = {
      dir,
      ...(file !== undefined ? { file } : {}),
      files: new Set(),
      trees: new Set(),
      children: new Set(),
      external: [],
    }
    this.nodes.set(dir, node)
    return node
  }

  private plainDirectory(dir: string): void {
    if (this.nodes.has(dir)) return
    const node = this.newNode(dir)
    this.dependOnTree(node, dir)
  }

  private dependOnFile(node: GraphNode, path: string) {
    node.files.add(path)
    addTo(this.fileIndex, path, node.dir)
  }

  private dependOnTree(node: GraphNode, dir: string) {
    node.trees.add(dir)
    addTo(this.treeIndex, dir, node.dir)
  }

  private link(node: GraphNode, child: string) {
    node.children.add(child)
    addTo(this.parents, child, node.dir)
  }

  /** Loads a kustomization directory; `stack` is the chain of directories being loaded, for cycles. */
  private visit(dir: string, stack: string[]): void {
    if (this.nodes.has(dir)) return
    const [file, ...others] = this.tree.kustomizationsIn(dir)
    if (file === undefined) return
    const node = this.newNode(dir, file)
    for (const path of [file, ...others]) this.dependOnFile(node, path)
    if (others.length > 0) {
      this.issues.push({
        message: `found more than one kustomization file in "${dir}": ${[file, ...others].join(', ')}`,
        file,
        dir,
      })
    }
    const parsed = this.cache.get(this.tree.files.get(file) ?? '')
    if ('error' in parsed) {
      const line = parsed.line ?? this.cache.lineOf(this.tree.files.get(file) ?? '', parsed.path)
      this.issues.push({
        message: parsed.error,
        file,
        dir,
        ...(line !== undefined ? { line } : {}),
      })
      return
    }
    const chain = [...stack, dir]
    for (const reference of parsed.references) this.resolve(node, reference, chain)
  }

  private resolve(node: GraphNode, reference: Reference, stack: string[]): void {
    // Lines are looked up only when something is reported.
    const issue = (message: string) =>
      this.issues.push({ message, dir: node.dir, ...this.locate(node, reference) })
    const kind = reference.kind
    if (kind !== 'chart' && isRemoteReference(reference.value)) {
      node.external.push(this.remote(node, 'kustomize', reference.value, reference))
      return
    }
    const target = resolvePath(node.dir, reference.value)
    if (target === undefined || posix.isAbsolute(reference.value)) {
      issue(`${reference.field} entry "${reference.value}" points outside the repository`)
      return
    }
    if (kind === 'chart') {
      this.resolveChart(node, reference, target, issue)
      return
    }
    const isFile = this.tree.files.has(target)
    const isDir = !isFile && this.tree.dirs.has(target)
    const isKustomization = isDir && this.tree.kustomizationsIn(target).length > 0
    if (isKustomization && kind !== 'file') {
      if (stack.includes(target)) {
        issue(`reference cycle: ${[...stack.slice(stack.indexOf(target)), target].join(' -> ')}`)
        this.link(node, target)
        return
      }
      this.visit(target, stack)
      this.link(node, target)
      return
    }
    if (isFile && kind !== 'component') {
      this.dependOnFile(node, target)
      return
    }
    if (isDir) {
      // kustomize refuses these, but the directory is still what the entry reads.
      this.dependOnTree(node, target)
      issue(
        kind === 'file'
          ? `${reference.field} entry "${reference.value}" is a directory, not a file`
          : `${reference.field} entry "${reference.value}" is a directory without a kustomization file (${KUSTOMIZATION_FILE_NAMES.join(', ')})`,
      )
      return
    }
    if (isFile) {
      this.dependOnFile(node, target)
      issue(
        `components entry "${reference.value}" is a file; a component is a directory with a kustomization`,
      )
      return
    }
    // Record the missing path so a change that adds it is still seen.
    this.dependOnFile(node, target)
    this.dependOnTree(node, target)
    issue(`${reference.field} entry "${reference.value}" does not exist (${target})`)
  }

  private remote(
    node: GraphNode,
    kind: RemoteEntry['kind'],
    value: string,
    reference: Reference,
  ): RemoteEntry {
    const file = node.file ?? node.dir
    return {
      kind,
      reference: value,
      file,
      oid: this.tree.files.get(file) ?? '',
      path: reference.path,
    }
  }

  private locate(node: GraphNode, reference: Reference): { file: string; line?: number } {
    const file = node.file ?? node.dir
    const line = this.cache.lineOf(this.tree.files.get(file) ?? '', reference.path)
    return { file, ...(line !== undefined ? { line } : {}) }
  }

  private resolveChart(
    node: GraphNode,
    reference: Reference,
    chartDir: string,
    issue: (message: string) => void,
  ) {
    // kustomize reads <chartHome>/<name>, or pulls a versioned chart into <chartHome>/<name>-<version>.
    const candidates = [
      chartDir,
      ...(reference.version ? [`${chartDir}-${reference.version}`] : []),
    ]
    for (const dir of candidates) this.dependOnTree(node, dir)
    if (reference.repo) {
      node.external.push(
        this.remote(
          node,
          'helm',
          `${reference.repo} ${posix.basename(chartDir)}${reference.version ? `@${reference.version}` : ''}`,
          reference,
        ),
      )
    } else if (!candidates.some((dir) => this.tree.dirs.has(dir))) {
      issue(
        `Helm chart "${posix.basename(chartDir)}" has no repo and no local chart directory (${chartDir})`,
      )
    }
  }
}

function addTo(index: Map<string, string | Set<string>>, key: string, value: string) {
  const current = index.get(key)
  if (current === undefined) index.set(key, value)
  else if (typeof current === 'string') {
    if (current !== value) index.set(key, new Set([current, value]))
  } else current.add(value)
}

function valuesOf(index: Map<string, string | Set<string>>, key: string): Iterable<string> {
  const current = index.get(key)
  return current === undefined ? [] : typeof current === 'string' ? [current] : current
}

/** Turns a revision's issues into one error naming every file and line. */
export function issuesError(issues: readonly GraphIssue[], revisionLabel: string): UserError {
  const where = (issue: GraphIssue) =>
    `${issue.file}${issue.line !== undefined ? `:${issue.line}` : ''}`
  const first = issues[0]
  const lines = issues.slice(0, 20).map((issue) => `  ${where(issue)}: ${issue.message}`)
  if (issues.length > 20) lines.push(`  … and ${issues.length - 20} more`)
  return new UserError(
    `kustomize dependency graph at ${revisionLabel} has ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n${lines.join('\n')}`,
    first
      ? { file: first.file, ...(first.line !== undefined ? { line: first.line } : {}) }
      : undefined,
  )
}
