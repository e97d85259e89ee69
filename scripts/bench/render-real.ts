// Benchmark: rendering a real fleet, redhat-appstudio/infra-deployments (a
// bare clone given with --repo), with the hydrate core as the action runs it
// (safety walk, render tree, bubblewrap sandbox, canonical objects, diff,
// output files), against plain `xargs -P2 kustomize build` of the same roots
// with the same kustomize, alternating in one run. Writes the `## render-real`
// section of BENCHMARKS.md.
//
// Roots: the kustomization directories no other one loads whose own graph has
// no problem (as impact-real), kept when a plain `kustomize build` of them
// succeeds offline (this screening pass also warms the page cache).
//
//   npm run bench -- render-real [--repo DIR] [--runs 2] [--profile DIR] [--work DIR] [--no-write]
// --profile also runs the hydrate process once under `node --cpu-prof` and
// prints where its own CPU time goes (self time by function). --work keeps the
// clone and the screened roots in DIR and reuses them on the next run.
//
// bubblewrap's outer process exits without reaping the sandbox's init, so the
// sandboxed kustomize processes never reach hydrate's waited-for CPU; where
// `perf stat` works, the CPU of each program's whole process tree is measured
// with it too (task-clock, inherited by every descendant).
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { build } from 'esbuild'
import { Git } from '../../actions/lib/git/git.js'
import { mapPool } from '../../actions/lib/render/hydrate.js'
import { findOnPath } from '../../actions/lib/render/tools.js'
import { runChecked, runProcess } from '../../actions/lib/process.js'
import { fleetSource, rootDirectories } from './lib/fleet-roots.js'
import { ACTION_BUNDLE, machineLine, median, timed, type TimeResult } from './lib/measure.js'
import { writeBenchmarkSection } from './lib/benchmarks-md.js'

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)))
const { values: flags } = parseArgs({
  options: {
    repo: { type: 'string' },
    runs: { type: 'string' },
    profile: { type: 'string' },
    work: { type: 'string' },
    'no-write': { type: 'boolean' },
  },
})
const SOURCE = fleetSource('render-real', flags.repo)
const RUNS = Number(flags.runs ?? 2)
const PARALLELISM = 2

/** The hydrate core over every root, one environment each, printing its summary as JSON. */
async function bundleHydrate(outfile: string) {
  await build({
    ...ACTION_BUNDLE,
    outfile,
    stdin: {
      resolveDir: root,
      loader: 'ts',
      contents: [
        "import { readFileSync } from 'node:fs'",
        "import { defaultConfig } from './actions/lib/config/config.js'",
        "import { hydrate } from './actions/lib/render/hydrate.js'",
        'const [repoDir, rootsFile, outputDir, parallelism] = process.argv.slice(2)',
        "const roots = readFileSync(rootsFile, 'utf8').split('\\n').filter(Boolean)",
        "const environments = roots.map((path) => ({ name: path.replaceAll('/', '--'), path, stage: 'fleet', branch: `env/${path}` }))",
        'const { result, stats } = await hydrate({ repoDir, environments, outputDir, settings: defaultConfig().hydrate, parallelism: Number(parallelism) })',
        'const failed = result.environments.filter((env) => env.status !== "rendered").map((env) => `${env.name}: ${env.status} ${env.reason ?? ""}`)',
        'const objects = result.environments.reduce((sum, env) => sum + env.resources.after, 0)',
        'const { user, system } = process.cpuUsage()',
        'process.stdout.write(JSON.stringify({ failed, objects, nodeCpuMs: (user + system) / 1000, phases: stats.phases, sandbox: stats.sandbox, treeFiles: stats.treeFiles }))',
      ].join('\n'),
    },
  })
}

/** Self CPU time by function of one `--cpu-prof` profile, the largest first. */
async function profileSummary(dir: string): Promise<string> {
  const file = (await readdir(dir)).find((name) => name.endsWith('.cpuprofile'))
  if (!file) return 'no profile written'
  const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[]
    samples: number[]
    timeDeltas: number[]
  }
  const names = new Map(
    profile.nodes.map((node) => {
      const { functionName, url, lineNumber } = node.callFrame
      const where = url.split('/').slice(-2).join('/')
      return [node.id, `${functionName || '(anonymous)'} ${where}:${lineNumber}`]
    }),
  )
  const self = new Map<string, number>()
  profile.samples.forEach((id, i) => {
    const name = names.get(id) ?? '?'
    self.set(name, (self.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0))
  })
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 20)
    .map(([name, micros]) => `${(micros / 1000).toFixed(0).padStart(7)} ms  ${name}`)
    .join('\n')
}

/** The 1-minute load average. */
async function loadAverage(): Promise<string> {
  return (await readFile('/proc/loadavg', 'utf8')).split(' ')[0] ?? '?'
}

/** Whether `perf stat` can count task-clock here (perf_event_paranoid, containers). */
async function perfWorks(): Promise<boolean> {
  const run = await runProcess('perf', [
    'stat',
    '-x,',
    '-e',
    'task-clock',
    '-o',
    '/dev/null',
    '--',
    'true',
  ]).catch(() => undefined)
  return run?.code === 0
}

/** timed(), plus the CPU of the whole process tree from `perf stat` when it works. */
async function timedTree(
  perf: boolean,
  command: string,
  args: string[],
  cwd: string,
  scratch: string,
): Promise<TimeResult & { treeCpuMs?: number }> {
  if (!perf) return timed(command, args, cwd)
  const counts = join(scratch, 'perf.csv')
  const result = await timed(
    'perf',
    ['stat', '-x,', '-e', 'task-clock', '-o', counts, '--', command, ...args],
    cwd,
  )
  const line = (await readFile(counts, 'utf8'))
    .split('\n')
    .find((row) => row.includes('task-clock'))
  return { ...result, treeCpuMs: Number(line?.split(',')[0]) }
}

const keep = flags.work !== undefined
const work = keep
  ? resolve(flags.work as string)
  : await mkdtemp(join(tmpdir(), 'fleet-bench-render-real-'))
try {
  await mkdir(work, { recursive: true })
  const fleetDir = join(work, 'fleet')
  if (!existsSync(fleetDir)) await runChecked('git', ['clone', '--quiet', '--', SOURCE, fleetDir])
  const fleet = new Git(fleetDir)
  const head = await fleet.revParse('HEAD')
  const facts = await rootDirectories(fleet, head)
  const kustomize = await findOnPath('kustomize')

  const rootsFile = join(work, 'roots.txt')
  let roots: string[]
  if (keep && existsSync(rootsFile)) {
    roots = (await readFile(rootsFile, 'utf8')).split('\n').filter(Boolean)
  } else {
    const screened = await mapPool(facts.roots, PARALLELISM, async (dir) => {
      const run = await runProcess(kustomize, ['build', dir], { cwd: fleetDir })
      return run.code === 0 ? dir : undefined
    })
    roots = screened.filter((dir): dir is string => dir !== undefined)
    await writeFile(rootsFile, `${roots.join('\n')}\n`)
  }

  const program = join(work, 'hydrate.mjs')
  await bundleHydrate(program)
  const outputDir = join(work, 'out')
  const hydrateArgs = [program, fleetDir, rootsFile, outputDir, String(PARALLELISM)]
  const xargs = `xargs -P${PARALLELISM} -n1 -a ${rootsFile} ${kustomize} build > /dev/null`
  const perf = await perfWorks()
  const loadBefore = await loadAverage()
  const runs = {
    baseline: [] as (TimeResult & { treeCpuMs?: number })[],
    hydrate: [] as (TimeResult & { treeCpuMs?: number })[],
  }
  for (let run = 0; run < RUNS; run++) {
    // Alternating, so neither always runs first in a round.
    for (const name of run % 2 === 0 ? ['baseline', 'hydrate'] : ['hydrate', 'baseline']) {
      await rm(outputDir, { recursive: true, force: true })
      if (name === 'baseline')
        runs.baseline.push(await timedTree(perf, 'sh', ['-c', xargs], fleetDir, work))
      else runs.hydrate.push(await timedTree(perf, process.execPath, hydrateArgs, root, work))
    }
  }
  type Summary = {
    failed: string[]
    objects: number
    nodeCpuMs: number
    phases: Record<string, number>
    sandbox: string
    treeFiles: number
  }
  const summaries = runs.hydrate.map((run) => JSON.parse(run.stdout) as Summary)
  const summary = summaries[0]!
  if (summary.failed.length > 0)
    throw new Error(`hydrate did not render every root:\n${summary.failed.join('\n')}`)

  if (flags.profile !== undefined) {
    const profileDir = resolve(flags.profile)
    await rm(outputDir, { recursive: true, force: true })
    await timed(
      process.execPath,
      ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, ...hydrateArgs],
      root,
    )
    process.stdout.write(`\nhydrate self time by function:\n${await profileSummary(profileDir)}\n`)
  }

  const wall = (name: keyof typeof runs) => median(runs[name].map((r) => r.wallMs))
  const cpu = (name: keyof typeof runs) => median(runs[name].map((r) => r.cpuMs))
  const treeCpu = (name: keyof typeof runs) =>
    perf ? median(runs[name].map((r) => r.treeCpuMs ?? NaN)) : NaN
  const seconds = (ms: number) => (Number.isNaN(ms) ? 'n/a' : `${(ms / 1000).toFixed(1)} s`)
  const ratio = wall('hydrate') / wall('baseline')
  const cpuRatio = treeCpu('hydrate') / treeCpu('baseline')
  const perEnv = (ms: number) => `${(ms / roots.length).toFixed(1)} ms`
  const nodeCpu = median(summaries.map((one) => one.nodeCpuMs))
  const fleetHead = (
    await runChecked('git', ['log', '-1', '--format=%h %cs', head], { cwd: fleetDir })
  ).stdout.trim()
  const version = (await runChecked(kustomize, ['version'])).stdout.trim()
  const rss = (name: keyof typeof runs) =>
    `${Math.max(...runs[name].map((r) => r.maxRssMb)).toFixed(0)} MiB`
  const row = (name: keyof typeof runs, what: string) =>
    `| ${name} | ${what} | ${seconds(wall(name))} | ${seconds(treeCpu(name))} | ${seconds(cpu(name))} | ${rss(name)} |`
  const loadAfter = await loadAverage()
  const section = [
    '## render-real',
    '',
    `redhat-appstudio/infra-deployments at ${fleetHead}: of ${facts.kustomizations} kustomizations, ${facts.unreferenced} are loaded by no other one,`,
    `${facts.roots.length} of those have a problem-free graph, and the ${roots.length} that a plain \`kustomize build\` renders offline are the roots`,
    `(${summary.objects} objects in all). Both programs render every root with ${PARALLELISM} processes at a time; median of ${RUNS} alternating runs (the slower middle one when even).`,
    '"Tree CPU" is the user + system time of the program and every process below it, sandboxed ones included',
    '(`perf stat -e task-clock`, which every descendant inherits); "waited CPU" is what `/usr/bin/time -v` sees, the',
    "process and the children it waited for: bubblewrap does not reap the sandbox's processes into it, so for hydrate",
    "that is node's own CPU only.",
    '',
    '| program | what runs | wall | tree CPU | waited CPU | peak RSS |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
    row('baseline', `\`xargs -P${PARALLELISM} -n1 kustomize build\`, output discarded`),
    row('hydrate', 'the hydrate core (bundled, a fresh `node`), default settings, sandbox on'),
    '',
    `- Ratio: **${ratio.toFixed(2)}×** the baseline's wall (target ≤ 1.25×, issue 11), ${cpuRatio.toFixed(2)}× its tree CPU;`,
    `  ${perEnv(wall('hydrate') - wall('baseline'))} of wall and ${perEnv(treeCpu('hydrate') - treeCpu('baseline'))} of CPU per environment on top of kustomize, of which`,
    `  node's own (\`process.cpuUsage()\`: safety walk, render tree, process starts, parsing, diffs, output files) is ${perEnv(nodeCpu)}.`,
    `- Load: 1-minute load average ${loadBefore} before the first run, ${loadAfter} after the last (${cpus().length} CPUs). Above the CPU count`,
    '  other jobs shared the machine: both walls are inflated and the wall ratio moves towards the CPU ratio.',
    `- Runs (wall, s): baseline ${runs.baseline.map((r) => (r.wallMs / 1000).toFixed(1)).join(', ')}; hydrate ${runs.hydrate.map((r) => (r.wallMs / 1000).toFixed(1)).join(', ')}.`,
    `- Isolation: ${summary.sandbox}. Render tree: ${summary.treeFiles} files. Phases of the first hydrate run (ms): ${JSON.stringify(summary.phases)}.`,
    `- Machine: ${await machineLine()}, ${version}.`,
    `- Command: \`npm run bench -- render-real\` (\`--repo\` defaults to ${SOURCE}; the pinned kustomize and helm on PATH), ${new Date().toISOString().slice(0, 10)}.`,
    '',
  ].join('\n')
  process.stdout.write(`\n${section}\n`)
  process.stdout.write(
    `render-real: baseline ${seconds(wall('baseline'))} wall / ${seconds(treeCpu('baseline'))} CPU; hydrate ${seconds(wall('hydrate'))} wall / ${seconds(treeCpu('hydrate'))} CPU (node ${seconds(nodeCpu)} + children ${seconds(treeCpu('hydrate') - nodeCpu)}); ratio ${ratio.toFixed(2)}× wall, ${cpuRatio.toFixed(2)}× CPU; load ${loadBefore} → ${loadAfter}\n`,
  )
  if (!flags['no-write']) await writeBenchmarkSection(root, 'render-real', section)
} finally {
  if (!keep) await rm(work, { recursive: true, force: true })
}
