// The whole flow of one parent PR that touches N environments, with the
// actions' cores against the GitHub and Argo CD simulators: a DRY repository
// with one directory per environment and one shared component, WET branches
// seeded by one `git fast-import`, a parent PR that changes the component
// (every environment is impacted), then open-child-prs, `.promote` of each
// stage, the merge and merge-cleanup as steps the caller runs and observes.
// The scale benchmark (scripts/bench/scale.ts) counts what each step asks of
// GitHub; test/fleet-scale.e2e.test.ts runs it with the rate limits on.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createArgoCdClient } from '../../actions/lib/argocd/client.js'
import { discoverEnvironments, loadConfig } from '../../actions/lib/config/config.js'
import type { Environment, FleetConfig } from '../../actions/lib/config/types.js'
import { Git } from '../../actions/lib/git/git.js'
import { MANAGED_LIST } from '../../actions/lib/git/wet-commit.js'
import type { RateLimitLedger } from '../../actions/lib/github/rate-limit.js'
import { runChecked } from '../../actions/lib/process.js'
import { mergeCleanup, type MergeCleanupResult } from '../../actions/merge-cleanup/merge-cleanup.js'
import { openChildPrs } from '../../actions/open-child-prs/child-prs.js'
import { promote, type PromoteResult, type Trigger } from '../../actions/promote/promote.js'
import { configMapChange, writeHydration } from '../fixtures/child-prs/hydration.js'
import { startArgoCdSimulator, type ArgoCdSimulator } from './argocd/index.js'
import { createGitHubClient } from './github-client.js'
import {
  startGitHubSimulator,
  type GitHubSimulator,
  type RateLimitOptions,
} from './github/index.js'

export type Backend = 'argocd' | 'merge'

export const SCALE_REPO = { owner: 'acme', repo: 'fleet' }
const FULL_NAME = `${SCALE_REPO.owner}/${SCALE_REPO.repo}`
const IDENTITY = {
  GIT_AUTHOR_NAME: 'Bench',
  GIT_AUTHOR_EMAIL: 'bench@example.test',
  GIT_COMMITTER_NAME: 'Bench',
  GIT_COMMITTER_EMAIL: 'bench@example.test',
}

/** Stage names and environment name prefixes: 10 % testing, then (3 stages) 20 % staging, the rest production. */
export function stagesFor(count: number): { name: string; prefix: string; share: number }[] {
  if (count === 2)
    return [
      { name: 'testing', prefix: 't', share: 0.1 },
      { name: 'production', prefix: 'p', share: 0.9 },
    ]
  if (count === 3)
    return [
      { name: 'testing', prefix: 't', share: 0.1 },
      { name: 'staging', prefix: 's', share: 0.2 },
      { name: 'production', prefix: 'p', share: 0.7 },
    ]
  throw new Error(`--stages ${count}: 2 or 3`)
}

function environmentNames(n: number, stageCount: number): { name: string; stage: string }[] {
  const stages = stagesFor(stageCount)
  const names: { name: string; stage: string }[] = []
  let taken = 0
  stages.forEach((stage, index) => {
    const count = index === stages.length - 1 ? n - taken : Math.max(1, Math.round(n * stage.share))
    for (let i = 0; i < count; i++)
      names.push({ name: `${stage.prefix}-${String(i).padStart(4, '0')}`, stage: stage.name })
    taken += count
  })
  return names
}

/**
 * Issue 18's shared-branch mode: one WET branch per stage (`env/{stage}`), a
 * folder per environment, GitHub deployments and statuses per stage.
 */
export const SHARED_BRANCHES = {
  environmentRule: [
    '  - glob: clusters/*',
    '    name: "{1}"',
    '    branch: "env/{stage}"',
    '    path: "{name}"',
  ],
  extra: ['  deployments: per-stage', 'statuses: per-stage'],
}

export interface ScaleFlowOptions {
  n: number
  /** 2 or 3 (stagesFor). */
  stages: number
  backend: Backend
  /** The `environments` rule: how directories become environments with a WET branch. */
  environmentRule: readonly string[]
  /** More configuration lines. */
  extra?: readonly string[]
  /**
   * GitHub's rate limits on the simulator (off by default), and the client's
   * wait budget and clock; the actions then run with a workflow's
   * GITHUB_TOKEN (1,000 requests an hour per repository), as they do in CI.
   */
  rateLimits?: { simulator: RateLimitOptions; ledger: RateLimitLedger }
  log?: (line: string) => void
}

function fleetConfig(options: ScaleFlowOptions, argocdUrl: string): string {
  const stages = stagesFor(options.stages)
  return [
    'version: 1',
    'environments:',
    ...options.environmentRule,
    'stages:',
    ...stages.flatMap((stage, index) => [
      `  - name: ${stage.name}`,
      `    match: ["${stage.prefix}-*"]`,
      ...(index > 0 ? [`    requires: [${stages[index - 1]!.name}]`] : []),
      ...(index === stages.length - 1 ? ['    approvals: 1'] : []),
    ]),
    'deploy:',
    `  backend: ${options.backend}`,
    ...(options.backend === 'argocd'
      ? ['  argocd:', `    server: ${argocdUrl}`, '    application: "{name}-addons"']
      : []),
    ...(options.extra ?? []),
    '',
  ].join('\n')
}

/** The one object every environment renders: a ConfigMap of the add-on's version. */
const addon = (version: number) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: addon\ndata:\n  version: "${version}"\n`

/**
 * The files a render of that ConfigMap writes, as hydrate writes them (keys
 * sorted, with its provenance files), so the children the flow lands hold
 * exactly what merge-cleanup renders: nothing is re-rendered for layout.
 */
const rendered = (env: string, version: number): Record<string, string> => ({
  'README.md': `# ${env}\n`,
  'hydrator.metadata': '{}\n',
  'manifest.yaml': `apiVersion: v1\ndata:\n  version: "${version}"\nkind: ConfigMap\nmetadata:\n  name: addon\n`,
})

async function writeFiles(dir: string, files: Record<string, string>) {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true })
    await writeFile(join(dir, path), content)
  }
}

/**
 * The files of one WET branch: an environment's render at the root, or on a
 * shared branch every environment's render in its folder plus the root
 * `hydrator.metadata`, as buildBranchCommit writes them.
 */
function branchFiles(envs: readonly Environment[], version: number): Record<string, string> {
  const files: Record<string, string> = {}
  for (const env of envs) {
    const prefix = env.folder === undefined ? '' : `${env.folder}/`
    const own = rendered(env.name, version)
    for (const [path, text] of Object.entries(own)) files[`${prefix}${path}`] = text
    files[`${prefix}${MANAGED_LIST}`] = `${Object.keys(own).join('\n')}\n`
    if (prefix !== '') files['hydrator.metadata'] = own['hydrator.metadata']!
  }
  return files
}

/** One orphan commit per WET branch, written by one `git fast-import`. */
async function seedWetBranches(git: Git, environments: readonly Environment[]) {
  const byBranch = new Map<string, Environment[]>()
  for (const env of environments)
    byBranch.set(env.branch, [...(byBranch.get(env.branch) ?? []), env])
  const stream: string[] = []
  const blob = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`
  for (const [branch, envs] of byBranch) {
    stream.push(
      `commit refs/heads/${branch}`,
      'committer Bench <bench@example.test> 1767225600 +0000',
      blob(`render ${envs.map((env) => env.name).join(', ')}`).trimEnd(),
      ...Object.entries(branchFiles(envs, 1)).flatMap(([path, text]) => [
        `M 100644 inline ${path}`,
        blob(text).trimEnd(),
      ]),
      '',
    )
  }
  await runChecked('git', ['fast-import', '--quiet'], {
    cwd: git.dir,
    input: `${stream.join('\n')}\n`,
  })
  return [...byBranch.keys()]
}

export interface ScaleFlow {
  gh: GitHubSimulator
  argocd: ArgoCdSimulator
  config: FleetConfig
  environments: Environment[]
  parent: number
  openChildPrs(): Promise<void>
  /** `.promote <stage>` commented by a maintainer. */
  promote(stage: string): Promise<PromoteResult>
  /** The approval the last stage needs, on the parent head. */
  approve(): void
  /** Merges the parent as the maintainer; then merge-cleanup can run. */
  mergeParent(): Promise<void>
  mergeCleanup(): Promise<MergeCleanupResult>
  stop(): Promise<void>
}

/** Builds the fleet on fresh simulators and opens the parent PR. */
export async function startScaleFlow(options: ScaleFlowOptions): Promise<ScaleFlow> {
  const work = await mkdtemp(join(tmpdir(), 'fleet-scale-'))
  const gh = await startGitHubSimulator({
    validate: false,
    ...(options.rateLimits ? { rateLimits: options.rateLimits.simulator } : {}),
  })
  const argocd = await startArgoCdSimulator({ validate: false })
  const stop = async () => {
    await gh.stop()
    await argocd.stop()
    await rm(work, { recursive: true, force: true })
  }
  try {
    return await buildFlow(options, gh, argocd, work, stop)
  } catch (error) {
    await stop()
    throw error
  }
}

async function buildFlow(
  options: ScaleFlowOptions,
  gh: GitHubSimulator,
  argocd: ArgoCdSimulator,
  work: string,
  stop: () => Promise<void>,
): Promise<ScaleFlow> {
  await gh.createRepo(FULL_NAME)
  gh.setPermission(FULL_NAME, gh.adminLogin, 'admin')
  const maintainer = gh.addUser('max')
  gh.setPermission(FULL_NAME, maintainer.login, 'maintain')
  const approver = gh.addUser('april')
  gh.setPermission(FULL_NAME, approver.login, 'write')
  const workflow = gh.addUser('github-actions[bot]', { type: 'Bot', tokenKind: 'github-token' })
  gh.setPermission(FULL_NAME, workflow.login, 'write')
  const url = gh.remoteUrl(FULL_NAME)
  const repoURL = `${gh.serverUrl}/${FULL_NAME}`
  argocd.resolveRevision = (revision) =>
    /^[0-9a-f]{40}$/.test(revision) ? revision : (gh.state.refSha(FULL_NAME, revision) ?? revision)
  const limits = options.rateLimits
  const token = limits ? workflow.token : gh.adminToken
  // Each step is a job of its own: a fresh client, nothing cached from the step before.
  const newClient = () =>
    createGitHubClient(token, {
      baseUrl: gh.apiUrl,
      writeIntervalMs: 0,
      ...(limits
        ? {
            rateLimits: limits.ledger,
            clockScale: limits.simulator.clockScale ?? 1,
            log: options.log,
          }
        : {}),
    })
  const git = { token, env: IDENTITY }

  // The DRY repository: one directory per environment, one shared component.
  const author = await Git.clone(url, join(work, 'author'), { token: gh.adminToken, env: IDENTITY })
  await writeFiles(author.dir, {
    'fleet-promote.yaml': fleetConfig(options, argocd.url),
    'components/addon/kustomization.yaml': 'resources: [configmap.yaml]\n',
    'components/addon/configmap.yaml': addon(1),
    ...Object.fromEntries(
      environmentNames(options.n, options.stages).map((env) => [
        `clusters/${env.name}/kustomization.yaml`,
        'resources: [../../components/addon]\n',
      ]),
    ),
  })
  await author.run(['add', '-A'])
  await author.run(['commit', '-qm', 'fleet'])
  await author.run(['push', '-q', 'origin', 'HEAD:refs/heads/main'])
  const config = await loadConfig(author.dir)
  const environments = discoverEnvironments(config, await author.listFiles('HEAD'))
  const branches = await seedWetBranches(author, environments)
  await author.run([
    'push',
    '-q',
    '--atomic',
    'origin',
    ...branches.map((branch) => `refs/heads/${branch}`),
  ])
  const wetTips = await author.lsRemote('origin', ['refs/heads/env/*'])
  if (options.backend === 'argocd') {
    for (const env of environments)
      await argocd.addApplication({
        name: `${env.name}-addons`,
        repoURL,
        path: env.folder ?? '.',
        targetRevision: env.branch,
      })
  }

  // The parent PR changes the shared component: every environment is impacted.
  await author.run(['checkout', '-qb', 'feature/bump'])
  await writeFiles(author.dir, { 'components/addon/configmap.yaml': addon(2) })
  await author.run(['commit', '-qam', 'bump the add-on'])
  await author.run(['push', '-q', 'origin', 'HEAD:refs/heads/feature/bump'])
  const { number: parent } = await gh.openPullRequest(FULL_NAME, {
    head: 'feature/bump',
    base: 'main',
    title: 'Bump the add-on',
    user: maintainer.login,
  })

  const log = options.log ?? (() => undefined)
  let openRuns = 0
  let runs = 0
  // A promote job's settings: its own client and scratch repository for lock commits.
  const settings = async () => ({
    client: newClient(),
    repo: SCALE_REPO,
    configFile: 'fleet-promote.yaml',
    locks: {
      git: await Git.init(join(work, `locks-${++runs}`), { ...git, bare: true }),
      remote: url,
    },
    serverUrl: gh.serverUrl,
    runUrl: `${gh.serverUrl}/${FULL_NAME}/actions/runs/1`,
    argocd: (server: string) =>
      createArgoCdClient({ server, token: argocd.token, retries: 1, retryDelayMs: 10 }),
    argocdPollMs: 5,
    aggregate: true,
    log,
  })
  return {
    gh,
    argocd,
    config,
    environments,
    parent,
    async openChildPrs() {
      // Each run in a checkout of its own, as each workflow run is (a re-run too).
      const run = ++openRuns
      const workspace = await Git.clone(url, join(work, `workspace-${run}`), git)
      await workspace.run([
        'fetch',
        '-q',
        'origin',
        `+refs/pull/${parent}/merge:refs/remotes/merge`,
      ])
      const drySha = await workspace.revParse('refs/remotes/merge')
      const renderedDir = join(work, `rendered-${run}`)
      const hydration = await writeHydration(
        renderedDir,
        drySha,
        environments.map((env) => ({
          name: env.name,
          stage: env.stage,
          branch: env.branch,
          ...(env.folder === undefined ? {} : { folder: env.folder }),
          baseSha: wetTips.get(`refs/heads/${env.branch}`) ?? '',
          files: rendered(env.name, 2),
          changes: [configMapChange('addon', '1', '2')],
        })),
      )
      const result = await openChildPrs({
        client: newClient(),
        git: workspace,
        remote: url,
        repo: SCALE_REPO,
        parent,
        hydration,
        renderedDir,
        stages: config.stages.map((stage) => ({
          name: stage.name,
          autoPromote: stage.autoPromote,
        })),
        promoteCommand: config.promote.command,
        statuses: config.statuses,
        log,
      })
      if (result.stale) throw new Error(`open-child-prs: ${result.reason}`)
    },
    async promote(stage) {
      const body = `.promote ${stage}`
      const { id, event } = gh.comment(FULL_NAME, parent, { user: maintainer.login, body })
      const user = (event.comment as { user: { type: string } }).user
      const trigger: Trigger = {
        kind: 'comment',
        pr: parent,
        commentId: id,
        body,
        actor: { login: maintainer.login, type: user.type },
      }
      return promote(await settings(), trigger)
    },
    approve() {
      const head = gh.state.pull(FULL_NAME, parent).headSha
      gh.review(FULL_NAME, parent, { user: approver.login, state: 'APPROVED', commitId: head })
    },
    async mergeParent() {
      await gh.mergePullRequestAsUser(FULL_NAME, parent, maintainer.login)
    },
    async mergeCleanup() {
      const main = await Git.clone(url, join(work, 'main'), git)
      return mergeCleanup({
        client: newClient(),
        git: main,
        remote: url,
        repo: SCALE_REPO,
        parent,
        serverUrl: gh.serverUrl,
        argocd: (server) => createArgoCdClient({ server, token: argocd.token, retries: 0 }),
        argocdServer: argocd.url,
        // The simulator syncs at once: the action's 5 s between polls would only be waited.
        argocdPollMs: 5,
        log,
      })
    },
    stop,
  }
}
