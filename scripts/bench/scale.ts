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
import {
  SHARED_BRANCHES,
  startScaleFlow,
  stagesFor,
  type Backend,
} from '../../test/support/scale-flow.js'
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
const BACKENDS = (flags.backends ?? 'argocd,merge').split(',') as Backend[]
/**
 * A repository model: the `environments` rule (how directories become
 * environments with a WET branch), any further configuration, and the
 * number of stages of its fleet (`--stages` overrides it).
 */
interface Mode {
  name: string
  environmentRule: string[]
  extra: string[]
  stages: number
  /** Issue 18's targets (SPEC §9) for a run of this mode: what each bounds, the bound, and the figure. */
  targets: (run: Run) => Target[]
}

interface Target {
  what: string
  bound: number
  value: number
  /** The value must be below the bound, not at most it. */
  below?: boolean
}

const holds = (t: Target) => (t.below ? t.value < t.bound : t.value <= t.bound)

/** The step whose paced time with GITHUB_TOKEN is longest. */
function slowestStep(run: Run): { step: string; seconds: number } {
  return [...run.steps].reduce(
    (slowest, [step, counts]) => {
      const { seconds } = impliedSeconds(counts, 1000)
      return seconds > slowest.seconds ? { step, seconds } : slowest
    },
    { step: '', seconds: 0 },
  )
}

const MODES: Mode[] = [
  {
    name: 'per-environment',
    environmentRule: ['  - glob: clusters/*', '    name: "{1}"', '    branch: "env/{name}"'],
    extra: [],
    stages: 2,
    targets: (run) => [
      { what: 'REST (6N + 30)', bound: 6 * run.n + 30, value: run.total.rest },
      { what: 'content-creating (3N + 20)', bound: 3 * run.n + 20, value: run.total.creating },
      { what: 'pushes', bound: 5, value: run.total.pushes },
    ],
  },
  {
    // One WET branch per stage, a folder per environment: one child PR per stage.
    name: 'shared-branch',
    ...SHARED_BRANCHES,
    stages: 3,
    // Stated for N = 500 in 3 stages; smaller fleets must meet them too.
    targets: (run) => [
      { what: 'REST', bound: 100, value: run.total.rest },
      { what: 'content-creating', bound: 60, value: run.total.creating },
      {
        what: `paced seconds of the slowest step (${slowestStep(run).step})`,
        bound: 120,
        value: slowestStep(run).seconds,
        below: true,
      },
    ],
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

/** The steps of a fleet with these stages: one `.promote` each, the last after the approval. */
const stepsOf = (stages: readonly string[]) => [
  'open-child-prs',
  ...stages.map((stage) => `promote ${stage}`),
  'merge-cleanup',
]

interface Run {
  mode: string
  backend: Backend
  n: number
  stages: number
  /** Every step of the flow in order, and the counts of those that ran. */
  stepNames: string[]
  steps: Map<string, Counts>
  total: Counts
  /** The step that failed and why (the run stops there; what it sent is still counted). */
  failed?: { step: string; error: string }
}

const stageCount = (mode: Mode) => (flags.stages ? Number(flags.stages) : mode.stages)

/** Builds the fleet on fresh simulators and drives one parent through the flow. */
async function runFlow(mode: Mode, backend: Backend, n: number): Promise<Run> {
  const flow = await startScaleFlow({
    n,
    stages: stageCount(mode),
    backend,
    environmentRule: mode.environmentRule,
    extra: mode.extra,
  })
  const { gh, argocd } = flow
  try {
    const steps = new Map<string, Counts>()
    let failed: Run['failed']
    const measure = async (step: string, action: () => Promise<void>) => {
      if (failed) return
      gh.resetRequests()
      const argocdBefore = argocd.requests.length
      const started = performance.now()
      try {
        await action()
      } catch (error) {
        failed = { step, error: (error as Error).message.split('\n')[0]!.slice(0, 200) }
      }
      const counts = count(
        gh.requests,
        argocd.requests.length - argocdBefore,
        performance.now() - started,
      )
      steps.set(step, counts)
      process.stdout.write(`  ${mode.name} ${backend} N=${n} ${step}: ${JSON.stringify(counts)}\n`)
      if (flags.endpoints) process.stdout.write(`${byRoute(gh.requests).join('\n')}\n`)
    }
    const command = async (stage: string) => {
      const result = await flow.promote(stage)
      if (result.decision !== 'deployed')
        throw new Error(`.promote ${stage}: ${result.decision}: ${result.reason}`)
    }

    await measure('open-child-prs', () => flow.openChildPrs())
    const stageNames = flow.config.stages.map((stage) => stage.name)
    for (const stage of stageNames) {
      if (stage === stageNames.at(-1)) flow.approve()
      await measure(`promote ${stage}`, () => command(stage))
    }
    await flow.mergeParent()
    await measure('merge-cleanup', async () => {
      const result = await flow.mergeCleanup()
      const unfinished = result.environments.filter((env) => env.action !== 'merged')
      if (unfinished.length > 0)
        throw new Error(`merge-cleanup left ${unfinished.length}: ${JSON.stringify(unfinished[0])}`)
    })
    const total = [...steps.values()].reduce(add)
    return {
      mode: mode.name,
      backend,
      n,
      stages: stageNames.length,
      stepNames: stepsOf(stageNames),
      steps,
      total,
      ...(failed ? { failed } : {}),
    }
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

/** "3 stages (testing 10 %, …), `branch: env/{stage}`, `path: {name}`; deploy.deployments: per-stage" */
function fleetOf(mode: Mode): string {
  const stages = stagesFor(stageCount(mode))
    .map((stage) => `${stage.name} ${Math.round(stage.share * 100)} %`)
    .join(', ')
  const rule = mode.environmentRule
    .map((line) => line.trim().replace(/^- /, ''))
    .filter((line) => /^(branch|path):/.test(line))
  const extra = mode.extra.map((line) => line.trim())
  return [`${stageCount(mode)} stages (${stages})`, ...rule, ...extra]
    .map((part, i) => (i === 0 ? part : `\`${part}\``))
    .join(', ')
}

const runs: Run[] = []
const started = performance.now()

function section(): string {
  const stepRows = runs.flatMap((run) =>
    [...run.stepNames, 'whole flow'].flatMap((step) => {
      const c = step === 'whole flow' ? run.total : run.steps.get(step)
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
    'One parent PR changing a component every environment uses, N environments in stages, the last needing one approval:',
    ...modes.map((mode) => `- ${mode.name}: ${fleetOf(mode)}.`),
    '',
    "The flow run with the actions' cores (open-child-prs, `.promote` of each stage in order, merge-cleanup after",
    'the merge) against the GitHub and Argo CD simulators. GitHub counts: REST calls, reads',
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
    '- Targets (issue 18, SPEC §9), whole flow: per-environment ≤ 6N + 30 REST calls, ≤ 3N + 20 content-creating, ≤ 5 git pushes;',
    '  shared-branch (N = 500, 3 stages) ≤ 100 REST calls, ≤ 60 content-creating, every step under 2 minutes paced (GITHUB_TOKEN):',
    ...runs.map((run) => {
      const mode = MODES.find((candidate) => candidate.name === run.mode)!
      const checks = mode
        .targets(run)
        .map(
          (t) =>
            `${t.what} ${t.value} ${t.below ? '<' : '≤'} ${t.bound} ${holds(t) ? 'holds' : '**exceeded**'}`,
        )
      return `  - ${run.mode}, ${run.backend}, N = ${run.n}${run.failed ? ' (failed)' : ''}: ${checks.join('; ')}.`
    }),
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
