// Benchmark: the whole flow of one parent PR that touches N environments
// (open-child-prs, `.promote testing`, `.promote production`, merge-cleanup),
// run with the actions' cores against the GitHub and Argo CD simulators, for
// each size, mode and backend. Counts what GitHub sees (REST calls, reads,
// writes, content-creating requests, git pushes) and turns the counts into the
// wall time GitHub's limits and the client's pacing imply. Writes the
// `## scale` section of BENCHMARKS.md.
//
// Modes are columns: each says how the fleet's environments map to WET
// branches and statuses (`MODES` below); a new repository model is one more
// entry there. Requests are counted, not paced (writes are sent at once and
// the simulator's rate limits are off), so the time column is the model:
//   - the client's pacing: ≥ 1 s between writes (plugin-throttling);
//   - secondary limits: 80 content-creating requests a minute, 500 an hour;
//   - primary: 1,000 requests an hour for GITHUB_TOKEN (per repository), or
//     5,000 for a GitHub App installation.
//
//   npm run bench -- scale [--n 50,200,500] [--stages 2] [--backends argocd,merge]
//                          [--modes per-environment] [--section scale] [--no-write]
//                          [--endpoints]   (each step's requests by route, to find per-environment calls)
import { writeBenchmarkSection } from './lib/benchmarks-md.js'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createArgoCdClient } from '../../actions/lib/argocd/client.js'
import { discoverEnvironments, loadConfig } from '../../actions/lib/config/config.js'
import type { Environment } from '../../actions/lib/config/types.js'
import { Git } from '../../actions/lib/git/git.js'
import { MANAGED_LIST } from '../../actions/lib/git/wet-commit.js'
import { createGitHubClient } from '../../test/support/github-client.js'
import { mergeCleanup } from '../../actions/merge-cleanup/merge-cleanup.js'
import { openChildPrs } from '../../actions/open-child-prs/child-prs.js'
import { promote, type Trigger } from '../../actions/promote/promote.js'
import { runChecked } from '../../actions/lib/process.js'
import { configMapChange, writeHydration } from '../../test/fixtures/child-prs/hydration.js'
import { startArgoCdSimulator } from '../../test/support/argocd/index.js'
import { startGitHubSimulator, type RequestLogEntry } from '../../test/support/github/index.js'
import { machineLine } from './lib/measure.js'

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)))
const { values: flags } = parseArgs({
  options: {
    n: { type: 'string' },
    stages: { type: 'string' },
    backends: { type: 'string' },
    modes: { type: 'string' },
    section: { type: 'string' },
    'no-write': { type: 'boolean' },
    endpoints: { type: 'boolean' },
  },
})
const SIZES = (flags.n ?? '50,200,500').split(',').map(Number)
// A long size can run on its own into its own section (e.g. `--n 500 --section scale-500`).
const SECTION = flags.section ?? 'scale'
const STAGE_COUNT = Number(flags.stages ?? 2)
const BACKENDS = (flags.backends ?? 'argocd,merge').split(',') as Backend[]
const OWNER = 'acme'
const NAME = 'fleet'
const REPO = { owner: OWNER, repo: NAME }
const FULL_NAME = `${OWNER}/${NAME}`
const IDENTITY = {
  GIT_AUTHOR_NAME: 'Bench',
  GIT_AUTHOR_EMAIL: 'bench@example.test',
  GIT_COMMITTER_NAME: 'Bench',
  GIT_COMMITTER_EMAIL: 'bench@example.test',
}

type Backend = 'argocd' | 'merge'

/**
 * A repository model: the `environments` rule (how directories become
 * environments with a WET branch) and any further configuration. The next
 * mode (shared WET branches with one folder each, per-stage statuses) is one
 * more entry: `{ name: 'shared-branch', environmentRule: [..., 'branch: "env/{stage}"',
 * 'path: "{name}"'], extra: ['statuses: per-stage'] }` once the flow supports it.
 */
interface Mode {
  name: string
  environmentRule: string[]
  extra: string[]
}

const MODES: Mode[] = [
  {
    name: 'per-environment',
    environmentRule: ['  - glob: clusters/*', '    name: "{1}"', '    branch: "env/{name}"'],
    extra: [],
  },
]
const modes = flags.modes
  ? MODES.filter((mode) => flags.modes!.split(',').includes(mode.name))
  : MODES

/** Stage names and environment name prefixes: 10 % testing, then (3 stages) 20 % staging, the rest production. */
function stagesFor(count: number): { name: string; prefix: string; share: number }[] {
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

function environmentNames(n: number): { name: string; stage: string }[] {
  const stages = stagesFor(STAGE_COUNT)
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

function fleetConfig(mode: Mode, backend: Backend, argocdUrl: string): string {
  const stages = stagesFor(STAGE_COUNT)
  return [
    'version: 1',
    'environments:',
    ...mode.environmentRule,
    'stages:',
    ...stages.flatMap((stage, index) => [
      `  - name: ${stage.name}`,
      `    match: ["${stage.prefix}-*"]`,
      ...(index > 0 ? [`    requires: [${stages[index - 1]!.name}]`] : []),
      ...(index === stages.length - 1 ? ['    approvals: 1'] : []),
    ]),
    'deploy:',
    `  backend: ${backend}`,
    ...(backend === 'argocd'
      ? ['  argocd:', `    server: ${argocdUrl}`, '    application: "{name}-addons"']
      : []),
    ...mode.extra,
    '',
  ].join('\n')
}

/** The one object every environment renders: a ConfigMap of the add-on's version. */
const addon = (version: number) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: addon\ndata:\n  version: "${version}"\n`

async function writeFiles(dir: string, files: Record<string, string>) {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true })
    await writeFile(join(dir, path), content)
  }
}

/** One orphan commit per WET branch, written by one `git fast-import` (setup, not measured). */
async function seedWetBranches(git: Git, environments: readonly Environment[]) {
  const stream: string[] = []
  const blob = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`
  for (const env of environments) {
    stream.push(
      `commit refs/heads/${env.branch}`,
      'committer Bench <bench@example.test> 1767225600 +0000',
      blob(`render ${env.name}`).trimEnd(),
      `M 100644 inline manifest.yaml`,
      blob(addon(1)).trimEnd(),
      `M 100644 inline ${MANAGED_LIST}`,
      blob('manifest.yaml\n').trimEnd(),
      '',
    )
  }
  await runChecked('git', ['fast-import', '--quiet'], {
    cwd: git.dir,
    input: `${stream.join('\n')}\n`,
  })
}

interface Counts {
  rest: number
  reads: number
  writes: number
  /** POST, PUT and PATCH: what GitHub's content-creation limits count. */
  creating: number
  pushes: number
  argocd: number
  ms: number
}

/**
 * A read: GET, HEAD, or a GraphQL query (the suite sends only queries; GitHub
 * counts GraphQL mutations, not queries, as content-creating).
 */
const isRead = (entry: RequestLogEntry) =>
  ['GET', 'HEAD'].includes(entry.method) || entry.route === 'POST /api/graphql'

function count(requests: readonly RequestLogEntry[], argocdCalls: number, ms: number): Counts {
  const rest = requests.filter((entry) => !/^\w+ \/\{owner\}\/\{repo\}\.git\//.test(entry.route))
  return {
    rest: rest.length,
    reads: rest.filter(isRead).length,
    writes: rest.filter((entry) => !isRead(entry)).length,
    creating: rest.filter(
      (entry) => !isRead(entry) && ['POST', 'PUT', 'PATCH'].includes(entry.method),
    ).length,
    pushes: requests.filter((entry) => entry.route.endsWith('.git/git-receive-pack')).length,
    argocd: argocdCalls,
    ms,
  }
}

const add = (a: Counts, b: Counts): Counts => ({
  rest: a.rest + b.rest,
  reads: a.reads + b.reads,
  writes: a.writes + b.writes,
  creating: a.creating + b.creating,
  pushes: a.pushes + b.pushes,
  argocd: a.argocd + b.argocd,
  ms: a.ms + b.ms,
})

/** `12× POST /repos/{owner}/{repo}/statuses/{sha}` lines, most frequent first. */
function byRoute(requests: readonly RequestLogEntry[]): string[] {
  const counts = new Map<string, number>()
  for (const entry of requests) counts.set(entry.route, (counts.get(entry.route) ?? 0) + 1)
  return [...counts]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([route, times]) => `      ${String(times).padStart(5)}× ${route}`)
}

/**
 * Seconds GitHub and the client make `counts` take at the least: the client's
 * ≥ 1 s between writes, 80 content-creating requests a minute and 500 an hour,
 * and `perHour` requests an hour (each limit a lower bound; the largest wins).
 */
export function impliedSeconds(counts: Counts, perHour: number): { seconds: number; by: string } {
  const windows = (amount: number, limit: number, windowSeconds: number) =>
    amount <= limit ? 0 : (Math.ceil(amount / limit) - 1) * windowSeconds
  const bounds: [string, number][] = [
    ['pacing', counts.writes],
    ['80/min', windows(counts.creating, 80, 60)],
    ['500/h', windows(counts.creating, 500, 3600)],
    [`${perHour}/h`, windows(counts.rest, perHour, 3600)],
  ]
  const [by, seconds] = bounds.reduce((max, bound) => (bound[1] > max[1] ? bound : max))
  return { seconds, by }
}

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`
}

const STEPS = ['open-child-prs', 'promote testing', 'promote production', 'merge-cleanup'] as const
type Step = (typeof STEPS)[number]

interface Run {
  mode: string
  backend: Backend
  n: number
  steps: Partial<Record<Step, Counts>>
  total: Counts
  /** The step that failed and why (the run stops there; what it sent is still counted). */
  failed?: { step: Step; error: string }
}

/** Builds the fleet on fresh simulators and drives one parent through the flow. */
async function runFlow(mode: Mode, backend: Backend, n: number): Promise<Run> {
  const work = await mkdtemp(join(tmpdir(), 'fleet-bench-scale-'))
  const gh = await startGitHubSimulator({ validate: false })
  const argocd = await startArgoCdSimulator({ validate: false })
  try {
    await gh.createRepo(FULL_NAME)
    gh.setPermission(FULL_NAME, gh.adminLogin, 'admin')
    const maintainer = gh.addUser('max')
    gh.setPermission(FULL_NAME, maintainer.login, 'maintain')
    const approver = gh.addUser('april')
    gh.setPermission(FULL_NAME, approver.login, 'write')
    const url = gh.remoteUrl(FULL_NAME)
    const repoURL = `${gh.serverUrl}/${FULL_NAME}`
    argocd.resolveRevision = (revision) =>
      /^[0-9a-f]{40}$/.test(revision)
        ? revision
        : (gh.state.refSha(FULL_NAME, revision) ?? revision)
    const client = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl, writeIntervalMs: 0 })
    const options = { token: gh.adminToken, env: IDENTITY }

    // The DRY repository: one directory per environment, one shared component.
    const author = await Git.clone(url, join(work, 'author'), options)
    await writeFiles(author.dir, {
      'fleet-promote.yaml': fleetConfig(mode, backend, argocd.url),
      'components/addon/kustomization.yaml': 'resources: [configmap.yaml]\n',
      'components/addon/configmap.yaml': addon(1),
      ...Object.fromEntries(
        environmentNames(n).map((env) => [
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
    await seedWetBranches(author, environments)
    await author.run([
      'push',
      '-q',
      '--atomic',
      'origin',
      ...environments.map((env) => `refs/heads/${env.branch}`),
    ])
    const wetTips = await author.lsRemote('origin', ['refs/heads/env/*'])
    if (backend === 'argocd') {
      for (const env of environments)
        await argocd.addApplication({
          name: `${env.name}-addons`,
          repoURL,
          path: '.',
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

    const steps: Partial<Record<Step, Counts>> = {}
    let failed: Run['failed']
    const measure = async (step: Step, action: () => Promise<void>) => {
      if (failed) return
      gh.resetRequests()
      const argocdBefore = argocd.requests.length
      const started = performance.now()
      try {
        await action()
      } catch (error) {
        failed = { step, error: (error as Error).message.split('\n')[0]!.slice(0, 200) }
      }
      steps[step] = count(
        gh.requests,
        argocd.requests.length - argocdBefore,
        performance.now() - started,
      )
      process.stdout.write(
        `  ${mode.name} ${backend} N=${n} ${step}: ${JSON.stringify(steps[step])}\n`,
      )
      if (flags.endpoints) process.stdout.write(`${byRoute(gh.requests).join('\n')}\n`)
    }

    const workspace = await Git.clone(url, join(work, 'workspace'), options)
    await workspace.run(['fetch', '-q', 'origin', `+refs/pull/${parent}/merge:refs/remotes/merge`])
    const drySha = await workspace.revParse('refs/remotes/merge')
    const renderedDir = join(work, 'rendered')
    const hydration = await writeHydration(
      renderedDir,
      drySha,
      environments.map((env) => ({
        name: env.name,
        stage: env.stage,
        branch: env.branch,
        baseSha: wetTips.get(`refs/heads/${env.branch}`) ?? '',
        files: { 'manifest.yaml': addon(2) },
        changes: [configMapChange('addon', '1', '2')],
      })),
    )
    await measure('open-child-prs', async () => {
      const result = await openChildPrs({
        client,
        git: workspace,
        remote: url,
        repo: REPO,
        parent,
        hydration,
        renderedDir,
        stages: config.stages.map((stage) => ({
          name: stage.name,
          autoPromote: stage.autoPromote,
        })),
        promoteCommand: config.promote.command,
      })
      if (result.stale) throw new Error(`open-child-prs: ${result.reason}`)
    })

    const settings = {
      client,
      repo: REPO,
      configFile: 'fleet-promote.yaml',
      locks: { git: await Git.init(join(work, 'locks'), { ...options, bare: true }), remote: url },
      serverUrl: gh.serverUrl,
      runUrl: `${gh.serverUrl}/${FULL_NAME}/actions/runs/1`,
      argocd: (server: string) =>
        createArgoCdClient({ server, token: argocd.token, retries: 1, retryDelayMs: 10 }),
      argocdPollMs: 5,
      aggregate: true,
      log: () => undefined,
    }
    const command = async (body: string) => {
      const { id, event } = gh.comment(FULL_NAME, parent, { user: maintainer.login, body })
      const user = (event.comment as { user: { type: string } }).user
      const trigger: Trigger = {
        kind: 'comment',
        pr: parent,
        commentId: id,
        body,
        actor: { login: maintainer.login, type: user.type },
      }
      const result = await promote(settings, trigger)
      if (result.decision !== 'deployed')
        throw new Error(`${body}: ${result.decision}: ${result.reason}`)
    }
    const stageNames = config.stages.map((stage) => stage.name)
    await measure('promote testing', async () => {
      // With 3 stages, the middle one is promoted here too: "testing" is every stage before the last.
      for (const stage of stageNames.slice(0, -1)) await command(`.promote ${stage}`)
    })
    const head = gh.state.pull(FULL_NAME, parent).headSha
    gh.review(FULL_NAME, parent, { user: approver.login, state: 'APPROVED', commitId: head })
    await measure('promote production', () => command(`.promote ${stageNames.at(-1)}`))

    await gh.mergePullRequestAsUser(FULL_NAME, parent, maintainer.login)
    const main = await Git.clone(url, join(work, 'main'), options)
    await measure('merge-cleanup', async () => {
      const result = await mergeCleanup({
        client,
        git: main,
        remote: url,
        repo: REPO,
        parent,
        serverUrl: gh.serverUrl,
        argocd: (server) => createArgoCdClient({ server, token: argocd.token, retries: 0 }),
        argocdServer: argocd.url,
      })
      const unfinished = result.environments.filter((env) => env.action !== 'merged')
      if (unfinished.length > 0)
        throw new Error(`merge-cleanup left ${unfinished.length}: ${JSON.stringify(unfinished[0])}`)
    })
    const total = STEPS.flatMap((step) => steps[step] ?? []).reduce(add)
    return { mode: mode.name, backend, n, steps, total, ...(failed ? { failed } : {}) }
  } finally {
    await gh.stop()
    await argocd.stop()
    await rm(work, { recursive: true, force: true })
  }
}

/** `a·N + b` through the smallest and largest sizes, when they are exactly linear. */
function linearFit(runs: readonly Run[], pick: (run: Run) => number): string {
  if (runs.length < 2) return ''
  const [first, last] = [runs[0]!, runs.at(-1)!]
  const slope = (pick(last) - pick(first)) / (last.n - first.n)
  const intercept = pick(first) - slope * first.n
  const fits = runs.every((run) => Math.abs(slope * run.n + intercept - pick(run)) < 0.5)
  const text = `${Number(slope.toFixed(2))}N ${intercept < 0 ? '−' : '+'} ${Math.abs(Number(intercept.toFixed(1)))}`
  return fits ? text : `≈ ${text}`
}

const runs: Run[] = []
const started = performance.now()

function section(): string {
  const stepRows = runs.flatMap((run) =>
    [...STEPS, 'whole flow'].flatMap((step) => {
      const c = step === 'whole flow' ? run.total : run.steps[step as Step]
      if (!c)
        return [
          `| ${run.mode} | ${run.backend} | ${run.n} | ${step} | not reached |  |  |  |  |  |  |  |  |`,
        ]
      const token = impliedSeconds(c, 1000)
      const app = impliedSeconds(c, 5000)
      const label =
        step === 'whole flow'
          ? `**whole flow${run.failed ? ', until the failure' : ''}**`
          : run.failed?.step === step
            ? `${step} — **failed**: ${run.failed.error.replaceAll('|', '\\|')}`
            : step
      return `| ${run.mode} | ${run.backend} | ${run.n} | ${label} | ${c.rest} | ${c.reads} | ${c.writes} | ${c.creating} | ${c.pushes} | ${c.argocd} | ${duration(token.seconds)} (${token.by}) | ${duration(app.seconds)} (${app.by}) | ${(c.ms / 1000).toFixed(1)} s |`
    }),
  )
  const fits = modes.flatMap((mode) =>
    BACKENDS.flatMap((backend) => {
      const group = runs.filter(
        (run) => run.mode === mode.name && run.backend === backend && !run.failed,
      )
      if (group.length < 2) return []
      const fit = (pick: (run: Run) => number) => linearFit(group, pick)
      return [
        `- ${mode.name}, ${backend}, whole flow (N = ${group.map((run) => run.n).join(', ')}): REST ${fit((r) => r.total.rest)}, content-creating ${fit((r) => r.total.creating)}, writes ${fit((r) => r.total.writes)}, pushes ${fit((r) => r.total.pushes)}.`,
      ]
    }),
  )
  return [
    `## ${SECTION}`,
    '',
    `One parent PR changing a component every environment uses, N environments in ${STAGE_COUNT} stages`,
    `(${stagesFor(STAGE_COUNT)
      .map((s) => `${s.name} ${Math.round(s.share * 100)} %`)
      .join(', ')}), the last stage needing one approval;`,
    "the flow run with the actions' cores (open-child-prs, `.promote` of every stage before the last, `.promote` of the",
    'last, merge-cleanup after the merge) against the GitHub and Argo CD simulators. GitHub counts: REST calls, reads',
    '(GET, GraphQL queries), writes (POST/PUT/PATCH/DELETE), content-creating (POST/PUT/PATCH), git pushes; Argo CD calls apart. Requests',
    'were sent unpaced; the time columns are the model: the largest of the client\'s ≥ 1 s between writes ("pacing"),',
    "GitHub's 80 content-creating requests a minute and 500 an hour, and 1,000 requests an hour for GITHUB_TOKEN",
    '(5,000 for an App installation), each as a lower bound for one uninterrupted run. "run" is how long the',
    'measurement itself took on this machine.',
    '',
    '| mode | backend | N | step | REST | reads | writes | content-creating | pushes | Argo CD | implied, GITHUB_TOKEN | implied, App | run |',
    '| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...stepRows,
    '',
    ...fits,
    '- Targets (issue 18, SPEC §9), per-environment mode, whole flow: ≤ 6N + 30 REST calls, ≤ 3N + 20 content-creating, ≤ 5 git pushes.',
    `- Machine: ${machine}; the benchmark ran ${((performance.now() - started) / 60000).toFixed(1)} min.`,
    `- Command: \`npm run bench -- scale${process.argv.slice(2).length > 0 ? ` ${process.argv.slice(2).join(' ')}` : ''}\`, ${new Date().toISOString().slice(0, 10)}.`,
    '',
  ].join('\n')
}

let machine = await machineLine()
// Smallest sizes first, both backends, and the section rewritten after each run: a long
// run that is stopped still leaves every finished size in BENCHMARKS.md.
for (const n of SIZES)
  for (const mode of modes)
    for (const backend of BACKENDS) {
      const run = await runFlow(mode, backend, n)
      runs.push(run)
      process.stdout.write(
        `${mode.name} ${backend} N=${n}: ${JSON.stringify(run.total)} (${(run.total.ms / 1000).toFixed(0)} s)\n`,
      )
      machine = await machineLine()
      if (!flags['no-write']) await writeBenchmarkSection(root, SECTION, section())
    }
process.stdout.write(`\n${section()}\n`)
