// Benchmark: detect-impact on generated fleets (N clusters × 40 components,
// ~41 files per cluster: 500 clusters ≈ 20k files) for a 10-file change, as
// the CLI a user runs (`fleet-promote impact`, bundled, cold process), with
// wall time and peak RSS from /usr/bin/time; scaling from 50 to 2,000
// clusters; and the brute-force alternative (render every environment at
// base and head with kustomize, then diff). Writes the `## impact` section
// of BENCHMARKS.md.
//   npx tsx scripts/bench/impact.ts [--sizes 50,200,500,1000,2000] [--runs 5] [--sample 20] [--no-write]
import { writeBenchmarkSection } from './lib/benchmarks-md.js'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os'
import { delimiter, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { build } from 'esbuild'
import { runChecked, runProcess } from '../../actions/lib/process.js'
import { median, timed as timedIn, type TimeResult } from './lib/measure.js'
import {
  createTempRepo,
  generateFleet,
  renderAt,
  type FileChanges,
} from '../../test/support/fleet-gen.js'

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)))
const { values: flags } = parseArgs({
  options: {
    sizes: { type: 'string' },
    runs: { type: 'string' },
    sample: { type: 'string' },
    'no-write': { type: 'boolean' },
  },
})
const SIZES = (flags.sizes ?? '50,200,500,1000,2000').split(',').map(Number)
const RUNS = Number(flags.runs ?? 5)
const SAMPLE = Number(flags.sample ?? 20)
const COMPONENTS = 40
const REFERENCE_SIZE = 500

const toolPath = (
  await runChecked('bash', [join(root, 'scripts/install-tools.sh'), '--path'], { cwd: root })
).stdout.trim()
process.env.PATH = `${toolPath}${delimiter}${process.env.PATH ?? ''}`

/** The 10-file change: 3 component files, 5 cluster patches, a README and a new file. */
function tenFileChange(clusters: number): FileChanges {
  const change: FileChanges = {
    'components/addon-001/config/settings.properties': 'component=addon-001\nreplicas=2\n',
    'components/addon-017/deployment.yaml':
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: addon-017\nspec:\n  replicas: 2\n',
    'components/addon-033/config/settings.properties': 'component=addon-033\nreplicas=3\n',
    'components/addon-005/README.md': '# addon-005\n\nChanged docs.\n',
    'docs/new-runbook.md': '# Runbook\n',
  }
  for (let i = 0; i < 5; i++) {
    const k = Math.floor((i * clusters) / 5)
    const group = `group-${String(k % 10).padStart(2, '0')}`
    const cluster = `cluster-${String(k).padStart(4, '0')}`
    change[
      `clusters/${group}/${cluster}/patches/addon-${String(k % COMPONENTS).padStart(3, '0')}.yaml`
    ] =
      `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: addon-${String(k % COMPONENTS).padStart(3, '0')}\nspec:\n  replicas: 5\n`
  }
  return change
}

const timed = (command: string, args: string[]) => timedIn(command, args, root)

const work = await mkdtemp(join(tmpdir(), 'fleet-bench-impact-'))
try {
  // Bundled like the action and the CLI: a fresh node process per detection. `detect.mjs`
  // holds only the detection (what the action runs); `cli.mjs` is the whole CLI.
  const banner = {
    js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  }
  const common = {
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    banner,
  } as const
  const cli = join(work, 'cli.mjs')
  await build({ ...common, entryPoints: [join(root, 'actions/lib/cli/main.ts')], outfile: cli })
  const detect = join(work, 'detect.mjs')
  await build({
    ...common,
    outfile: detect,
    stdin: {
      resolveDir: root,
      loader: 'ts',
      contents: [
        "import { Git } from './actions/lib/git/git.js'",
        "import { detectImpact } from './actions/lib/kustomize/impact.js'",
        'const [repo, base, head] = process.argv.slice(2)',
        'const result = await detectImpact({ git: new Git(repo), base, head })',
        'process.stdout.write(JSON.stringify({ count: result.count, timings: result.timings }))',
      ].join('\n'),
    },
  })

  interface Row {
    clusters: number
    files: number
    impacted: number
    wallMs: number
    cpuMs: number
    rssMb: number
    cliMs: number
    cliCpuMs: number
    cliRssMb: number
    phases: Record<string, number>
  }
  const rows: Row[] = []
  let brute:
    { measuredEnvs: number; renderWallMs: number; perEnvMs: number; fullMs?: number } | undefined
  let referenceMs = NaN

  for (const clusters of SIZES) {
    const repo = await createTempRepo('fleet-bench-repo-')
    try {
      const fleet = generateFleet({ clusters, components: COMPONENTS })
      const base = await repo.commit(fleet, 'fleet')
      const head = await repo.commit(tenFileChange(clusters), '10-file change')
      const files = Object.keys(fleet).length

      const runs: TimeResult[] = []
      const cliRuns: TimeResult[] = []
      for (let i = 0; i < RUNS; i++) {
        runs.push(await timed(process.execPath, [detect, repo.dir, base, head]))
        cliRuns.push(
          await timed(process.execPath, [
            cli,
            'impact',
            '--repo',
            repo.dir,
            '--base',
            base,
            '--head',
            head,
          ]),
        )
      }
      const out = JSON.parse(runs[0]!.stdout) as { count: number; timings: Record<string, number> }
      const impacted = (JSON.parse(cliRuns[0]!.stdout) as { count: number }).count
      if (impacted !== out.count)
        throw new Error(`CLI found ${impacted} environments, the detection ${out.count}`)
      const row: Row = {
        clusters,
        files,
        impacted,
        wallMs: median(runs.map((r) => r.wallMs)),
        cpuMs: median(runs.map((r) => r.cpuMs)),
        rssMb: Math.max(...runs.map((r) => r.maxRssMb)),
        cliMs: median(cliRuns.map((r) => r.wallMs)),
        cliCpuMs: median(cliRuns.map((r) => r.cpuMs)),
        cliRssMb: Math.max(...cliRuns.map((r) => r.maxRssMb)),
        phases: out.timings,
      }
      rows.push(row)
      if (clusters === REFERENCE_SIZE) referenceMs = row.wallMs
      process.stdout.write(`${JSON.stringify(row)}\n`)

      if (clusters === REFERENCE_SIZE) {
        // Brute force: render a sample of environments (all cores busy), extrapolate to
        // every environment at both revisions; the diff itself is negligible next to it.
        const envs = Array.from({ length: Math.min(SAMPLE, clusters) }, (_, i) => {
          const k = Math.floor((i * clusters) / Math.min(SAMPLE, clusters))
          return `clusters/group-${String(k % 10).padStart(2, '0')}/cluster-${String(k).padStart(4, '0')}`
        })
        const started = performance.now()
        const outputs = await renderAt(repo.git, base, envs, availableParallelism())
        const renderWallMs = performance.now() - started
        const failed = [...outputs.values()].filter((out) => out.startsWith('error:'))
        if (failed.length > 0) throw new Error(`brute-force render failed: ${failed[0]}`)
        brute = { measuredEnvs: envs.length, renderWallMs, perEnvMs: renderWallMs / envs.length }
        process.stdout.write(`brute force sample: ${JSON.stringify(brute)}\n`)
      }
    } finally {
      await repo.cleanup()
    }
  }

  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  const kustomizeVersion = (await runProcess('kustomize', ['version'])).stdout.trim()
  const bruteFullMs = brute ? 2 * REFERENCE_SIZE * brute.perEnvMs : NaN
  const loadAverage = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')
  const section = [
    '## impact',
    '',
    `Generated fleets of N clusters × ${COMPONENTS} components (every cluster uses every component through`,
    '`resources:`, a shared `components:` entry and one patch per component: ~41 files per cluster), and a',
    '10-file change (3 component files, a component README, 5 cluster patches, a new unrelated file).',
    '"detection" is a bundled script running `detectImpact()` only (what the action runs); "CLI" is the whole',
    '`fleet-promote impact` bundle (all subcommands load). Each is a fresh `node` process (start-up, module',
    `load and cold JIT included), median of ${RUNS} runs; CPU is user + system time of the process and its git`,
    'children, and peak RSS the maximum over the runs, both from `/usr/bin/time -v`.',
    '',
    '| clusters | files | impacted | detection wall | detection CPU | detection peak RSS | CLI wall | CLI CPU | CLI peak RSS |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.clusters} | ${r.files} | ${r.impacted} | ${r.wallMs.toFixed(0)} ms | ${r.cpuMs.toFixed(0)} ms | ${r.rssMb.toFixed(0)} MB | ${r.cliMs.toFixed(0)} ms | ${r.cliCpuMs.toFixed(0)} ms | ${r.cliRssMb.toFixed(0)} MB |`,
    ),
    '',
    `- Phases of one detection run (ms), by size: ${rows.map((r) => `${r.clusters}: ${JSON.stringify(r.phases)}`).join('; ')}.`,
    brute
      ? `- Brute force on the ${REFERENCE_SIZE}-cluster fleet: \`kustomize build\` of ${brute.measuredEnvs} sampled environments took ${(brute.renderWallMs / 1000).toFixed(1)} s with ${availableParallelism()} in parallel (${brute.perEnvMs.toFixed(0)} ms per environment); rendering all ${REFERENCE_SIZE} at base and head is extrapolated to **${(bruteFullMs / 1000).toFixed(0)} s**, i.e. **${(bruteFullMs / referenceMs).toFixed(0)}×** the detection wall time (extrapolated from the sample, not run in full; measured under the same load).`
      : '- Brute force: not measured (the reference size was not in --sizes).',
    `- Targets for ${REFERENCE_SIZE} clusters: < 1 s wall on 2 cores, < 300 MB RSS.`,
    `- Machine: ${cpu}, ${cpus().length} CPUs (nproc ${availableParallelism()}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}, ${kustomizeVersion ? `kustomize ${kustomizeVersion}` : 'kustomize'}. The machine was shared with other jobs (load average ${loadAverage} at the end of the run on 2 CPUs), so wall times are inflated; the CPU column is the better estimate of an idle run's wall time.`,
    `- Command: \`npx tsx scripts/bench/impact.ts\` (or \`npm run bench -- impact\`), ${new Date().toISOString().slice(0, 10)}.`,
    '',
  ].join('\n')
  process.stdout.write(`\n${section}\n`)
  if (!flags['no-write']) {
    await writeBenchmarkSection(root, 'impact', section)
  }
} finally {
  await rm(work, { recursive: true, force: true })
}
