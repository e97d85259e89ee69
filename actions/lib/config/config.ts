// Loads fleet-promote.yaml: YAML → JSON Schema validation (errors with file,
// line and key) → defaults → semantic checks. Also turns the configuration
// and a repository's file list into environments with stages and branches.
import { readFile } from 'node:fs/promises'
import { isAbsolute, relative, resolve } from 'node:path'
import type { ErrorObject } from 'ajv'
import { Minimatch } from 'minimatch'
import { parse as parseSemver } from 'semver'
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml'
import type {
  DeployBackend,
  DeploymentsMode,
  Environment,
  EnvironmentRule,
  FleetConfig,
  HttpCheck,
  Permission,
  PrometheusCheck,
  StageConfig,
  StatusesMode,
  VerifyConfig,
  WaveMode,
} from './types.js'
import { parseCondition } from './condition.js'
import { UserError } from '../errors.js'
import { derivedEnvironmentName, invalidFolderReason, unsafeNameReason } from './naming.js'
import { matchesPrefix } from '../render/safety.js'
import { CHILD_BRANCH_PREFIX, childUnit } from '../children.js'
import { validateConfigSchema } from './schema-validator.js'

export { unsafeNameReason } from './naming.js'

export const DEFAULT_CONFIG_FILE = 'fleet-promote.yaml'
export const DEFAULTS_FILE = '(defaults)'
export const KUSTOMIZATION_FILES: readonly string[] = [
  'kustomization.yaml',
  'kustomization.yml',
  'Kustomization',
]

const DEFAULT_PROTECTED_KINDS = [
  'Namespace',
  'CustomResourceDefinition',
  'PersistentVolumeClaim',
  'PersistentVolume',
  'StatefulSet',
  'Application',
  'AppProject',
  'Kustomization',
]

/** The configuration of a repository without fleet-promote.yaml. */
export function defaultConfig(): FleetConfig {
  return {
    version: 1,
    file: DEFAULTS_FILE,
    environments: [defaultEnvironmentRule()],
    stages: [
      {
        name: 'default',
        match: ['*'],
        requires: [],
        autoPromote: false,
        approvals: 0,
        permission: 'write',
        backend: 'merge',
        production: false,
        waves: [],
        waveMode: 'auto',
        bakeSeconds: 0,
        verify: { http: [], prometheus: [] },
        failFast: true,
        rollback: false,
      },
    ],
    impact: { extra: [] },
    hydrate: {
      layout: 'manifest',
      helm: { enabled: true, allowedRepos: [] },
      remoteBases: [],
      deletionGuard: {
        maxDeleted: 10,
        maxDeletedPercent: 20,
        protectedKinds: [...DEFAULT_PROTECTED_KINDS],
      },
      timeoutSeconds: 300,
      maxOutputBytes: 64 * 1024 * 1024,
      maxMemoryMegabytes: 4096,
      sandbox: 'required',
    },
    promote: {
      command: '.promote',
      permission: 'write',
      allowForks: false,
      allowBots: [],
      requiredStages: 'wet-branches',
    },
    deploy: {
      backend: 'merge',
      deployments: 'auto',
      argocd: { server: '', application: '{name}', timeoutSeconds: 600, insecure: false },
      external: { system: 'external deployment' },
    },
    merge: { mergeUnpromoted: true },
    report: { minimumVersions: [], chartRepositories: [] },
    statuses: 'per-environment',
  }
}

/** Every directory below `clusters/` holding a kustomization, named by its path below it. */
function defaultEnvironmentRule(): EnvironmentRule {
  return { glob: 'clusters/**', name: '{1}', branch: 'env/{name}', exclude: [] }
}

/** Where a configuration file is read from (a directory, a git revision, the contents API). */
export interface ConfigSource {
  /** How an error names the place, after the file: e.g. `at 1a2b3c4d5e6f`, `on main`; '' for a directory. */
  where: string
  /** The revision read (a branch, a SHA prefix), to say the file is not in it; none for a directory. */
  revision?: string
  /** The file's text, or undefined when it does not exist there. */
  read(file: string): Promise<string | undefined>
}

/**
 * The one configuration loader. A missing default file gives the defaults; a
 * missing file named explicitly is an error (unless `missingIsDefault`, for
 * revisions that predate the file).
 */
export async function loadConfigFrom(
  source: ConfigSource,
  file = DEFAULT_CONFIG_FILE,
  options: { missingIsDefault?: boolean } = {},
): Promise<FleetConfig> {
  const text = await source.read(file)
  if (text !== undefined) return parseConfig(text, file)
  if (file === DEFAULT_CONFIG_FILE || options.missingIsDefault) {
    if (source.revision === undefined) return defaultConfig()
    return { ...defaultConfig(), defaultsNote: missingConfigNote(file, source.revision) }
  }
  const where = source.where ? ` ${source.where}` : ''
  throw new UserError(`configuration file ${file} does not exist${where}`, { file })
}

/** What to do when the configuration is not in the revision it is read from (the defaults apply meanwhile). */
export function missingConfigNote(file: string, revision: string): string {
  return (
    `${file} is not in ${revision}; commit it there (the configuration is read from the base branch). ` +
    'Until then the defaults apply: every directory below clusters/ holding a kustomization is an environment, in one stage.'
  )
}

/** Read `file` (repo-relative) under repoDir. */
export async function loadConfig(repoDir: string, file?: string): Promise<FleetConfig> {
  const name = file ?? DEFAULT_CONFIG_FILE
  const inside = relative(resolve(repoDir), resolve(repoDir, name))
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) {
    throw new UserError(`configuration file ${name} is not inside the repository`)
  }
  const directory: ConfigSource = {
    where: '',
    read: async (file) => {
      try {
        return await readFile(resolve(repoDir, file), 'utf8')
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
        throw error
      }
    },
  }
  return loadConfigFrom(directory, inside.split('\\').join('/'))
}

// ---------------------------------------------------------------------------
// Parsing and validation

type Path = (string | number)[]

interface RawStage {
  name: string
  match?: string[]
  requires?: string[]
  autoPromote?: boolean
  approvals?: number
  permission?: Permission
  backend?: DeployBackend
  production?: boolean
  waves?: string[]
  waveMode?: WaveMode
  maxParallel?: number
  bakeSeconds?: number
  verify?: {
    http?: (Partial<Omit<HttpCheck, 'url'>> & { url: string })[]
    prometheus?: (Partial<Omit<PrometheusCheck, 'url' | 'query' | 'condition'>> &
      Pick<PrometheusCheck, 'url' | 'query' | 'condition'>)[]
  }
  failFast?: boolean
  maxFailures?: number
  rollback?: boolean
}

interface RawConfig {
  version: 1
  environments?: {
    glob: string
    name?: string
    branch?: string
    path?: string
    exclude?: string[]
  }[]
  stages?: RawStage[]
  impact?: { extra?: { paths: string[]; environments: string[] }[] }
  hydrate?: {
    layout?: 'manifest' | 'per-resource'
    helm?: { enabled?: boolean; allowedRepos?: string[] }
    remoteBases?: string[]
    deletionGuard?: { maxDeleted?: number; maxDeletedPercent?: number; protectedKinds?: string[] }
    timeoutSeconds?: number
    maxOutputBytes?: number
    maxMemoryMegabytes?: number
    sandbox?: 'required' | 'off'
  }
  promote?: {
    command?: string
    permission?: Permission
    allowForks?: boolean
    allowBots?: string[]
    requiredStages?: 'wet-branches' | 'pull-request'
  }
  deploy?: {
    backend?: DeployBackend
    deployments?: DeploymentsMode
    argocd?: { server?: string; application?: string; timeoutSeconds?: number; insecure?: boolean }
    external?: { system?: string }
  }
  merge?: { mergeUnpromoted?: boolean }
  report?: {
    minimumVersions?: { chart: string; version: string; reason?: string }[]
    chartRepositories?: { chart: string; repo: string }[]
  }
  statuses?: StatusesMode
}

interface Problem {
  path: Path
  /** Point at the key of the last path element rather than its value. */
  atKey?: boolean
  message: string
}

/** Where YAML nodes are, for messages and annotations. */
class SourceMap {
  constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  locate(path: Path, atKey = false): { line: number; column: number } {
    let node: unknown = this.doc.contents
    let offset = rangeStart(node) ?? 0
    for (const [index, segment] of path.entries()) {
      if (isMap(node)) {
        const pair = node.items.find((item) => isScalar(item.key) && item.key.value === segment)
        if (!pair) break
        if (atKey && index === path.length - 1) {
          offset = rangeStart(pair.key) ?? offset
          break
        }
        node = pair.value
      } else if (isSeq(node) && typeof segment === 'number') {
        node = node.items[segment]
      } else {
        break
      }
      offset = rangeStart(node) ?? offset
    }
    const { line, col } = this.lines.linePos(offset)
    return { line, column: col }
  }

  line(path: Path): number {
    return this.locate(path).line
  }
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | null)?.range
  return range?.[0]
}

/** `stages[0].requires[1]` */
export function formatKeyPath(path: Path): string {
  let out = ''
  for (const segment of path) {
    out += typeof segment === 'number' ? `[${segment}]` : out ? `.${segment}` : segment
  }
  return out || '(top level)'
}

function fail(source: SourceMap, problems: Problem[]): never {
  const located = problems
    .map((problem) => ({ ...problem, ...source.locate(problem.path, problem.atKey) }))
    .sort((a, b) => a.line - b.line || a.column - b.column)
  const first = located[0]
  const lines = located.map(
    (p) => `${source.file}:${p.line}:${p.column}: ${formatKeyPath(p.path)}: ${p.message}`,
  )
  throw new UserError(lines.join('\n'), {
    file: source.file,
    line: first?.line ?? 1,
    column: first?.column ?? 1,
  })
}

// Compiled ahead of time (scripts/schema-validator.mjs): compiling the schema
// at run time cost ~14 MiB of peak memory in every action that reads a configuration.
function validate(data: unknown): ErrorObject[] {
  return validateConfigSchema(data) ? [] : (validateConfigSchema.errors ?? [])
}

/** Parse, validate and normalize fleet-promote.yaml text. Throws UserError naming file, line and key. */
export function parseConfig(text: string, file: string): FleetConfig {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true })
  const source = new SourceMap(file, doc, lines)
  const syntaxError = doc.errors[0]
  if (syntaxError) {
    const position = syntaxError.linePos?.[0] ?? { line: 1, col: 1 }
    const reason = (syntaxError.message.split('\n')[0] ?? syntaxError.code).replace(
      / at line \d+, column \d+:?$/,
      '',
    )
    throw new UserError(`${file}:${position.line}:${position.col}: invalid YAML: ${reason}`, {
      file,
      line: position.line,
      column: position.col,
    })
  }
  let data: unknown
  try {
    data = doc.toJS({ maxAliasCount: 1000 }) ?? {}
  } catch (error) {
    // The yaml package refuses alias expansion bombs here.
    throw new UserError(`${file}: invalid YAML: ${(error as Error).message}`, { file, line: 1 })
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    fail(source, [{ path: [], message: 'must be a mapping (start with `version: 1`)' }])
  }
  const schemaErrors = validate(data)
  if (schemaErrors.length > 0) fail(source, schemaProblems(schemaErrors))
  const raw = data as RawConfig
  const config = normalize(raw, file)
  const problems = semanticProblems(config, raw)
  if (problems.length > 0) fail(source, problems)
  if (raw.environments) {
    config.environments.forEach((rule, index) => {
      rule.line = source.line(['environments', index])
    })
  }
  return config
}

function normalize(raw: RawConfig, file: string): FleetConfig {
  const defaults = defaultConfig()
  const promote = { ...defaults.promote, ...raw.promote }
  const deploy = {
    backend: raw.deploy?.backend ?? defaults.deploy.backend,
    deployments: raw.deploy?.deployments ?? defaults.deploy.deployments,
    argocd: { ...defaults.deploy.argocd, ...raw.deploy?.argocd },
    external: { ...defaults.deploy.external, ...raw.deploy?.external },
  }
  const environments = raw.environments?.map((rule): EnvironmentRule => ({
    glob: rule.glob,
    name: rule.name ?? defaultNameTemplate(rule.glob),
    branch: rule.branch ?? 'env/{name}',
    ...(rule.path !== undefined ? { path: rule.path } : {}),
    exclude: rule.exclude ?? [],
  }))
  const rawStages = raw.stages ?? [{ name: 'default' }]
  const stages = rawStages.map((stage, index): StageConfig => ({
    name: stage.name,
    match: stage.match ?? ['*'],
    // Omitted `requires` chains each stage to the previous one: fail closed.
    requires: stage.requires ?? (index > 0 ? [rawStages[index - 1]!.name] : []),
    autoPromote: stage.autoPromote ?? false,
    approvals: stage.approvals ?? 0,
    permission: stage.permission ?? promote.permission,
    backend: stage.backend ?? deploy.backend,
    production: stage.production ?? false,
    waves: stage.waves ?? [],
    waveMode: stage.waveMode ?? 'auto',
    ...(stage.maxParallel !== undefined ? { maxParallel: stage.maxParallel } : {}),
    bakeSeconds: stage.bakeSeconds ?? 0,
    verify: normalizeVerify(stage.verify),
    failFast: stage.failFast ?? true,
    ...(stage.maxFailures !== undefined ? { maxFailures: stage.maxFailures } : {}),
    rollback: stage.rollback ?? (stage.backend ?? deploy.backend) === 'argocd',
  }))
  const hydrate = raw.hydrate
  return {
    version: 1,
    file,
    environments: environments ?? [defaultEnvironmentRule()],
    stages,
    impact: { extra: raw.impact?.extra ?? [] },
    hydrate: {
      layout: hydrate?.layout ?? defaults.hydrate.layout,
      helm: { ...defaults.hydrate.helm, ...hydrate?.helm },
      remoteBases: hydrate?.remoteBases ?? defaults.hydrate.remoteBases,
      deletionGuard: { ...defaults.hydrate.deletionGuard, ...hydrate?.deletionGuard },
      timeoutSeconds: hydrate?.timeoutSeconds ?? defaults.hydrate.timeoutSeconds,
      maxOutputBytes: hydrate?.maxOutputBytes ?? defaults.hydrate.maxOutputBytes,
      maxMemoryMegabytes: hydrate?.maxMemoryMegabytes ?? defaults.hydrate.maxMemoryMegabytes,
      sandbox: hydrate?.sandbox ?? defaults.hydrate.sandbox,
    },
    promote,
    deploy,
    merge: { ...defaults.merge, ...raw.merge },
    report: {
      minimumVersions: (raw.report?.minimumVersions ?? []).map((entry) => ({
        chart: entry.chart,
        version: entry.version,
        reason: entry.reason ?? '',
      })),
      chartRepositories: raw.report?.chartRepositories ?? [],
    },
    statuses: raw.statuses ?? defaults.statuses,
  }
}

/** `{1}-{2}`… for a glob's captures, `{basename}` for a literal path. */
function defaultNameTemplate(glob: string): string {
  let count = 0
  try {
    count = compileDirGlob(glob).captureCount
  } catch {
    // The semantic checks report the invalid glob with its location.
  }
  if (count === 0) return '{basename}'
  return Array.from({ length: count }, (_, i) => `{${i + 1}}`).join('-')
}

const FRIENDLY_PATTERNS: Record<string, string> = {
  '^[A-Za-z0-9][A-Za-z0-9._-]*$':
    'must consist of letters, digits, ".", "_" and "-", starting with a letter or digit',
  '^\\S+$': 'must be one word without spaces',
  '^(https?|oci)://\\S+$': 'must be an http://, https:// or oci:// URL',
}

function schemaProblems(errors: ErrorObject[]): Problem[] {
  const seen = new Set<string>()
  const problems: Problem[] = []
  for (const error of errors) {
    const path: Path = error.instancePath
      .split('/')
      .slice(1)
      .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
      .map((part) => (/^\d+$/.test(part) ? Number(part) : part))
    const problem = describeSchemaError(error, path)
    const key = `${formatKeyPath(problem.path)}\0${problem.message}`
    if (seen.has(key)) continue
    seen.add(key)
    problems.push(problem)
  }
  return problems
}

function describeSchemaError(error: ErrorObject, path: Path): Problem {
  const params = error.params as Record<string, unknown>
  const got = describeValue(error.data)
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty)
      const allowed = Object.keys(
        (error.parentSchema as { properties?: object } | undefined)?.properties ?? {},
      )
      const suggestion = closest(key, allowed)
      return {
        path: [...path, key],
        atKey: true,
        message:
          `unknown key "${key}"` +
          (suggestion ? ` (did you mean "${suggestion}"?)` : '') +
          `; allowed keys: ${allowed.join(', ')}`,
      }
    }
    case 'required':
      return { path, message: `missing required key "${String(params.missingProperty)}"` }
    case 'type':
      return { path, message: `must be ${article(String(params.type))}, got ${got}` }
    case 'enum':
      return {
        path,
        message: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${got}`,
      }
    case 'const':
      return { path, message: `must be ${JSON.stringify(params.allowedValue)}, got ${got}` }
    case 'pattern': {
      const pattern = String(params.pattern)
      return {
        path,
        message: `${FRIENDLY_PATTERNS[pattern] ?? `must match /${pattern}/`}, got ${got}`,
      }
    }
    case 'minItems':
      return { path, message: `must list at least ${Number(params.limit)}, got ${got}` }
    case 'minLength':
      return { path, message: `must not be empty` }
    default:
      return { path, message: `${error.message ?? 'is invalid'}, got ${got}` }
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`
}

function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list'
  if (typeof value === 'object') return 'a mapping'
  const text = JSON.stringify(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/** The allowed key closest to a misspelt one, if it is close enough to be a typo. */
function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  const typo =
    bestDistance <= Math.max(1, Math.floor(word.length / 3)) && bestDistance < word.length
  return typo ? best : undefined
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution))
    }
    previous = current
  }
  return previous[b.length]!
}

// ---------------------------------------------------------------------------
// Semantic checks (things a JSON Schema cannot say)

/** Runs one check, recording its UserError as a problem at `path`. */
type Check = (path: Path, fn: () => void) => void

function semanticProblems(config: FleetConfig, raw: RawConfig): Problem[] {
  const problems: Problem[] = []
  const check: Check = (path, fn) => {
    try {
      fn()
    } catch (error) {
      if (!(error instanceof UserError)) throw error
      problems.push({ path, message: error.message })
    }
  }
  environmentProblems(config, raw, check)
  stageProblems(config, problems, check)
  // A cycle is only worth reporting once every name and reference is sound.
  if (problems.length === 0) cycleProblem(config, raw, problems)
  impactProblems(config, check)
  reportProblems(config, problems)
  deployProblems(config, problems, check)
  return problems
}

/** Each environment rule's globs compile and its templates give safe names and valid branches. */
function environmentProblems(config: FleetConfig, raw: RawConfig, check: Check): void {
  config.environments.forEach((rule, i) => {
    const base: Path = ['environments', i]
    let captureCount = 0
    check([...base, 'glob'], () => {
      captureCount = compileDirGlob(rule.glob).captureCount
    })
    rule.exclude.forEach((glob, j) => check([...base, 'exclude', j], () => compileDirGlob(glob)))
    const captures = Array.from({ length: captureCount }, (_, k) => String(k + 1))
    const pathVars = ['path', 'basename', ...captures]
    check([...base, raw.environments?.[i]?.name === undefined ? 'glob' : 'name'], () => {
      const name = sampleExpansion(rule.name, pathVars, 'name template').replaceAll('/', '-')
      const reason = unsafeNameReason(name)
      if (reason) throw new UserError(`name template "${rule.name}" ${reason}`)
    })
    check([...base, 'branch'], () => {
      const branch = sampleExpansion(rule.branch, [...pathVars, 'name', 'stage'], 'branch template')
      const reason = invalidBranchReason(branch)
      if (reason) throw new UserError(`branch template "${rule.branch}" gives ${reason}`)
    })
    const folder = rule.path
    if (folder === undefined) return
    check([...base, 'path'], () => {
      const sample = sampleExpansion(folder, [...pathVars, 'name', 'stage'], 'path template')
      const reason = invalidFolderReason(sample)
      if (reason) throw new UserError(`path template "${folder}" gives ${reason}`)
    })
  })
}

/** Stage names are unique, their globs compile, and every `requires` names another stage. */
function stageProblems(config: FleetConfig, problems: Problem[], check: Check): void {
  const stageIndex = new Map<string, number>()
  config.stages.forEach((stage, i) => {
    if (stageIndex.has(stage.name)) {
      problems.push({
        path: ['stages', i, 'name'],
        message: `duplicate stage name "${stage.name}" (also stages[${stageIndex.get(stage.name)}])`,
      })
    } else {
      stageIndex.set(stage.name, i)
    }
    stage.match.forEach((glob, j) => check(['stages', i, 'match', j], () => checkNameGlob(glob)))
    waveProblems(config, stage, i, problems, check)
    verifyProblems(stage, i, problems)
  })
  // With duplicate names, `requires` (and the chained default) is ambiguous: report those first.
  if (stageIndex.size !== config.stages.length) return
  config.stages.forEach((stage, i) => {
    stage.requires.forEach((required, j) => {
      if (required === stage.name) {
        problems.push({
          path: ['stages', i, 'requires', j],
          message: 'a stage cannot require itself',
        })
      } else if (!config.stages.some((s) => s.name === required)) {
        const suggestion = closest(
          required,
          config.stages.map((s) => s.name),
        )
        problems.push({
          path: ['stages', i, 'requires', j],
          message:
            `unknown stage "${required}"` +
            (suggestion ? ` (did you mean "${suggestion}"?)` : '') +
            `; stages: ${config.stages.map((s) => s.name).join(', ')}`,
        })
      }
    })
  })
}

/** Stages that require each other in a cycle, reported where the user wrote `requires`. */
function cycleProblem(config: FleetConfig, raw: RawConfig, problems: Problem[]): void {
  const cycle = findCycle(config.stages)
  if (!cycle) return
  const indexes = cycle.slice(1).map((name) => config.stages.findIndex((s) => s.name === name))
  const written = indexes
    .filter((i) => raw.stages?.[i]?.requires !== undefined)
    .sort((a, b) => a - b)
  const implicit = indexes
    .filter((i) => !written.includes(i))
    .map((i) => `"${config.stages[i]!.name}" requires "${config.stages[i]!.requires[0]}"`)
  const at = written[0] ?? indexes[0]!
  problems.push({
    path: written.length > 0 ? ['stages', at, 'requires'] : ['stages', at],
    message:
      `stages require each other in a cycle: ${cycle.join(' → ')}` +
      (implicit.length > 0
        ? ` (without \`requires\`, a stage requires the one listed before it: ${implicit.join(', ')}; list stages in promotion order or write \`requires: []\`)`
        : ''),
  })
}

function impactProblems(config: FleetConfig, check: Check): void {
  config.impact.extra.forEach((rule, i) => {
    rule.paths.forEach((glob, j) =>
      check(['impact', 'extra', i, 'paths', j], () => checkPathGlob(glob)),
    )
    rule.environments.forEach((glob, j) =>
      check(['impact', 'extra', i, 'environments', j], () => checkNameGlob(glob)),
    )
  })
}

/** The Argo CD application template expands, and a stage on the argocd backend has a server. */
function deployProblems(config: FleetConfig, problems: Problem[], check: Check): void {
  check(['deploy', 'argocd', 'application'], () => {
    sampleExpansion(
      config.deploy.argocd.application,
      ['name', 'stage', 'branch'],
      'application template',
    )
  })
  const argocdUser =
    config.deploy.backend === 'argocd'
      ? (['deploy', 'backend'] as Path)
      : config.stages
          .map((stage, i): Path | undefined =>
            stage.backend === 'argocd' ? ['stages', i, 'backend'] : undefined,
          )
          .find((path) => path !== undefined)
  if (argocdUser && config.deploy.argocd.server.trim() === '') {
    problems.push({
      path: argocdUser,
      message: 'the argocd backend needs deploy.argocd.server (the Argo CD API server)',
    })
  }
}

function waveProblems(
  config: FleetConfig,
  stage: StageConfig,
  i: number,
  problems: Problem[],
  check: Check,
): void {
  const first = new Map<string, number>()
  stage.waves.forEach((glob, j) => {
    check(['stages', i, 'waves', j], () => checkNameGlob(glob))
    const earlier = first.get(glob)
    if (earlier !== undefined) {
      problems.push({
        path: ['stages', i, 'waves', j],
        message: `wave "${glob}" is already stages[${i}].waves[${earlier}]: each wave needs its own pattern`,
      })
    } else first.set(glob, j)
  })
  if (stage.waveMode === 'manual' && stage.waves.length === 0) {
    problems.push({
      path: ['stages', i, 'waveMode'],
      message: `waveMode "manual" needs stages[${i}].waves (the environment patterns of each wave, in order)`,
    })
  }
  if (stage.waves.length > 0 && stage.backend === 'external') {
    problems.push({
      path: ['stages', i, 'waves'],
      message: `waves need a backend that reports success (argocd or merge); with "external", ${config.deploy.external.system} decides when environments run`,
    })
  }
  if (stage.bakeSeconds > 0 && stage.backend !== 'argocd') {
    problems.push({
      path: ['stages', i, 'bakeSeconds'],
      message: `bakeSeconds watches the Argo CD Application's health: it needs the argocd backend (stage "${stage.name}" uses "${stage.backend}")`,
    })
  }
}

/** Checks need the argocd backend, conditions parse, names are unique, and so on. */
function verifyProblems(stage: StageConfig, i: number, problems: Problem[]): void {
  const at = (...path: Path): Path => ['stages', i, ...path]
  const { http, prometheus } = stage.verify
  if (http.length + prometheus.length > 0 && stage.backend !== 'argocd') {
    problems.push({
      path: at('verify'),
      message: `verify checks run once Argo CD reports the environment Synced and Healthy: they need the argocd backend (stage "${stage.name}" uses "${stage.backend}")`,
    })
  }
  const names = new Map<string, string>()
  const checks: [string, number, HttpCheck | PrometheusCheck][] = [
    ...http.map((c, j): [string, number, HttpCheck] => ['http', j, c]),
    ...prometheus.map((c, j): [string, number, PrometheusCheck] => ['prometheus', j, c]),
  ]
  for (const [kind, j, check] of checks) {
    const earlier = names.get(check.name)
    if (earlier !== undefined) {
      problems.push({
        path: at('verify', kind, j, 'name'),
        message: `check name "${check.name}" is already ${earlier}: each check needs its own name`,
      })
    } else names.set(check.name, `stages[${i}].verify.${kind}[${j}]`)
    if (!/^https?:\/\//.test(check.url)) {
      problems.push({
        path: at('verify', kind, j, 'url'),
        message: `"${check.url}" is not an http(s):// URL template`,
      })
    }
    if ('condition' in check && !parseCondition(check.condition)) {
      problems.push({
        path: at('verify', kind, j, 'condition'),
        message: `"${check.condition}" is not a condition: a comparison (<, <=, >, >=, ==, !=) and a number, e.g. "< 0.01"`,
      })
    }
  }
  http.forEach((check, j) => {
    if ((check.field === undefined) !== (check.equals === undefined)) {
      problems.push({
        path: at('verify', 'http', j, check.field === undefined ? 'equals' : 'field'),
        message: 'field and equals go together: the JSON field and the value it must have',
      })
    }
  })
  if (stage.maxFailures !== undefined && stage.failFast) {
    problems.push({
      path: at('maxFailures'),
      message: `maxFailures needs failFast: false (with failFast, the stage stops at its first failed environment)`,
    })
  }
  if (stage.rollback && stage.backend !== 'argocd') {
    problems.push({
      path: at('rollback'),
      message: `rollback puts the Argo CD Application back on its WET branch: it needs the argocd backend (stage "${stage.name}" uses "${stage.backend}")`,
    })
  }
}

/** Checks with their defaults: named after their kind (and position when several). */
function normalizeVerify(raw: RawStage['verify']): VerifyConfig {
  const http = raw?.http ?? []
  const prometheus = raw?.prometheus ?? []
  const nameOf = (kind: string, j: number, count: number, name?: string) =>
    name ?? (count > 1 ? `${kind} ${j + 1}` : kind)
  return {
    http: http.map((check, j) => ({
      ...check,
      name: nameOf('http', j, http.length, check.name),
      status: check.status ?? 200,
    })),
    prometheus: prometheus.map((check, j) => ({
      ...check,
      name: nameOf('prometheus', j, prometheus.length, check.name),
      times: check.times ?? 1,
      intervalSeconds: check.intervalSeconds ?? 10,
    })),
  }
}

function reportProblems(config: FleetConfig, problems: Problem[]): void {
  const seen = new Map<string, number>()
  config.report.minimumVersions.forEach((entry, i) => {
    if (parseSemver(entry.version) === null) {
      problems.push({
        path: ['report', 'minimumVersions', i, 'version'],
        message: `"${entry.version}" is not a semantic version (e.g. 1.16.2)`,
      })
    }
    const first = seen.get(entry.chart)
    if (first !== undefined) {
      problems.push({
        path: ['report', 'minimumVersions', i, 'chart'],
        message: `chart "${entry.chart}" already has a minimum (report.minimumVersions[${first}])`,
      })
    } else seen.set(entry.chart, i)
  })
  config.report.chartRepositories.forEach((entry, i) => {
    if (!config.hydrate.helm.allowedRepos.some((prefix) => matchesPrefix(entry.repo, prefix))) {
      problems.push({
        path: ['report', 'chartRepositories', i, 'repo'],
        message: `${entry.repo} is not in hydrate.helm.allowedRepos (the report only asks allowed repositories)`,
      })
    }
  })
}

function sampleExpansion(template: string, allowed: string[], what: string): string {
  const vars = Object.fromEntries(allowed.map((key) => [key, key === 'path' ? 'a/b' : 'x']))
  try {
    return expandTemplate(template, vars)
  } catch (error) {
    throw new UserError(`${what}: ${(error as Error).message}`)
  }
}

/** The rules of `git check-ref-format --branch`, as a reason, or undefined when valid. */
export function invalidBranchReason(branch: string): string | undefined {
  const quoted = JSON.stringify(branch)
  if (branch === '' || branch === '@') return `an invalid branch name ${quoted}`
  if (branch.startsWith('-')) return `${quoted}, which starts with "-"`
  if (branch.startsWith('/') || branch.endsWith('/') || branch.includes('//')) {
    return `${quoted}, which has an empty path component`
  }
  if (branch.endsWith('.')) return `${quoted}, which ends with "."`
  if (branch.includes('..')) return `${quoted}, which contains ".."`
  if (branch.includes('@{')) return `${quoted}, which contains "@{"`
  // eslint-disable-next-line no-control-regex
  const bad = /[\x00-\x20\x7f~^:?*[\\]/.exec(branch)
  if (bad) return `${quoted}, which contains the character ${JSON.stringify(bad[0])}`
  for (const part of branch.split('/')) {
    if (part.startsWith('.')) return `${quoted}, where a component starts with "."`
    if (part.endsWith('.lock')) return `${quoted}, where a component ends with ".lock"`
  }
  return undefined
}

function findCycle(stages: readonly StageConfig[]): string[] | undefined {
  const byName = new Map(stages.map((stage) => [stage.name, stage]))
  const state = new Map<string, 'visiting' | 'done'>()
  const trail: string[] = []
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined
    if (state.get(name) === 'visiting') return [...trail.slice(trail.indexOf(name)), name]
    state.set(name, 'visiting')
    trail.push(name)
    for (const required of byName.get(name)?.requires ?? []) {
      const cycle = visit(required)
      if (cycle) return cycle
    }
    trail.pop()
    state.set(name, 'done')
    return undefined
  }
  for (const stage of stages) {
    const cycle = visit(stage.name)
    if (cycle) return cycle
  }
  return undefined
}

// ---------------------------------------------------------------------------
// Templates and globs

const PLACEHOLDER = /\{([^{}]*)\}|[{}]/g

/** Replace `{key}` placeholders. An unknown placeholder or a stray brace is a UserError. */
/**
 * The Argo CD Application of an environment. promote and merge-cleanup both
 * call this, so they always name the same Application.
 */
export function argoCdApplicationName(
  config: FleetConfig,
  environment: { name: string; stage: string; branch: string },
): string {
  return expandTemplate(config.deploy.argocd.application, {
    name: environment.name,
    stage: environment.stage,
    branch: environment.branch,
  })
}

export function expandTemplate(template: string, vars: Record<string, string>): string {
  return template.replace(PLACEHOLDER, (match, key: string | undefined) => {
    if (key === undefined) {
      throw new UserError(`unbalanced "${match}" in template "${template}"`)
    }
    const value = Object.hasOwn(vars, key) ? vars[key] : undefined
    if (value === undefined) {
      const known = Object.keys(vars)
        .map((k) => `{${k}}`)
        .join(', ')
      throw new UserError(
        `unknown placeholder {${key}} in "${template}"; available: ${known || '(none)'}`,
      )
    }
    return value
  })
}

interface DirGlob {
  source: string
  /** Per segment: `**`, a literal, or a compiled single-segment pattern. */
  segments: (
    { kind: 'globstar' } | { kind: 'literal'; text: string } | { kind: 'magic'; matcher: Minimatch }
  )[]
  captureCount: number
}

const dirGlobCache = new Map<string, DirGlob>()

function checkGlobSyntax(glob: string, what: string): void {
  if (glob.trim() !== glob || glob === '')
    throw new UserError(`${what} "${glob}" is empty or has surrounding spaces`)
  if (glob.startsWith('/'))
    throw new UserError(
      `${what} "${glob}" must be relative to the repository root (no leading "/")`,
    )
  if (glob.startsWith('!') || glob.startsWith('#'))
    throw new UserError(`${what} "${glob}" may not start with "!" or "#" (use exclude)`)
  if (glob.includes('\\'))
    throw new UserError(`${what} "${glob}" may not contain "\\" (use "/" between directories)`)
  let depth = 0
  for (const char of glob) {
    if (char === '{') depth++
    else if (char === '}') depth--
    else if (char === '/' && depth > 0)
      throw new UserError(`${what} "${glob}": a {…} alternative may not contain "/"`)
    if (depth < 0) break
  }
  if (depth !== 0) throw new UserError(`${what} "${glob}" has unbalanced "{" / "}"`)
  for (const segment of glob.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw new UserError(`${what} "${glob}" has an empty, "." or ".." path segment`)
    }
    if ((segment.match(/\[/g) ?? []).length !== (segment.match(/\]/g) ?? []).length) {
      throw new UserError(`${what} "${glob}" has an unbalanced "[" / "]"`)
    }
  }
}

/** Compile a directory glob into segments; each wildcard segment and each `**` is a capture. */
function compileDirGlob(glob: string): DirGlob {
  const cached = dirGlobCache.get(glob)
  if (cached) return cached
  checkGlobSyntax(glob, 'glob')
  let captureCount = 0
  const segments = glob.split('/').map((segment): DirGlob['segments'][number] => {
    if (segment === '**') {
      captureCount++
      return { kind: 'globstar' }
    }
    if (segment.includes('**')) {
      throw new UserError(`glob "${glob}": "**" must be a whole path segment`)
    }
    const matcher = new Minimatch(segment, { magicalBraces: true })
    if (!matcher.hasMagic()) return { kind: 'literal', text: segment }
    captureCount++
    return { kind: 'magic', matcher }
  })
  const compiled = { source: glob, segments, captureCount }
  dirGlobCache.set(glob, compiled)
  return compiled
}

/** Match a directory path against a directory glob; the captures, or undefined. */
export function matchDirGlob(glob: string, dir: string): string[] | undefined {
  const { segments } = compileDirGlob(glob)
  const parts = dir.split('/')
  const walk = (si: number, pi: number, captures: string[]): string[] | undefined => {
    const segment = segments[si]
    if (!segment) return pi === parts.length ? captures : undefined
    if (segment.kind === 'globstar') {
      // Fewest segments first; `**` never enters hidden directories. Like minimatch, a
      // trailing `**` means "below": `clusters/**` does not match `clusters` itself.
      const trailing = si === segments.length - 1
      for (let end = trailing ? pi + 1 : pi; end <= parts.length; end++) {
        if (end > pi && parts[end - 1]!.startsWith('.')) break
        const found = walk(si + 1, end, [...captures, parts.slice(pi, end).join('/')])
        if (found) return found
      }
      return undefined
    }
    const part = parts[pi]
    if (part === undefined) return undefined
    if (segment.kind === 'literal')
      return part === segment.text ? walk(si + 1, pi + 1, captures) : undefined
    return segment.matcher.match(part) ? walk(si + 1, pi + 1, [...captures, part]) : undefined
  }
  return walk(0, 0, [])
}

function checkNameGlob(glob: string): void {
  if (glob.trim() === '' || glob.trim() !== glob)
    throw new UserError(`pattern "${glob}" is empty or has surrounding spaces`)
  if (glob.includes('/'))
    throw new UserError(`pattern "${glob}" matches environment names, which contain no "/"`)
}

function checkPathGlob(glob: string): void {
  checkGlobSyntax(glob, 'path glob')
}

// ---------------------------------------------------------------------------
// Stages and environments

export function stageFor(config: FleetConfig, environmentName: string): StageConfig | undefined {
  return config.stages.find((stage) =>
    stage.match.some((pattern) => nameMatcher(pattern).match(environmentName)),
  )
}

/** The wave (index into `stage.waves`) an environment deploys in; `stage.waves.length` is the last wave of the rest. */
export function waveIndex(stage: Pick<StageConfig, 'waves'>, environmentName: string): number {
  const index = stage.waves.findIndex((pattern) => nameMatcher(pattern).match(environmentName))
  return index === -1 ? stage.waves.length : index
}

// Compiled once per pattern: a fleet asks for the stage of hundreds of environments.
const nameMatchers = new Map<string, Minimatch>()
function nameMatcher(pattern: string): Minimatch {
  let matcher = nameMatchers.get(pattern)
  if (!matcher) nameMatchers.set(pattern, (matcher = new Minimatch(pattern)))
  return matcher
}

/** Stage names in dependency order (file order among independent stages). */
export function stageOrder(config: FleetConfig): string[] {
  const names = new Set(config.stages.map((stage) => stage.name))
  for (const stage of config.stages) {
    for (const required of stage.requires) {
      if (!names.has(required)) {
        throw new UserError(
          `${config.file}: stage "${stage.name}" requires unknown stage "${required}"`,
          {
            file: config.file,
          },
        )
      }
    }
  }
  const cycle = findCycle(config.stages)
  if (cycle) {
    throw new UserError(
      `${config.file}: stages require each other in a cycle: ${cycle.join(' → ')}`,
      {
        file: config.file,
      },
    )
  }
  const order: string[] = []
  const placed = new Set<string>()
  while (order.length < config.stages.length) {
    const next = config.stages.find(
      (stage) => !placed.has(stage.name) && stage.requires.every((r) => placed.has(r)),
    )
    if (!next) break // unreachable: cycles are rejected above
    order.push(next.name)
    placed.add(next.name)
  }
  return order
}

function kustomizationDirs(files: readonly string[]): string[] {
  const dirs = new Set<string>()
  for (const file of files) {
    const slash = file.lastIndexOf('/')
    if (slash <= 0) continue // the repository root is never an environment
    if (KUSTOMIZATION_FILES.includes(file.slice(slash + 1))) dirs.add(file.slice(0, slash))
  }
  return [...dirs].sort()
}

function ruleWhere(config: FleetConfig, rule: EnvironmentRule, index: number): string {
  const at = rule.line ? `${config.file}:${rule.line}` : config.file
  return `${at}: environments[${index}] (glob "${rule.glob}")`
}

function ruleLocation(config: FleetConfig, rule: EnvironmentRule) {
  return rule.line ? { file: config.file, line: rule.line } : { file: config.file }
}

function pathVars(dir: string, captures: string[]): Record<string, string> {
  const vars: Record<string, string> = { path: dir, basename: dir.slice(dir.lastIndexOf('/') + 1) }
  captures.forEach((capture, i) => (vars[String(i + 1)] = capture))
  return vars
}

function environmentFor(
  config: FleetConfig,
  rule: EnvironmentRule,
  where: string,
  location: { file: string; line?: number },
  dir: string,
  name: string,
  vars: Record<string, string>,
): Environment {
  const stage = stageFor(config, name)
  if (!stage) {
    throw new UserError(
      `${where}: environment "${name}" (${dir}) matches no stage; stage patterns: ` +
        config.stages.map((s) => `${s.name} [${s.match.join(', ')}]`).join('; '),
      location,
    )
  }
  const branch = expandTemplate(rule.branch, { ...vars, name, stage: stage.name })
  const branchProblem = invalidBranchReason(branch)
  if (branchProblem) {
    throw new UserError(
      `${where}: the branch of environment "${name}" is ${branchProblem}`,
      location,
    )
  }
  const folder = wetFolder(rule.path, { ...vars, name, stage: stage.name })
  if (folder.problem) {
    throw new UserError(
      `${where}: the WET folder of environment "${name}" is ${folder.problem}`,
      location,
    )
  }
  return { name, path: dir, stage: stage.name, branch, ...folder.value }
}

/** The expanded `path` template, as the environment's `folder` field, or why it is invalid. */
function wetFolder(
  template: string | undefined,
  vars: Record<string, string>,
): { value: { folder?: string }; problem?: string } {
  if (template === undefined) return { value: {} }
  const folder = expandTemplate(template, vars)
  const problem = invalidFolderReason(folder)
  return problem ? { value: {}, problem } : { value: { folder } }
}

export interface DiscoverOptions {
  /** Do not fail when a rule matches nothing (e.g. at a base revision before the first environment existed). */
  allowUnmatched?: boolean
  /** Collects a line for each directory whose name had to be derived (see derivedEnvironmentName). */
  notes?: string[]
}

/** Environments from a repository's file list (e.g. `git ls-tree -r` at any revision), in stage order then name. */
export function discoverEnvironments(
  config: FleetConfig,
  files: readonly string[],
  options: DiscoverOptions = {},
): Environment[] {
  const dirs = kustomizationDirs(files)
  const claimed = new Set<string>()
  const environments: Environment[] = []
  const places = new Map<Environment, Place>()
  config.environments.forEach((rule, index) => {
    const where = ruleWhere(config, rule, index)
    const location = ruleLocation(config, rule)
    let matched = 0
    for (const dir of dirs) {
      const captures = matchDirGlob(rule.glob, dir)
      if (!captures) continue
      matched++
      if (claimed.has(dir) || rule.exclude.some((glob) => matchDirGlob(glob, dir))) continue
      claimed.add(dir)
      const vars = pathVars(dir, captures)
      const derived = derivedEnvironmentName(expandTemplate(rule.name, vars).replaceAll('/', '-'))
      if (derived.note) options.notes?.push(`${where}: ${dir}: ${derived.note}`)
      const env = environmentFor(config, rule, where, location, dir, derived.name, vars)
      environments.push(env)
      places.set(env, { where, location })
    }
    if (matched === 0 && !options.allowUnmatched) {
      throw new UserError(
        `${where} matches no directory holding a kustomization file (${KUSTOMIZATION_FILES.join(', ')})` +
          (config.file !== DEFAULTS_FILE
            ? ''
            : config.defaultsNote
              ? `; ${config.defaultsNote}`
              : `; without ${DEFAULT_CONFIG_FILE}, every directory below clusters/ holding one is an environment`),
        location,
      )
    }
  })
  return checkUniqueAndSort(config, environments, stageOrder(config), places)
}

/** Where an environment's rule is, for errors: `file:line: environments[i] (glob …)`. */
interface Place {
  where: string
  location: { file: string; line?: number }
}

function checkUniqueAndSort(
  config: FleetConfig,
  environments: Environment[],
  order: readonly string[] = stageOrder(config),
  places?: ReadonlyMap<Environment, Place>,
): Environment[] {
  const byName = new Map<string, Environment>()
  const byBranch = new Map<string, Environment[]>()
  for (const env of environments) {
    const sameName = byName.get(env.name)
    if (sameName) {
      throw new UserError(
        `${config.file}: directories ${sameName.path} and ${env.path} both give the environment name "${env.name}"; make the name template distinguish them or exclude one`,
        { file: config.file },
      )
    }
    byName.set(env.name, env)
    const onBranch = byBranch.get(env.branch)
    if (onBranch) onBranch.push(env)
    else byBranch.set(env.branch, [env])
  }
  for (const sharing of byBranch.values()) {
    if (sharing.length > 1) checkSharedBranch(config, sharing, places)
  }
  checkChildUnits(config, environments, places)
  const rank = new Map(order.map((name, i) => [name, i]))
  return environments.sort(
    (a, b) =>
      (rank.get(a.stage) ?? 0) - (rank.get(b.stage) ?? 0) ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  )
}

/**
 * Every child branch `fleet-promote/pr-<n>/<unit>` must be one environment's
 * or one shared WET branch's (its name with "/" → "-", see childUnit): an
 * environment `env-testing` on its own branch and the shared `env/testing`
 * would open, update and land each other's child.
 */
function checkChildUnits(
  config: FleetConfig,
  environments: readonly Environment[],
  places: ReadonlyMap<Environment, Place> | undefined,
): void {
  const owners = new Map<string, Environment>()
  const what = (env: Environment) =>
    env.folder === undefined
      ? `environment "${env.name}"`
      : `the WET branch "${env.branch}" (environment "${env.name}")`
  for (const env of environments) {
    const unit = childUnit(env)
    const owner = owners.get(unit)
    if (!owner) {
      owners.set(unit, env)
      continue
    }
    if (owner.folder !== undefined && env.folder !== undefined && owner.branch === env.branch)
      continue
    const place = places?.get(env)
    throw new UserError(
      `${place?.where ?? config.file}: ${what(owner)} and ${what(env)} would both have the child branch "${CHILD_BRANCH_PREFIX}<n>/${unit}"; rename the environment or change the branch template`,
      { file: config.file, ...place?.location },
    )
  }
}

/**
 * Environments sharing one WET branch: each needs its own folder (the rule's
 * `path`), and no folder may hold another's, since each environment's render
 * replaces the files in its folder.
 */
function checkSharedBranch(
  config: FleetConfig,
  sharing: readonly Environment[],
  places: ReadonlyMap<Environment, Place> | undefined,
): void {
  const fail = (env: Environment, message: string): never => {
    const place = places?.get(env)
    throw new UserError(`${place?.where ?? config.file}: ${message}`, {
      file: config.file,
      ...place?.location,
    })
  }
  const [first] = sharing as [Environment]
  const byFolder = new Map<string, Environment>()
  for (const env of sharing) {
    if (env.folder === undefined) {
      const pair = [first, env === first ? sharing[1]! : env]
      return fail(
        env,
        `environments "${pair[0]!.name}" and "${pair[1]!.name}" would share the branch "${env.branch}", and "${env.name}" has no folder on it; set the rule's path (e.g. path: "{name}") to give each environment its own folder, or make the branch template include {name}`,
      )
    }
    const same = byFolder.get(env.folder)
    if (same) {
      fail(
        env,
        `environments "${same.name}" and "${env.name}" would both write folder "${env.folder}" of the WET branch "${env.branch}"; the path template must include {name}`,
      )
    }
    if (env.stage !== first.stage) {
      fail(
        env,
        `environments "${first.name}" (stage ${first.stage}) and "${env.name}" (stage ${env.stage}) would share the WET branch "${env.branch}"; a shared branch's child lands all its folders at once, so they must be of one stage (e.g. branch: "env/{stage}")`,
      )
    }
    byFolder.set(env.folder, env)
  }
  checkSharedWaves(config, sharing, fail)
  for (const [folder, env] of byFolder) {
    for (let slash = folder.indexOf('/'); slash > 0; slash = folder.indexOf('/', slash + 1)) {
      const outer = byFolder.get(folder.slice(0, slash))
      if (outer) {
        fail(
          env,
          `the folder "${folder}" of environment "${env.name}" is inside the folder "${outer.folder}" of environment "${outer.name}" on the WET branch "${env.branch}"; folders on one branch may not nest`,
        )
      }
    }
  }
}

/**
 * The merge backend lands a shared branch's child with every folder at once:
 * its environments cannot be in different waves (an earlier wave would deploy
 * the later one's folder). The argocd backend deploys each folder on its own.
 */
function checkSharedWaves(
  config: FleetConfig,
  sharing: readonly Environment[],
  fail: (env: Environment, message: string) => never,
): void {
  const [first] = sharing as [Environment]
  const stage = config.stages.find((s) => s.name === first.stage)
  if (!stage || stage.backend !== 'merge') return
  const wave = waveIndex(stage, first.name)
  const other = sharing.find((env) => waveIndex(stage, env.name) !== wave)
  if (other)
    fail(
      other,
      `environments "${first.name}" and "${other.name}" share the WET branch "${first.branch}" but are in different waves of stage ${stage.name}, whose merge backend lands every folder of the branch at once; put them in one wave, or deploy the stage with the argocd backend (one folder at a time)`,
    )
}

/**
 * Environments for explicit directories (CLI `--env`): exact directory paths, or globs over
 * directories holding a kustomization, each optionally as NAME=DIR. Each is named NAME, or by
 * its path (`/` → `-`, made valid by derivedEnvironmentName, a line in `notes`); the stage comes
 * from the configuration (or the first stage), the branch from the first rule matching the path.
 * With `skipUnresolved`, a pattern that finds nothing usable in these files is left out instead
 * of failing (the base revision may not have a directory yet); with `problems`, it is left out
 * and its reason collected, so one bad pattern does not fail the others. `known` carries the
 * environments of directories already resolved (for the other revision): a directory's
 * environment depends only on the configuration and its path.
 */
export function environmentsFromPaths(
  config: FleetConfig,
  files: readonly string[],
  patterns: readonly string[],
  options: {
    skipUnresolved?: boolean
    known?: Map<string, Environment>
    notes?: string[]
    problems?: string[]
  } = {},
): Environment[] {
  // Built once: resolving hundreds of patterns must not rescan the tree for each.
  const kustomized = kustomizationDirs(files)
  const existing = new Set<string>()
  for (const file of files) {
    for (let slash = file.indexOf('/'); slash > 0; slash = file.indexOf('/', slash + 1)) {
      existing.add(file.slice(0, slash))
    }
  }
  const order = stageOrder(config)
  const fallbackStage = config.stages.find((stage) => stage.name === order[0])
  const known = options.known ?? new Map<string, Environment>()
  const resolve = (some: readonly string[]) => {
    const environments: Environment[] = []
    for (const [dir, name] of resolveDirPatterns(kustomized, existing, some)) {
      let env = known.get(dir)
      if (!env) {
        env = environmentForDir(config, fallbackStage, dir, name, options.notes)
        known.set(dir, env)
      }
      environments.push(env)
    }
    return environments.length > 1 ? checkUniqueAndSort(config, environments, order) : environments
  }
  if (!options.skipUnresolved && !options.problems) return resolve(patterns)
  const found = new Map<string, Environment>()
  for (const pattern of patterns) {
    try {
      for (const env of resolve([pattern])) found.set(env.name, env)
    } catch (error) {
      if (!(error instanceof UserError)) throw error
      options.problems?.push(error.message)
    }
  }
  return [...found.values()]
}

/** `NAME=DIR` (a name, then a path or glob) as its parts; a plain DIR (even one with "=") as itself. */
function namedPattern(
  raw: string,
  existing: ReadonlySet<string>,
): { pattern: string; name?: string } {
  const clean = (path: string) => path.replace(/^\.\//, '').replace(/\/+$/, '')
  const named = /^([^=/]+)=(.+)$/.exec(raw)
  if (!named || existing.has(clean(raw))) return { pattern: clean(raw) }
  const [, name = '', dir = ''] = named
  const problem = unsafeNameReason(name)
  if (problem) throw new UserError(`--env ${raw}: the name "${name}" ${problem}`)
  return { pattern: clean(dir), name }
}

/** Directory → the name given with NAME=DIR (undefined: named by its path). */
function resolveDirPatterns(
  kustomized: readonly string[],
  existing: ReadonlySet<string>,
  patterns: readonly string[],
): Map<string, string | undefined> {
  const dirs = new Map<string, string | undefined>()
  for (const raw of patterns) {
    const { pattern, name } = namedPattern(raw, existing)
    // Without any of these characters a pattern is a plain path (no need to compile it).
    const isGlob =
      /[*?[{(]/.test(pattern) && new Minimatch(pattern, { magicalBraces: true }).hasMagic()
    if (!isGlob) {
      if (!existing.has(pattern)) {
        throw new UserError(`--env ${raw}: no such directory in the repository`)
      }
      dirs.set(pattern, name)
      continue
    }
    let matches: string[]
    try {
      matches = kustomized.filter((dir) => matchDirGlob(pattern, dir))
    } catch (error) {
      throw new UserError(`--env ${raw}: ${(error as Error).message}`)
    }
    if (matches.length === 0) {
      throw new UserError(`--env ${raw} matches no directory holding a kustomization file`)
    }
    if (name !== undefined && matches.length > 1) {
      throw new UserError(`--env ${raw}: ${matches.length} directories match; NAME= names one`)
    }
    matches.forEach((dir) => dirs.set(dir, name))
  }
  return dirs
}

function environmentForDir(
  config: FleetConfig,
  fallbackStage: StageConfig | undefined,
  dir: string,
  given: string | undefined,
  notes: string[] | undefined,
): Environment {
  const derived = given === undefined ? derivedEnvironmentName(dir.replaceAll('/', '-')) : undefined
  if (derived?.note) notes?.push(`--env ${dir}: ${derived.note}`)
  const name = given ?? derived?.name ?? dir
  const stage = stageFor(config, name) ?? fallbackStage
  const rule = config.environments.find(
    (r) => matchDirGlob(r.glob, dir) && !r.exclude.some((glob) => matchDirGlob(glob, dir)),
  )
  const vars = pathVars(dir, rule ? (matchDirGlob(rule.glob, dir) ?? []) : [])
  const branch = expandTemplate(rule?.branch ?? 'env/{name}', {
    ...vars,
    name,
    stage: stage?.name ?? '',
  })
  const branchProblem = invalidBranchReason(branch)
  if (branchProblem) throw new UserError(`--env ${dir}: the branch is ${branchProblem}`)
  const folder = wetFolder(rule?.path, { ...vars, name, stage: stage?.name ?? '' })
  if (folder.problem) throw new UserError(`--env ${dir}: the WET folder is ${folder.problem}`)
  return { name, path: dir, stage: stage?.name ?? '', branch, ...folder.value }
}
