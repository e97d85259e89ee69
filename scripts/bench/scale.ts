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
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { RequestLogEntry } from '../../test/support/github/index.js'
import { startScaleFlow, stagesFor, type Backend } from '../../test/support/scale-flow.js'
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
  const flow = await startScaleFlow({
    n,
    stages: STAGE_COUNT,
    backend,
    environmentRule: mode.environmentRule,
    extra: mode.extra,
  })
  const { gh, argocd } = flow
  try {
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
    const command = async (stage: string) => {
      const result = await flow.promote(stage)
      if (result.decision !== 'deployed')
        throw new Error(`.promote ${stage}: ${result.decision}: ${result.reason}`)
    }

    await measure('open-child-prs', () => flow.openChildPrs())
    const stageNames = flow.config.stages.map((stage) => stage.name)
    await measure('promote testing', async () => {
      // With 3 stages, the middle one is promoted here too: "testing" is every stage before the last.
      for (const stage of stageNames.slice(0, -1)) await command(stage)
    })
    flow.approve()
    await measure('promote production', () => command(stageNames.at(-1)!))
    await flow.mergeParent()
    await measure('merge-cleanup', async () => {
      const result = await flow.mergeCleanup()
      const unfinished = result.environments.filter((env) => env.action !== 'merged')
      if (unfinished.length > 0)
        throw new Error(`merge-cleanup left ${unfinished.length}: ${JSON.stringify(unfinished[0])}`)
    })
    const total = STEPS.flatMap((step) => steps[step] ?? []).reduce(add)
    return { mode: mode.name, backend, n, steps, total, ...(failed ? { failed } : {}) }
  } finally {
    await flow.stop()
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
