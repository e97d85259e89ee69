// Which environments a change touches: the environments whose kustomize/Helm
// dependency closure, at the base OR the head revision, contains a changed
// path; plus environments added or removed, `impact.extra` rules, and what a
// change to the configuration file itself affects. Everything is read from
// git objects, so neither revision is checked out.
import { minimatch } from 'minimatch'
import {
  DEFAULT_CONFIG_FILE,
  discoverEnvironments,
  environmentsFromPaths,
  stageOrder,
  loadConfigFrom,
} from '../config/config.js'
import type { Environment, FleetConfig, ImpactRule } from '../config/types.js'
import { UserError } from '../errors.js'
import type { ChangedFile, Git } from '../git/git.js'
import {
  issuesError,
  KustomizationCache,
  RevisionGraph,
  RevisionTree,
  type ExternalReference,
  type GraphIssue,
} from './graph.js'
import { gitRevisionSource } from '../config/sources.js'

/** A remote dependency (kustomize URL or Helm repository) and the impacted environments using it. */
export interface ExternalDependency extends ExternalReference {
  environments: string[]
}

export interface ImpactReport {
  environments: Environment[]
  /** Stage names with impacted environments, in stage order. */
  stages: string[]
  count: number
  external: ExternalDependency[]
  /** Environment name → why it is impacted (changed paths, "environment added", rules…). */
  reasons: Record<string, string[]>
  /** Problems at the base revision: they do not block (the base is the old state). */
  warnings: string[]
  /**
   * Environment name → what breaks its dependency graph at the head
   * (`file:line: problem`). Such an environment is impacted; its render fails
   * with that reason, the others go on.
   */
  problems: Record<string, string[]>
  /** Those problems once each, with file and line, for annotations. */
  headIssues: GraphIssue[]
}

/** One side of the comparison: its tree and the environments found in it. */
export interface RevisionInput {
  tree: RevisionTree
  environments: Environment[]
}

export interface AnalyzeOptions {
  base: RevisionInput
  head: RevisionInput
  changed: readonly ChangedFile[]
  /** Parsed kustomizations; must hold every kustomization blob of both trees. */
  cache: KustomizationCache
  extraRules?: readonly ImpactRule[]
  /** Environments impacted by a change of the configuration file, with the reason. */
  configImpact?: ConfigImpact
  /** Stage names in order, for sorting the result. */
  stageOrder: readonly string[]
}

export interface ConfigImpact {
  all: boolean
  environments: Set<string>
  /** Environments only the new configuration defines. */
  added: Environment[]
  reason: string
}

class Reasons {
  readonly byEnvironment = new Map<string, Set<string>>()
  add(environment: string, reason: string) {
    let set = this.byEnvironment.get(environment)
    if (!set) this.byEnvironment.set(environment, (set = new Set()))
    set.add(reason)
  }
}

function describeChange(file: ChangedFile, side: 'path' | 'oldPath'): string {
  const verb = {
    A: 'added',
    M: 'modified',
    D: 'deleted',
    R: 'renamed',
    C: 'copied',
    T: 'type changed',
  }[file.status]
  if (file.oldPath !== undefined)
    return `${file.oldPath} → ${file.path} (${verb}${side === 'oldPath' ? ', old path' : ''})`
  return `${file.path} (${verb})`
}

/**
 * The impact computation proper, on already loaded revisions. A problem of
 * the head revision's graph impacts the environments that load it; one that
 * no environment loads throws a UserError listing it.
 */
export function analyzeImpact(options: AnalyzeOptions): ImpactReport {
  const { base, head, changed, cache } = options
  const baseGraph = new RevisionGraph(base.tree, cache)
  baseGraph.addRoots(base.environments.map((env) => env.path))
  const headGraph = new RevisionGraph(head.tree, cache)
  headGraph.addRoots(head.environments.map((env) => env.path))
  const problems = headProblems(headGraph, head)
  const sides: [RevisionGraph, RevisionInput][] = [
    [baseGraph, base],
    [headGraph, head],
  ]

  const known = knownEnvironments(options)
  const reasons = new Reasons()
  membershipReasons(base, head, reasons)
  for (const [graph, input] of sides) graphReasons(graph, input, changed, reasons)
  extraRuleReasons(options.extraRules ?? [], changed, known, reasons)
  // A problem main already has impacts only what this change impacts anyway.
  const old = new Set(baseGraph.issues.map(issueText))
  for (const [name, found] of problems) {
    if (found.some((problem) => !old.has(problem)) || reasons.byEnvironment.has(name))
      for (const problem of found) reasons.add(name, problem)
    else problems.delete(name)
  }
  const configImpact = options.configImpact
  if (configImpact) {
    for (const name of known.keys()) {
      if (configImpact.all || configImpact.environments.has(name))
        reasons.add(name, configImpact.reason)
    }
  }

  const environments = inStageOrder(reasons, known, options.stageOrder)
  return {
    environments: environments.map(({ name, path, stage, branch, folder }) => ({
      name,
      path,
      stage,
      branch,
      ...(folder !== undefined ? { folder } : {}),
    })),
    stages: [...new Set(environments.map((env) => env.stage))],
    count: environments.length,
    external: externalDependencies(
      environments,
      sides.map(([graph]) => graph),
    ),
    reasons: Object.fromEntries(
      environments.map((env) => [
        env.name,
        [...(reasons.byEnvironment.get(env.name) ?? [])].sort(),
      ]),
    ),
    warnings: baseGraph.issues.map((issue) => formatIssue(issue, base.tree.label)),
    problems: Object.fromEntries(problems),
    headIssues: headGraph.issues.filter((issue) =>
      [...problems.values()].some((found) => found.includes(issueText(issue))),
    ),
  }
}

/** Environment name → the head graph's problems in what it loads; throws for a problem none loads. */
function headProblems(graph: RevisionGraph, head: RevisionInput): Map<string, string[]> {
  const problems = new Map<string, string[]>()
  const unplaced: GraphIssue[] = []
  for (const issue of graph.issues) {
    const roots = issue.dir === undefined ? new Set<string>() : graph.rootsReaching(issue.dir)
    const names = head.environments.filter((env) => roots.has(env.path)).map((env) => env.name)
    if (names.length === 0) unplaced.push(issue)
    for (const name of names) problems.set(name, [...(problems.get(name) ?? []), issueText(issue)])
  }
  if (unplaced.length > 0) throw issuesError(unplaced, graph.tree.label)
  return problems
}

/** Every environment either side or the new configuration defines, by name. */
function knownEnvironments(options: AnalyzeOptions): Map<string, Environment> {
  const known = new Map<string, Environment>()
  for (const env of options.base.environments) known.set(env.name, env)
  for (const env of options.head.environments) known.set(env.name, env)
  for (const env of options.configImpact?.added ?? [])
    if (!known.has(env.name)) known.set(env.name, env)
  return known
}

function membershipReasons(base: RevisionInput, head: RevisionInput, reasons: Reasons): void {
  const baseNames = new Set(base.environments.map((env) => env.name))
  const headNames = new Set(head.environments.map((env) => env.name))
  for (const env of head.environments)
    if (!baseNames.has(env.name)) reasons.add(env.name, 'environment added')
  for (const env of base.environments)
    if (!headNames.has(env.name)) reasons.add(env.name, 'environment removed')
}

/** The environments of one revision whose kustomization reaches a changed file. */
function graphReasons(
  graph: RevisionGraph,
  input: RevisionInput,
  changed: readonly ChangedFile[],
  reasons: Reasons,
): void {
  const namesByPath = new Map<string, string[]>()
  for (const env of input.environments)
    namesByPath.set(env.path, [...(namesByPath.get(env.path) ?? []), env.name])
  for (const file of changed) {
    for (const side of ['path', 'oldPath'] as const) {
      const path = file[side]
      if (path === undefined) continue
      for (const node of graph.nodesTouching(path)) {
        for (const root of graph.rootsReaching(node)) {
          for (const name of namesByPath.get(root) ?? [])
            reasons.add(name, describeChange(file, side))
        }
      }
    }
  }
}

/** `impact.extra` rules: changed paths matching a rule impact the environments it names. */
function extraRuleReasons(
  rules: readonly ImpactRule[],
  changed: readonly ChangedFile[],
  known: Map<string, Environment>,
  reasons: Reasons,
): void {
  for (const [index, rule] of rules.entries()) {
    const hits = changed
      .flatMap((file) => [file.path, file.oldPath])
      .filter(
        (path): path is string =>
          path !== undefined && rule.paths.some((glob) => minimatch(path, glob, { dot: true })),
      )
    if (hits.length === 0) continue
    for (const name of known.keys()) {
      if (rule.environments.some((glob) => minimatch(name, glob, { dot: true }))) {
        reasons.add(
          name,
          `impact.extra[${index}] matches ${hits.slice(0, 3).join(', ')}${hits.length > 3 ? ', …' : ''}`,
        )
      }
    }
  }
}

/** The impacted environments, in promotion order of their stages, then by name. */
function inStageOrder(
  reasons: Reasons,
  known: Map<string, Environment>,
  stageOrder: readonly string[],
): Environment[] {
  const rank = new Map(stageOrder.map((stage, index) => [stage, index]))
  return [...reasons.byEnvironment.keys()]
    .map((name) => known.get(name))
    .filter((env): env is Environment => env !== undefined)
    .sort(
      (a, b) =>
        (rank.get(a.stage) ?? rank.size) - (rank.get(b.stage) ?? rank.size) ||
        (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    )
}

/** What the impacted environments pull from outside the repository (charts, remote bases), once each. */
function externalDependencies(
  environments: readonly Environment[],
  graphs: readonly RevisionGraph[],
): ExternalDependency[] {
  const external = new Map<string, ExternalDependency>()
  for (const env of environments) {
    for (const graph of graphs) {
      if (!graph.nodes.has(env.path)) continue
      for (const ref of graph.externalOf(env.path)) {
        const key = `${ref.kind}\0${ref.reference}\0${ref.file}`
        const entry = external.get(key) ?? { ...ref, environments: [] }
        if (!entry.environments.includes(env.name)) entry.environments.push(env.name)
        external.set(key, entry)
      }
    }
  }
  return [...external.values()].sort((a, b) =>
    a.reference < b.reference ? -1 : a.reference > b.reference ? 1 : 0,
  )
}

function issueText(issue: GraphIssue): string {
  return `${issue.file}${issue.line !== undefined ? `:${issue.line}` : ''}: ${issue.message}`
}

function formatIssue(issue: GraphIssue, label: string): string {
  return `${label}: ${issueText(issue)}`
}

/** The settings that change what every environment renders or which environments a change reaches. */
function renderRelevant(config: FleetConfig): string {
  return JSON.stringify(
    { hydrate: config.hydrate, impact: config.impact },
    (key, value: unknown) => (key === 'line' ? undefined : value),
  )
}

/**
 * What a change of the configuration file affects, decided at the head tree:
 * everything when the hydrate or impact settings change, otherwise the
 * environments whose name, directory, stage or branch differ between the
 * two configurations (including ones only one of them defines).
 */
export function configChangeImpact(
  baseConfig: FleetConfig,
  headConfig: FleetConfig,
  headFiles: readonly string[],
  configFile: string,
): ConfigImpact | undefined {
  const key = (env: Environment) => `${env.path}\0${env.stage}\0${env.branch}`
  const before = new Map(
    discoverEnvironments(baseConfig, headFiles, { allowUnmatched: true }).map((env) => [
      env.name,
      env,
    ]),
  )
  const after = discoverEnvironments(headConfig, headFiles, { allowUnmatched: true })
  const all = renderRelevant(baseConfig) !== renderRelevant(headConfig)
  const environments = new Set<string>()
  const added: Environment[] = []
  for (const env of after) {
    const old = before.get(env.name)
    if (!old) added.push(env)
    if (!old || key(old) !== key(env)) environments.add(env.name)
    before.delete(env.name)
  }
  for (const name of before.keys()) environments.add(name)
  if (!all && environments.size === 0) return undefined
  return {
    all,
    environments,
    added,
    reason: all
      ? `${configFile} changed (hydrate or impact settings)`
      : `${configFile} changed (environment name, stage or branch)`,
  }
}

export interface DetectOptions {
  git: Git
  base: string
  head: string
  /** Repository-relative configuration path (default fleet-promote.yaml), read at the base revision. */
  configFile?: string
  /** CLI --env: explicit environment directories or globs instead of the configured ones. */
  environmentPatterns?: readonly string[]
  /** Remote to fetch missing history from (a shallow checkout). */
  remote?: string
}

export interface DetectResult extends ImpactReport {
  base: string
  head: string
  mergeBase: string
  changedFiles: ChangedFile[]
  /** Milliseconds per phase, for benchmarks and debugging. */
  timings: Record<string, number>
  /** CLI --env patterns left out, each with why (the other environments are analysed). */
  unusable: string[]
}

/** Reads the configuration file at a revision; defaults when the default file is absent. */
async function configAt(
  git: Git,
  rev: string,
  file: string,
  explicit: boolean,
): Promise<FleetConfig> {
  return loadConfigFrom(gitRevisionSource(git, rev), file, { missingIsDefault: !explicit })
}

/**
 * The whole detection: make sure both revisions and their merge base are
 * present (deepening a shallow clone), diff base...head, load both trees and
 * configurations, and analyze. The configuration always comes from the base.
 */
export async function detectImpact(options: DetectOptions): Promise<DetectResult> {
  const { git } = options
  const timings: Record<string, number> = {}
  let started = performance.now()
  const lap = (phase: string) => {
    const now = performance.now()
    timings[phase] = Math.round(now - started)
    started = now
  }
  const configFile = (options.configFile ?? DEFAULT_CONFIG_FILE).replace(/^\.\//, '')
  const { base, head, mergeBase } = await ensureHistory(
    git,
    options.base,
    options.head,
    options.remote ?? 'origin',
  )
  lap('history')
  const { changedFiles, baseTree, headTree } = await revisionTrees(git, base, head)
  lap('trees')
  const config = await configAt(git, base, configFile, options.configFile !== undefined)
  const configChanged = changedFiles.some(
    (file) => file.path === configFile || file.oldPath === configFile,
  )
  const { baseEnvs, headEnvs, configImpact, notes, unusable } = await environmentsOf(
    options.environmentPatterns ?? [],
    config,
    { base: [...baseTree.files.keys()], head: [...headTree.files.keys()] },
    configChanged
      ? { file: configFile, read: () => configAt(git, head, configFile, false) }
      : undefined,
  )
  lap('environments')
  const cache = new KustomizationCache((oids) => git.readBlobs(oids))
  await cache.preload([...baseTree.kustomizationBlobIds(), ...headTree.kustomizationBlobIds()])
  lap('read')
  const report = analyzeImpact({
    base: { tree: baseTree, environments: baseEnvs },
    head: { tree: headTree, environments: headEnvs },
    changed: changedFiles,
    cache,
    extraRules: config.impact.extra,
    ...(configImpact ? { configImpact } : {}),
    stageOrder: stageOrder(config),
  })
  lap('graph')
  const warnings = [
    ...(config.defaultsNote ? [config.defaultsNote] : []),
    ...new Set(notes),
    ...report.warnings,
  ]
  return { ...report, warnings, base, head, mergeBase, changedFiles, timings, unusable }
}

/** The changed files and both revisions' trees, from one listing: the base's files are the head's plus what differs. */
async function revisionTrees(git: Git, base: string, head: string) {
  const [changedFiles, headBlobs, toBase] = await Promise.all([
    git.changedFiles(base, head),
    git.listBlobs(head),
    git.treeChanges(head, base),
  ])
  const baseBlobs = new Map(headBlobs)
  for (const [path, oid] of toBase) {
    if (oid === undefined) baseBlobs.delete(path)
    else baseBlobs.set(path, oid)
  }
  const baseTree = new RevisionTree(`base (${base.slice(0, 12)})`, baseBlobs)
  const headTree = new RevisionTree(`head (${head.slice(0, 12)})`, headBlobs)
  return { changedFiles, baseTree, headTree }
}

/**
 * Both revisions' environments: from the given patterns, or discovered with
 * the base's configuration; a changed configuration file impacts what its
 * change touches (discovery only: patterns name the environments outright).
 */
async function environmentsOf(
  patterns: readonly string[],
  config: FleetConfig,
  files: { base: string[]; head: string[] },
  changedConfig: { file: string; read: () => Promise<FleetConfig> } | undefined,
): Promise<{
  baseEnvs: Environment[]
  headEnvs: Environment[]
  configImpact?: ConfigImpact
  /** Directories whose environment name had to be derived. */
  notes: string[]
  unusable: string[]
}> {
  const notes: string[] = []
  if (patterns.length > 0) {
    const known = new Map<string, Environment>()
    // One pattern that gives no usable environment is reported, not fatal to the others.
    const unusable: string[] = []
    const headEnvs = environmentsFromPaths(config, files.head, patterns, {
      known,
      notes,
      problems: unusable,
    })
    // A directory may not exist at the base yet: keep what each pattern finds there.
    const baseEnvs = environmentsFromPaths(config, files.base, patterns, {
      skipUnresolved: true,
      known,
      notes,
    })
    return { baseEnvs, headEnvs, notes, unusable }
  }
  const baseEnvs = discoverEnvironments(config, files.base, { allowUnmatched: true, notes })
  const headEnvs = discoverEnvironments(config, files.head, { notes })
  if (!changedConfig) return { baseEnvs, headEnvs, notes, unusable: [] }
  const headConfig = await changedConfig.read()
  const configImpact = configChangeImpact(config, headConfig, files.head, changedConfig.file)
  return { baseEnvs, headEnvs, configImpact, notes, unusable: [] }
}

const FULL_SHA = /^[0-9a-f]{40}$/i

/**
 * Resolves base and head and finds their merge base, fetching what a shallow
 * `actions/checkout` lacks: the commits themselves, then deeper history until
 * the merge base appears, and finally the whole history.
 */
export async function ensureHistory(
  git: Git,
  baseRev: string,
  headRev: string,
  remote: string,
): Promise<{ base: string; head: string; mergeBase: string }> {
  const missing = []
  for (const rev of [baseRev, headRev]) {
    if ((await git.tryRevParse(rev)) === undefined) missing.push(rev)
  }
  if (missing.length > 0) {
    const fetchable = missing.filter((rev) => FULL_SHA.test(rev))
    if (fetchable.length === missing.length && (await hasRemote(git, remote))) {
      const shallow = await git.isShallow()
      const fetched = await git.raw([
        'fetch',
        '--quiet',
        '--no-tags',
        ...(shallow ? ['--depth=1'] : []),
        '--',
        remote,
        ...fetchable,
      ])
      if (fetched.code !== 0) {
        throw new UserError(
          `revision ${missing.join(', ')} does not exist locally and could not be fetched from ${remote}: ${fetched.stderr.trim()}`,
        )
      }
    }
  }
  const base = await git.tryRevParse(baseRev)
  if (base === undefined)
    throw new UserError(`base revision "${baseRev}" does not exist in the repository`)
  const head = await git.tryRevParse(headRev)
  if (head === undefined)
    throw new UserError(`head revision "${headRev}" does not exist in the repository`)

  let mergeBase = await git.mergeBase(base, head)
  for (const deepen of [50, 200, 1000]) {
    if (mergeBase !== undefined || !(await git.isShallow()) || !(await hasRemote(git, remote)))
      break
    await git.fetch(remote, [base, head], { deepen })
    mergeBase = await git.mergeBase(base, head)
  }
  if (mergeBase === undefined && (await git.isShallow()) && (await hasRemote(git, remote))) {
    await git.fetch(remote, [base, head], { unshallow: true })
    mergeBase = await git.mergeBase(base, head)
  }
  if (mergeBase === undefined) {
    throw new UserError(
      `base ${base.slice(0, 12)} and head ${head.slice(0, 12)} have no common history`,
    )
  }
  return { base, head, mergeBase }
}

async function hasRemote(git: Git, remote: string): Promise<boolean> {
  const result = await git.raw(['remote'])
  return result.code === 0 && result.stdout.split('\n').includes(remote)
}
