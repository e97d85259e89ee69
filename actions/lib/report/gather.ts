// Gathers the facts of a fleet report, with as few calls as a fleet of
// hundreds needs: one `git ls-remote` (every branch: WET tips, the DRY tip,
// child branches), one `git fetch` (the WET tips and the DRY tip), a few
// `git cat-file` batches, one render pool (the same hydrate core as the
// actions), one Argo CD list call, one index.yaml per chart repository. Then
// the pure parts decide (drift.ts, build.ts). The action and the CLI both
// call this; GitHub (parent pull request states) is an optional callback.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  canonicalRepoURL,
  problemDetails,
  type ArgoCdApplication,
  type ArgoCdClient,
} from '../argocd/client.js'
import { parseChildBranch } from '../children.js'
import {
  argoCdApplicationName,
  DEFAULT_CONFIG_FILE,
  discoverEnvironments,
} from '../config/config.js'
import type { Environment, FleetConfig } from '../config/types.js'
import { errorMessage, UserError } from '../errors.js'
import type { Git } from '../git/git.js'
import type { EnvironmentHydration } from '../hydration-types.js'
import { hydrate } from '../render/hydrate.js'
import { loadRenderConfig } from '../render/sources.js'
import { readWetContents, wetKey, type WetState } from '../render/wet.js'
import { buildReport, releasesToLookUp } from './build.js'
import { lookupReleases, type ChartIndexOptions } from './chart-index.js'
import {
  classifyDrift,
  type ApplicationFacts,
  type EnvironmentFacts,
  type ParentState,
  type RenderFacts,
} from './drift.js'
import { readDryCharts } from './dry-charts.js'
import { metadataDrySha, readInventory, type DryChart } from './inventory.js'
import type { EnvironmentInventory, FleetReport } from './types.js'

export interface GatherOptions {
  /** A clone of the fleet repository (its work tree is never changed). */
  git: Git
  /** Configuration file, read at the DRY tip (default fleet-promote.yaml). */
  configFile?: string
  /** The DRY branch the drift check renders (its tip on the remote, or the local ref). */
  dryBranch: string
  /** Remote (a name: fetched tips land in refs/remotes/<remote>/) holding the branches; undefined reads the refs already here (refs/heads, then refs/remotes/origin). */
  remote?: string
  /** Render every environment from the DRY tip and compare it with its WET branch (needs kustomize and helm). */
  render: boolean
  /** Makes the Argo CD client for a server; absent: Argo CD is not read. */
  argocd?: (server: string) => ArgoCdClient
  /** Overrides deploy.argocd.server. */
  argocdServer?: string
  /** Why Argo CD is not read although a stage deploys with it (a warning in the report). */
  argocdSkipped?: string
  /** Parent pull request states (from GitHub), for Applications on child branches. */
  parentStates?: (parents: number[]) => Promise<ReadonlyMap<number, ParentState>>
  /** Web URL of the repository: links, and the Argo CD source that is this repository. */
  repositoryUrl?: string
  chartIndex?: ChartIndexOptions
  parallelism?: number
  now?: () => Date
  log?: (line: string) => void
}

export interface GatherStats {
  /** Remote git operations. */
  lsRemote: number
  fetches: number
  argocdCalls: number
  chartRepositories: number
  environments: number
  /** Milliseconds per phase. */
  phases: Record<string, number>
}

/** Every branch and its tip: from the remote (one ls-remote), or from the refs already here. */
async function branchTips(git: Git, remote: string | undefined): Promise<Map<string, string>> {
  const tips = new Map<string, string>()
  if (remote !== undefined) {
    for (const [ref, sha] of await git.lsRemote(remote, ['refs/heads/*'])) {
      if (ref.startsWith('refs/heads/')) tips.set(ref.slice('refs/heads/'.length), sha)
    }
    return tips
  }
  const out = await git.run([
    'for-each-ref',
    '--format=%(objectname) %(refname)',
    'refs/remotes/origin',
    'refs/heads',
  ])
  // refs/heads come last and win: a local branch is what the user means.
  for (const line of out.split('\n')) {
    const [sha, ref] = line.split(' ')
    if (!sha || !ref) continue
    if (ref.startsWith('refs/heads/')) tips.set(ref.slice('refs/heads/'.length), sha)
    else if (ref !== 'refs/remotes/origin/HEAD')
      tips.set(ref.slice('refs/remotes/origin/'.length), sha)
  }
  return tips
}

function renderFacts(result: EnvironmentHydration, state: WetState | undefined): RenderFacts {
  if (result.status === 'failed')
    return { status: 'failed', reason: result.reason ?? 'render failed' }
  if (!state || state.sha === '') return { status: 'missing' }
  if (result.changes.length === 0) return { status: 'same' }
  const label = (c: EnvironmentHydration['changes'][number]) =>
    `${c.change} ${[c.kind, c.namespace, c.name].filter(Boolean).join('/')}`
  return {
    status: 'differs',
    added: result.diff.added,
    changed: result.diff.changed,
    deleted: result.diff.deleted,
    objects: result.changes.map(label),
  }
}

/** The source of an Application that is this repository (or its only source). */
function applicationFacts(
  name: string,
  app: ArgoCdApplication | undefined,
  repositoryUrl: string,
): ApplicationFacts {
  if (!app) return { found: false, name }
  const sources = app.spec.sources ?? []
  const source =
    sources.length > 0
      ? (sources.find(
          (s) => canonicalRepoURL(s.repoURL ?? '') === canonicalRepoURL(repositoryUrl),
        ) ?? (sources.length === 1 ? sources[0] : undefined))
      : app.spec.source
  const sync = app.status?.sync
  const health = app.status?.health
  const details = problemDetails(app)
  return {
    found: true,
    name,
    ...(source?.targetRevision !== undefined ? { targetRevision: source.targetRevision } : {}),
    ...(sync?.status ? { sync: sync.status } : {}),
    revisions: [sync?.revision, ...(sync?.revisions ?? [])].filter((r): r is string => Boolean(r)),
    ...(health?.status ? { health: health.status } : {}),
    ...(details ? { healthMessage: details } : {}),
  }
}

async function remoteWebUrl(git: Git, remote: string | undefined): Promise<string> {
  const result = await git.raw(['remote', 'get-url', remote ?? 'origin'])
  return result.code === 0 ? result.stdout.trim().replace(/^(https?:\/\/)[^@/]*@/, '$1') : ''
}

/** What one gathering shares: its options, and the counters and warnings it collects. */
interface Gathering {
  options: GatherOptions
  git: Git
  remote: string | undefined
  stats: GatherStats
  warnings: string[]
}

/** The fleet at the DRY tip, and what its WET branches hold. */
interface FleetState {
  tips: Map<string, string>
  drySha: string
  config: FleetConfig
  environments: Environment[]
  wet: Map<string, WetState>
}

export async function gatherReport(
  options: GatherOptions,
): Promise<{ report: FleetReport; stats: GatherStats }> {
  const stats: GatherStats = {
    lsRemote: 0,
    fetches: 0,
    argocdCalls: 0,
    chartRepositories: 0,
    environments: 0,
    phases: {},
  }
  const ctx: Gathering = { options, git: options.git, remote: options.remote, stats, warnings: [] }
  let mark = Date.now()
  const lap = (phase: string) => {
    const now = Date.now()
    stats.phases[phase] = now - mark
    mark = now
  }
  const fleet = await readFleet(ctx)
  lap('branches')
  const inventories = await readInventories(ctx, fleet)
  lap('inventory')
  // The newest releases are looked up while the render runs.
  const { config } = fleet
  const wanted = releasesToLookUp(inventories, config.hydrate.helm.allowedRepos)
  stats.chartRepositories = new Set(wanted.map((w) => w.repo)).size
  const releases = lookupReleases(wanted, options.chartIndex)
  const renders = options.render ? await renderDrift(ctx, fleet) : new Map<string, RenderFacts>()
  lap('render')
  const drift = await clusterDrift(ctx, fleet, renders)
  lap('drift')
  const report = buildReport({
    generatedAt: (options.now?.() ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z'),
    dry: { branch: options.dryBranch, sha: fleet.drySha },
    environments: inventories,
    releases: await releases,
    allowedRepos: config.hydrate.helm.allowedRepos,
    minimums: config.report.minimumVersions,
    drift,
    warnings: ctx.warnings,
  })
  lap('releases')
  return { report, stats }
}

/** Every branch tip (one ls-remote), the configuration and environments at the DRY tip, the WET tips (one fetch). */
async function readFleet(ctx: Gathering): Promise<FleetState> {
  const { git, remote, options, stats } = ctx
  const tips = await branchTips(git, remote)
  if (remote !== undefined) stats.lsRemote += 1
  const drySha = await dryTip(ctx, tips)
  const config = await loadRenderConfig(
    git,
    git.dir,
    options.configFile ?? DEFAULT_CONFIG_FILE,
    drySha,
  )
  const environments = discoverEnvironments(config, await git.listFiles(drySha))
  stats.environments = environments.length
  const present = environments.filter((env) => tips.has(env.branch)).map((env) => env.branch)
  if (remote !== undefined && present.length > 0) {
    await git.fetch(
      remote,
      [...new Set(present)].map(
        (branch) => `+refs/heads/${branch}:refs/remotes/${remote}/${branch}`,
      ),
      (await git.isShallow()) ? { depth: 1 } : {},
    )
    stats.fetches += 1
  }
  const wet = await readWetContents(
    git,
    new Map(environments.map((env) => [wetKey(env), tips.get(env.branch) ?? ''])),
  )
  return { tips, drySha, config, environments, wet }
}

/** The DRY branch's tip, fetched (shallow) when this clone does not have it. */
async function dryTip(ctx: Gathering, tips: ReadonlyMap<string, string>): Promise<string> {
  const { git, remote, options } = ctx
  const drySha = tips.get(options.dryBranch) ?? (await git.tryRevParse(options.dryBranch))
  if (!drySha) {
    throw new UserError(
      `the DRY branch ${options.dryBranch} is not ${remote !== undefined ? `on ${remote}` : 'in this clone'}`,
    )
  }
  if (remote !== undefined && !(await git.tryRevParse(drySha))) {
    const refspec = `+refs/heads/${options.dryBranch}:refs/remotes/${remote}/${options.dryBranch}`
    await git.fetch(remote, [refspec], { depth: 1 })
    ctx.stats.fetches += 1
  }
  return drySha
}

/** What each WET branch runs, with the chart entries of the DRY commit it was rendered from. */
async function readInventories(ctx: Gathering, fleet: FleetState): Promise<EnvironmentInventory[]> {
  const dryCharts = await chartsAtRenderedCommits(ctx, fleet)
  const chartRepositories = new Map(
    fleet.config.report.chartRepositories.map((entry) => [entry.chart, entry.repo]),
  )
  const inventories = fleet.environments.map((env) =>
    readInventory(
      env,
      fleet.wet.get(wetKey(env)) ?? { sha: '', files: new Map() },
      dryCharts.get(env.name) ?? [],
      chartRepositories,
    ),
  )
  for (const inventory of inventories) {
    for (const problem of inventory.problems) ctx.warnings.push(`${inventory.name}: ${problem}`)
  }
  return inventories
}

/** Drift (a): every WET branch against a fresh render of the DRY tip, in a scratch worktree. */
async function renderDrift(ctx: Gathering, fleet: FleetState): Promise<Map<string, RenderFacts>> {
  const { options } = ctx
  const renders = new Map<string, RenderFacts>()
  if (fleet.environments.length === 0) return renders
  const scratch = await mkdtemp(join(tmpdir(), 'fleet-promote-report-'))
  try {
    await ctx.git.withWorktree(fleet.drySha, join(scratch, 'dry'), async (dir) => {
      const { result } = await hydrate({
        repoDir: dir,
        environments: fleet.environments,
        outputDir: join(scratch, 'rendered'),
        settings: fleet.config.hydrate,
        wetStates: fleet.wet,
        drySha: fleet.drySha,
        ...(options.parallelism ? { parallelism: options.parallelism } : {}),
        log: options.log ?? (() => undefined),
      })
      for (const env of result.environments) {
        const facts = renderFacts(env, fleet.wet.get(wetKey(env)))
        renders.set(env.name, facts)
        if (facts.status === 'failed')
          ctx.warnings.push(`${env.name}: drift not checked: ${facts.reason}`)
      }
    })
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
  return renders
}

/** Drift (b) and (c): Argo CD in one list call, GitHub for the parents of child branches; then the pure verdicts. */
async function clusterDrift(
  ctx: Gathering,
  fleet: FleetState,
  renders: ReadonlyMap<string, RenderFacts>,
): Promise<ReturnType<typeof classifyDrift>> {
  const { options } = ctx
  const repositoryUrl = options.repositoryUrl ?? (await remoteWebUrl(ctx.git, ctx.remote))
  const argocd = await readApplications(ctx, fleet)
  const facts = environmentFacts(fleet, renders, argocd?.applications, repositoryUrl)
  const remoteBranches = new Set(fleet.tips.keys())
  const parents = childBranchParents(facts, remoteBranches)
  const parentStates =
    options.parentStates && parents.length > 0 ? await options.parentStates(parents) : undefined
  const webUrl = /^https?:\/\//.test(repositoryUrl)
    ? repositoryUrl.replace(/\.git$/, '')
    : undefined
  return classifyDrift(facts, {
    dryBranch: options.dryBranch,
    drySha: fleet.drySha,
    remoteBranches,
    ...(parentStates ? { parents: parentStates } : {}),
    ...(webUrl ? { repositoryUrl: webUrl } : {}),
    ...(argocd ? { argocdServer: argocd.server } : {}),
  })
}

/**
 * The Applications by name (one list call) when a stage deploys with Argo CD
 * and it can be read; otherwise undefined, with a warning saying why.
 */
async function readApplications(
  ctx: Gathering,
  fleet: FleetState,
): Promise<{ server: string; applications: Map<string, ArgoCdApplication> } | undefined> {
  const { options, warnings } = ctx
  const backends = new Map(fleet.config.stages.map((stage) => [stage.name, stage.backend]))
  if (!fleet.environments.some((env) => backends.get(env.stage) === 'argocd')) return undefined
  const server = options.argocdServer || fleet.config.deploy.argocd.server
  if (!options.argocd) {
    warnings.push(`Argo CD not read${options.argocdSkipped ? `: ${options.argocdSkipped}` : ''}`)
    return undefined
  }
  if (!server) {
    warnings.push('Argo CD not read: no server (deploy.argocd.server)')
    return undefined
  }
  try {
    const argocd = options.argocd(server)
    ctx.stats.argocdCalls += 1
    const list = await argocd.listApplications()
    const applications = new Map(list.map((app) => [app.metadata.name ?? '', app]))
    return { server: argocd.server, applications }
  } catch (error) {
    warnings.push(`Argo CD not read: ${errorMessage(error)}`)
    return undefined
  }
}

/** One record per environment for the drift verdicts; the Application only for stages Argo CD deploys. */
function environmentFacts(
  fleet: FleetState,
  renders: ReadonlyMap<string, RenderFacts>,
  applications: ReadonlyMap<string, ArgoCdApplication> | undefined,
  repositoryUrl: string,
): EnvironmentFacts[] {
  const backends = new Map(fleet.config.stages.map((stage) => [stage.name, stage.backend]))
  return fleet.environments.map((env) => {
    const state = fleet.wet.get(wetKey(env))
    const wetDrySha = metadataDrySha(state?.metadata)
    const name =
      applications && backends.get(env.stage) === 'argocd'
        ? argoCdApplicationName(fleet.config, env)
        : undefined
    const render = renders.get(env.name)
    return {
      environment: env.name,
      path: env.path,
      branch: env.branch,
      wetSha: state?.sha ?? '',
      ...(wetDrySha ? { wetDrySha } : {}),
      ...(render ? { render } : {}),
      ...(name !== undefined && applications
        ? { application: applicationFacts(name, applications.get(name), repositoryUrl) }
        : {}),
    }
  })
}

/** The parent pull requests of the child branches Applications run (those still on the remote), ascending. */
function childBranchParents(
  facts: readonly EnvironmentFacts[],
  remoteBranches: ReadonlySet<string>,
): number[] {
  const parents = new Set<number>()
  for (const fact of facts) {
    const target = fact.application?.found ? fact.application.targetRevision : undefined
    const child = target ? parseChildBranch(target) : undefined
    if (child && target && remoteBranches.has(target)) parents.add(child.parent)
  }
  return [...parents].sort((a, b) => a - b)
}

/**
 * Environment name → the helmCharts entries of the DRY commit its WET tip was
 * rendered from (`hydrator.metadata`), or of the DRY tip when that commit is
 * unknown or not available.
 */
async function chartsAtRenderedCommits(
  ctx: Gathering,
  fleet: FleetState,
): Promise<Map<string, DryChart[]>> {
  const { git, remote, warnings } = ctx
  const { drySha } = fleet
  const bySha = new Map<string, Environment[]>()
  for (const env of fleet.environments) {
    const sha = metadataDrySha(fleet.wet.get(wetKey(env))?.metadata) ?? drySha
    bySha.set(sha, [...(bySha.get(sha) ?? []), env])
  }
  const missing: string[] = []
  for (const sha of bySha.keys()) if (!(await git.tryRevParse(sha))) missing.push(sha)
  if (missing.length > 0 && remote !== undefined) {
    try {
      await git.fetch(remote, missing, { depth: 1 })
      ctx.stats.fetches += 1
    } catch (error) {
      warnings.push(
        `could not fetch ${missing.length} rendered DRY commit(s): ${errorMessage(error).split('\n')[0]}`,
      )
    }
  }
  const charts = new Map<string, DryChart[]>()
  for (const [sha, envs] of bySha) {
    let rev = sha
    if (sha !== drySha && !(await git.tryRevParse(sha))) {
      warnings.push(
        `${envs.map((env) => env.name).join(', ')}: DRY commit ${sha.slice(0, 7)} (hydrator.metadata) is not available; chart entries read at ${drySha.slice(0, 7)}`,
      )
      rev = drySha
    }
    const entries = await readDryCharts(
      git,
      rev,
      envs.map((env) => env.path),
    )
    for (const env of envs) charts.set(env.name, entries.get(env.path) ?? [])
  }
  return charts
}
