// Renders environments: safety walk → render tree → shared chart cache →
// `kustomize build` pool → canonical objects → diff with the WET branch →
// deletion guard → output files and hydration.json. Takes a narrow options
// object (no config loading here), so the action, the CLI and the benchmark
// all render the same way.
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { dirname, join } from 'node:path'
import type { Environment, HydrateConfig } from '../config/types.js'
import { errorMessage } from '../errors.js'
import { Git, type GitOptions } from '../git/git.js'
import type { EnvironmentHydration, HydrationResult } from '../hydration-types.js'
import { ChartCache, type ChartLockEntry } from './chart-cache.js'
import { clip, diffObjects, guardDeletions } from './compare.js'
import { manifestText, ObjectParser, perResourceFiles, type RenderedObject } from './objects.js'
import { linkTree, RenderTree } from './render-tree.js'
import {
  checkEnvironment,
  refusalReason,
  RefusedError,
  RepoCheck,
  type SafetyPolicy,
  type SafetyReport,
} from './safety.js'
import { Sandbox, SandboxPool } from './sandbox.js'
import { scratchParent } from './scratch.js'
import {
  findOnPath,
  kustomizeArgs,
  sealedToolEnv,
  toolEnv,
  toolVersions,
  writeHelmShim,
  type ToolVersions,
} from './tools.js'
import { readWetStates, wetKey, type WetState } from './wet.js'
import {
  commitInfo,
  writeEnvironmentFiles,
  writeHydrationResult,
  type CommitInfo,
} from './output.js'

export type RenderSettings = Pick<
  HydrateConfig,
  | 'layout'
  | 'helm'
  | 'remoteBases'
  | 'deletionGuard'
  | 'timeoutSeconds'
  | 'maxOutputBytes'
  | 'maxMemoryMegabytes'
  | 'sandbox'
>

export interface HydrateOptions {
  /** The DRY checkout (the PR merge result in a workflow). It is never written. */
  repoDir: string
  environments: readonly Environment[]
  outputDir: string
  settings: RenderSettings
  /** Concurrent kustomize processes; 0 or undefined = CPU count. */
  parallelism?: number
  /** Let a render the deletion guard blocks through (authorized, SHA-bound `.promote --allow-deletions` only). */
  allowDeletions?: boolean
  chartLock?: readonly ChartLockEntry[]
  /** Remote to fetch WET branches from (`origin` in a workflow); undefined reads local refs only. */
  wetRemote?: string
  /** WET states already read by the caller (the fleet report), by `wetKey`; then nothing is fetched. */
  wetStates?: ReadonlyMap<string, WetState>
  /** The token (and its server) git fetches the WET branches with. */
  git?: GitOptions
  /** Commit rendered; defaults to HEAD of repoDir. */
  drySha?: string
  /** Recorded in hydrator.metadata; defaults to the `origin` URL without credentials. */
  repoURL?: string
  kustomizePath?: string
  helmPath?: string
  /** Parent of the run-scoped scratch directory (default: a memory file system or the OS temp dir, scratch.ts). */
  scratchDir?: string
  /** The isolation to render in (default: detected for `settings.sandbox`). */
  sandbox?: Sandbox
  log?: (line: string) => void
}

export interface HydrateStats {
  /** The isolation kustomize and helm ran in, as one line (job summary, CLI). */
  sandbox: string
  chartPulls: number
  treeFiles: number
  tools: ToolVersions
  /** Wall time of each phase, in milliseconds. */
  phases: { setup: number; prepare: number; render: number }
}

export interface HydrateRun {
  result: HydrationResult
  stats: HydrateStats
}

interface Pending {
  env: Environment
  /** Time spent on this environment's safety walk; the render adds its own time. */
  checkMs: number
  report?: SafetyReport
  failure?: string
}

const SAFE_ENV_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
/** The sandbox's private /tmp: kustomize writes each chart's merged values there. */
export const SANDBOX_TMP_BYTES = 256 * 2 ** 20

/**
 * Starts `fn` over items with at most `limit` in flight, in input order, and
 * returns each item's promise at once: a later stage can take item after item
 * while the pool works ahead.
 */
export function startPool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R>[] {
  const settle = items.map(() => {
    let resolve!: (value: R) => void
    let reject!: (error: unknown) => void
    const promise = new Promise<R>((yes, no) => {
      resolve = yes
      reject = no
    })
    return { promise, resolve, reject }
  })
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      const done = settle[index] as (typeof settle)[number]
      await fn(items[index] as T, index).then(done.resolve, done.reject)
    }
  }
  for (let n = 0; n < Math.max(1, Math.min(limit, items.length)); n++) void worker()
  return settle.map((item) => item.promise)
}

/** Runs `fn` over items with at most `limit` in flight; results keep the input order. */
export function mapPool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  return Promise.all(startPool(items, limit, fn))
}

export async function hydrate(options: HydrateOptions): Promise<HydrateRun> {
  const log = options.log ?? (() => undefined)
  const parallelism =
    options.parallelism && options.parallelism > 0 ? options.parallelism : availableParallelism()
  const git = new Git(options.repoDir, options.git ?? {})
  const drySha = options.drySha ?? (await git.revParse('HEAD'))
  const repoURL = options.repoURL ?? (await originUrl(git))
  const commit = await commitInfo(git, drySha)
  const runDir = await mkdtemp(
    join(options.scratchDir ?? (await scratchParent()), 'fleet-promote-render-'),
  )
  const phases = { setup: 0, prepare: 0, render: 0 }
  const started = Date.now()
  let renders: SandboxPool | undefined
  let prepared: Promise<Pending>[] = []
  // Set when the run fails: environments not prepared yet are then skipped.
  let stopped = false
  try {
    const policy = safetyPolicy(options.settings)
    const check = await RepoCheck.open(options.repoDir, policy)
    // The walks read only the checkout, so they start while the sandbox and the
    // tools are probed (process starts); nothing is copied or rendered before
    // the probe has said whether anything may render.
    const treeDir = join(runDir, 'tree')
    const running = prepareRun(options, runDir, treeDir)
    // Its error surfaces at the await below.
    running.catch(() => undefined)
    let cache: ChartCache | undefined
    const linked = new Map<string, Promise<void>>()
    const tree = new RenderTree(check, treeDir)

    // 1. Each environment is walked, then only its vetted files are copied into the
    // private render tree and its charts (each version pulled once) linked where
    // kustomize looks. An environment renders once its own walk and copy are done,
    // while later ones are still prepared: kustomize reads nothing outside its roots
    // (root-only loads), and the tree only ever holds files a walk vetted.
    prepared = startPool(options.environments, parallelism * 2, async (env) => {
      if (stopped) return { env, checkMs: 0, failure: 'not rendered: the run failed' }
      const walked = await checkOne(options, policy, check, env)
      const run = await running
      const item = refuse(walked, run.refusal)
      cache ??= chartCache(run, runDir, options)
      return item.report ? prepareFiles(item, tree, cache, linked) : item
    })
    const run = await running
    log(run.sandbox.describe())
    phases.setup = Date.now() - started
    const wetStates = options.wetStates
      ? Promise.resolve(options.wetStates)
      : readWetStates(git, options.environments.map(wetKey), options.wetRemote)
    // Read while environments are prepared; its error surfaces at the await below.
    wetStates.catch(() => undefined)
    void Promise.all(prepared).then(() => (phases.prepare = Date.now() - started - phases.setup))

    // 2. Render pool: one kustomize process per environment, `parallelism` sandboxes at a time.
    const helmMounts = options.settings.helm.enabled ? [run.helm, dirname(run.helmShim)] : []
    renders = new SandboxPool(
      run.sandbox,
      { readOnly: [run.treeDir, run.kustomize, ...helmMounts], cwd: run.treeDir },
      run.env,
      parallelism,
    )
    const context: RenderContext = {
      ...run,
      renders,
      objects: new ObjectParser(),
      commit,
      drySha,
      repoURL,
    }
    const wet = await wetStates
    // Twice the slots: one environment's output is read and written while the next renders.
    const environments = await mapPool(prepared, parallelism * 2, async (preparing) => {
      const item = await preparing
      const state = wet.get(wetKey(item.env)) ?? { sha: '', files: new Map() }
      const result = await renderOne(item, state, options, context)
      log(`${result.name}: ${result.status}${result.reason ? ` (${result.reason})` : ''}`)
      return result
    })
    phases.render = Date.now() - started - phases.setup
    const result: HydrationResult = {
      version: 1,
      drySha,
      repoURL,
      environments: [...environments].sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
      ),
    }
    await writeHydrationResult(options.outputDir, result)
    return {
      result,
      stats: {
        sandbox: run.sandbox.describe(),
        chartPulls: cache?.pulls ?? 0,
        treeFiles: tree.files,
        tools: run.tools,
        phases,
      },
    }
  } finally {
    stopped = true
    // Nothing may still write below the run directory when it is removed.
    await Promise.allSettled(prepared)
    renders?.close()
    await rm(runDir, { recursive: true, force: true })
  }
}

/** What every render of a run shares: the isolation, the tools and their environments. */
interface PreparedRun {
  sandbox: Sandbox
  /** Why nothing may render (no sandbox where one is required), if so. */
  refusal: string | undefined
  /** The chart pulls' environment (they write to the run directory). */
  pullEnv: NodeJS.ProcessEnv
  /** The renders' environment (inside the sandbox they see only its private /tmp). */
  env: NodeJS.ProcessEnv
  kustomize: string
  helm: string
  /** The `--helm-command` kustomize gets (tools.ts). */
  helmShim: string
  tools: ToolVersions
  treeDir: string
  timeoutMs: number
}

async function prepareRun(
  options: HydrateOptions,
  runDir: string,
  treeDir: string,
): Promise<PreparedRun> {
  const { settings } = options
  const sandbox =
    options.sandbox ??
    (await Sandbox.detect(settings.sandbox, {
      memoryBytes: settings.maxMemoryMegabytes * 2 ** 20,
      tmpBytes: SANDBOX_TMP_BYTES,
    }))
  const refusal = sandbox.refusal()
  const pullEnv = await sealedToolEnv(runDir)
  const env = sandbox.isolation.kind === 'bubblewrap' ? toolEnv('/tmp', '/tmp') : pullEnv
  const kustomize = await findOnPath(options.kustomizePath ?? 'kustomize')
  const helm = await findOnPath(options.helmPath ?? 'helm')
  const tools = await toolVersions(kustomize, helm, env, refusal ? undefined : sandbox)
  const helmShim = await writeHelmShim(runDir, helm, tools.helm, {
    tree: treeDir,
    tmp: env.TMPDIR as string,
    shell: sandbox.shell,
  })
  return {
    sandbox,
    refusal,
    pullEnv,
    env,
    kustomize,
    helm,
    helmShim,
    tools,
    treeDir,
    timeoutMs: settings.timeoutSeconds * 1000,
  }
}

function safetyPolicy(settings: RenderSettings): SafetyPolicy {
  return {
    helmEnabled: settings.helm.enabled,
    allowedChartRepos: settings.helm.allowedRepos,
    remoteBases: settings.remoteBases,
  }
}

/** The run's chart cache: each chart version pulled once, in the run's sandbox. */
function chartCache(run: PreparedRun, runDir: string, options: HydrateOptions): ChartCache {
  return new ChartCache({
    cacheDir: join(runDir, 'charts'),
    helm: run.helm,
    env: run.pullEnv,
    timeoutMs: run.timeoutMs,
    lock: options.chartLock ?? [],
    sandbox: run.sandbox,
    runDir,
  })
}

/** One environment's safety walk; a refused one carries its reason and never renders. */
async function checkOne(
  options: HydrateOptions,
  policy: SafetyPolicy,
  check: RepoCheck,
  env: Environment,
): Promise<Pending> {
  const started = Date.now()
  const item: Pending = { env, checkMs: 0 }
  if (!safeName(env.name)) {
    item.failure = clip(`refused: environment name "${env.name}" is not a safe directory name`)
    return item
  }
  try {
    item.report = await checkEnvironment(options.repoDir, env.path, policy, check)
  } catch (error) {
    item.failure = failureReason(error)
  }
  item.checkMs = Date.now() - started
  return item
}

function safeName(name: string): boolean {
  return SAFE_ENV_NAME.test(name) && !name.includes('..')
}

/** No sandbox where one is required: an environment with a safe name is refused for that, whatever its walk found. */
function refuse(item: Pending, refusal: string | undefined): Pending {
  if (refusal === undefined || !safeName(item.env.name)) return item
  return { env: item.env, checkMs: item.checkMs, failure: clip(`refused: ${refusal}`) }
}

/**
 * Copies a vetted environment's roots into the render tree and links its
 * charts (`linked`: one pull and link per chart directory, shared by the
 * environments using it); a failed copy or chart fails the environment.
 */
async function prepareFiles(
  item: Pending,
  tree: RenderTree,
  cache: ChartCache,
  linked: Map<string, Promise<void>>,
): Promise<Pending> {
  try {
    await tree.add(item.report?.roots ?? [])
    for (const chart of item.report?.charts ?? []) {
      let done = linked.get(chart.pullDir)
      if (!done) {
        const dir = join(tree.dir, chart.pullDir, chart.name)
        done = cache.get(chart).then((cached) => linkTree(join(cached.dir, chart.name), dir))
        linked.set(chart.pullDir, done)
      }
      await done
    }
  } catch (error) {
    item.failure = failureReason(error)
  }
  return item
}

function failureReason(error: unknown): string {
  return error instanceof RefusedError
    ? refusalReason(error)
    : clip(`refused: ${errorMessage(error)}`)
}

interface RenderContext extends PreparedRun {
  /** The sandboxes kustomize runs in. */
  renders: SandboxPool
  /** One parser for the run: environments share most objects. */
  objects: ObjectParser
  commit: CommitInfo
  drySha: string
  repoURL: string
}

async function renderOne(
  item: Pending,
  state: WetState,
  options: HydrateOptions,
  context: RenderContext,
): Promise<EnvironmentHydration> {
  const { env } = item
  const { settings } = options
  const started = Date.now()
  const base: EnvironmentHydration = {
    name: env.name,
    path: env.path,
    stage: env.stage,
    branch: env.branch,
    ...(env.folder !== undefined ? { folder: env.folder } : {}),
    status: 'failed',
    resources: { before: 0, after: 0 },
    diff: { added: 0, changed: 0, deleted: 0 },
    changes: [],
    outputDir: env.name,
    files: [],
    baseSha: state.sha,
    durationMs: 0,
  }
  const finish = async (result: EnvironmentHydration, files?: Map<string, string>) => {
    if (SAFE_ENV_NAME.test(env.name)) {
      result.files = await writeEnvironmentFiles(options.outputDir, env, files, {
        commit: context.commit,
        drySha: context.drySha,
        repoURL: context.repoURL,
        tools: context.tools,
        helm: settings.helm.enabled,
      })
    }
    result.durationMs = item.checkMs + Date.now() - started
    return result
  }
  let before: RenderedObject[]
  try {
    before = [...state.files].flatMap(([path, text]) =>
      context.objects.parse(text, `${env.branch}:${path}`),
    )
  } catch (error) {
    return finish({ ...base, reason: clip(`WET branch unreadable: ${errorMessage(error)}`) })
  }
  base.resources.before = before.length
  if (item.failure !== undefined || item.report === undefined) {
    return finish({ ...base, reason: item.failure ?? 'refused' })
  }
  const dir = join(context.treeDir, env.path)
  const withHelm = settings.helm.enabled && item.report.usesHelm
  const run = await context.renders.run(
    context.kustomize,
    kustomizeArgs(dir, withHelm ? context.helmShim : undefined),
    { timeoutMs: context.timeoutMs, maxOutputBytes: settings.maxOutputBytes },
  )
  // A render error is never "zero resources".
  if (run.killedFor === 'timeout')
    return finish({ ...base, reason: `render timed out after ${settings.timeoutSeconds}s` })
  if (run.killedFor === 'output-limit')
    return finish({ ...base, reason: `render output over ${settings.maxOutputBytes} bytes` })
  if (run.code !== 0)
    return finish({
      ...base,
      reason: clip(`render failed: ${failureDetail(run, context.treeDir)}`),
    })
  let after: RenderedObject[]
  try {
    after = context.objects.parse(run.stdout, `kustomize build ${env.path}`)
  } catch (error) {
    return finish({ ...base, reason: clip(`render output unreadable: ${errorMessage(error)}`) })
  }
  const files =
    settings.layout === 'per-resource'
      ? perResourceFiles(after)
      : new Map(after.length > 0 ? [['manifest.yaml', manifestText(after)]] : [])
  const changes = diffObjects(before, after)
  const count = (kind: string) => changes.filter((change) => change.change === kind).length
  const diff = { added: count('added'), changed: count('changed'), deleted: count('deleted') }
  const verdict = guardDeletions(
    before.length,
    after.length,
    changes,
    settings.deletionGuard,
    options.allowDeletions === true,
  )
  const changed = state.sha === '' || !sameFiles(state.files, files)
  const result: EnvironmentHydration = {
    ...base,
    status: verdict.blocked ? 'blocked' : changed ? 'rendered' : 'unchanged',
    ...(verdict.reason !== undefined ? { reason: verdict.reason } : {}),
    resources: { before: before.length, after: after.length },
    diff,
    changes,
  }
  // A blocked render is written too: its child exists so that an authorized
  // `--allow-deletions` can deploy it (and nothing else may).
  return finish(result, files)
}

function sameFiles(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false
  for (const [path, text] of a) if (b.get(path) !== text) return false
  return true
}

async function originUrl(git: Git): Promise<string> {
  const result = await git.raw(['remote', 'get-url', 'origin'])
  if (result.code !== 0) return ''
  return result.stdout.trim().replace(/^(https?:\/\/)[^@/]*@/, '$1')
}

/** kustomize's own "Error: …" line (a crashed helm adds its stack after it), cut to the cause. */
function failureDetail(run: { stderr: string; code: number | null }, treeDir: string): string {
  const lines = run.stderr
    .split(`${treeDir}/`)
    .join('')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
  const detail = lines.find((line) => line.startsWith('Error: ')) ?? lines.pop()
  return detail ? kustomizeProblem(detail.replace(/^Error: /, '')) : `kustomize exit ${run.code}`
}

const RECURSED =
  /^accumulating resources: accumulation err='.*?': recursed accumulation of path '[^']*': (.*)$/s
const AS_FILE =
  /^accumulating resources: accumulation err='(.*)': must build at directory: .*: file is not directory$/s

/**
 * What went wrong, out of kustomize's "accumulating resources: accumulation
 * err='<read as a file>': <read as a directory>" nesting (one level per
 * kustomization), so the 140 characters of a status hold the cause.
 */
export function kustomizeProblem(message: string): string {
  const inner = RECURSED.exec(message)?.[1] ?? AS_FILE.exec(message)?.[1]
  return inner === undefined ? message : kustomizeProblem(inner)
}
