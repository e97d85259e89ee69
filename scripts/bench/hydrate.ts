// Benchmark: hydrate 100 environments sharing 10 charts from a chart
// repository on 127.0.0.1, against the naive way (sequential
// `kustomize build --enable-helm` per environment, each pulling its chart
// afresh), in one run on the same machine. Writes the `## hydrate` section of
// BENCHMARKS.md.
//   npx tsx scripts/bench/hydrate.ts [--envs 100] [--charts 10] [--no-write]
import { writeBenchmarkSection } from './lib/benchmarks-md.js'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { delimiter, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { defaultConfig } from '../../actions/lib/config/config.js'
import { Git } from '../../actions/lib/git/git.js'
import { runChecked, runProcess } from '../../actions/lib/process.js'
import { hydrate } from '../../actions/lib/render/hydrate.js'
import { parseObjects } from '../../actions/lib/render/objects.js'
import { findOnPath, kustomizeArgs, sealedToolEnv } from '../../actions/lib/render/tools.js'
import { startChartRepo } from '../../test/support/chart-repo.js'

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)))
const { values: flags } = parseArgs({
  options: {
    envs: { type: 'string' },
    charts: { type: 'string' },
    'no-write': { type: 'boolean' },
  },
})
const ENVS = Number(flags.envs ?? 100)
const CHARTS = Number(flags.charts ?? 10)

// The pinned kustomize and helm, as the tests use them.
const toolPath = (
  await runChecked('bash', [join(root, 'scripts/install-tools.sh'), '--path'], { cwd: root })
).stdout.trim()
process.env.PATH = `${toolPath}${delimiter}${process.env.PATH ?? ''}`

/** A chart with a few templates, closer to a real add-on than a single ConfigMap. */
function chartFiles(name: string): Record<string, string> {
  const meta = (kind: string, apiVersion: string) =>
    `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: {{ .Release.Name }}-${name}\n  labels:\n    app.kubernetes.io/name: ${name}\n    color: {{ .Values.color | quote }}\n`
  return {
    'templates/serviceaccount.yaml': meta('ServiceAccount', 'v1'),
    'templates/service.yaml': `${meta('Service', 'v1')}spec:\n  selector:\n    app.kubernetes.io/name: ${name}\n  ports:\n    - port: 80\n`,
    'templates/deployment.yaml': `${meta('Deployment', 'apps/v1')}spec:\n  replicas: {{ .Values.replicas }}\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: ${name}\n  template:\n    metadata:\n      labels:\n        app.kubernetes.io/name: ${name}\n    spec:\n      serviceAccountName: {{ .Release.Name }}-${name}\n      containers:\n        - name: app\n          image: "example.com/${name}:{{ .Chart.AppVersion }}"\n          {{- with .Values.resources }}\n          resources: {{- toYaml . | nindent 12 }}\n          {{- end }}\n`,
  }
}

const chartNames = Array.from({ length: CHARTS }, (_, i) => `addon-${String(i).padStart(2, '0')}`)
const chartRepo = await startChartRepo(
  chartNames.map((name) => ({ name, version: '1.0.0', files: chartFiles(name) })),
)
const work = await mkdtemp(join(tmpdir(), 'fleet-promote-bench-hydrate-'))
try {
  const repoDir = join(work, 'repo')
  const environments = []
  for (let i = 0; i < ENVS; i++) {
    const name = `cluster-${String(i).padStart(3, '0')}`
    const dir = join(repoDir, 'clusters', name)
    await mkdir(dir, { recursive: true })
    await writeFile(
      join(dir, 'kustomization.yaml'),
      [
        'namespace: addons',
        'helmCharts:',
        `  - name: ${chartNames[i % CHARTS]}`,
        `    repo: ${chartRepo.url}`,
        '    version: 1.0.0',
        `    releaseName: ${name}`,
        '    valuesFile: values.yaml',
        'configMapGenerator:',
        '  - name: cluster-info',
        '    literals:',
        `      - cluster=${name}`,
        '',
      ].join('\n'),
    )
    await writeFile(
      join(dir, 'values.yaml'),
      `color: c${i}\nreplicas: ${1 + (i % 3)}\nresources:\n  limits: {cpu: 100m}\n`,
    )
    environments.push({ name, path: `clusters/${name}`, stage: 'testing', branch: `env/${name}` })
  }
  const git = await Git.init(repoDir, {
    env: {
      GIT_AUTHOR_NAME: 'bench',
      GIT_AUTHOR_EMAIL: 'bench@example.com',
      GIT_COMMITTER_NAME: 'bench',
      GIT_COMMITTER_EMAIL: 'bench@example.com',
    },
  })
  await git.run(['add', '-A'])
  await git.run(['-c', 'commit.gpgsign=false', 'commit', '--quiet', '-m', 'fleet'])

  const kustomize = await findOnPath('kustomize')
  const helm = await findOnPath('helm')
  const env = await sealedToolEnv(join(work, 'naive-tools'))

  // The process floor: one kustomize build of a trivial kustomization.
  const floorDir = join(work, 'floor')
  await mkdir(floorDir)
  await writeFile(
    join(floorDir, 'kustomization.yaml'),
    'configMapGenerator:\n  - name: x\n    literals: [a=b]\n',
  )
  const floorRuns: number[] = []
  for (let i = 0; i < 10; i++) {
    const start = performance.now()
    await runChecked(kustomize, kustomizeArgs(floorDir, undefined), { env })
    floorRuns.push(performance.now() - start)
  }
  const floorMs = floorRuns.sort((a, b) => a - b)[5] as number

  const loadBefore = loadavg()[0] ?? 0
  // Ours.
  const settings = defaultConfig().hydrate
  settings.helm.allowedRepos = [chartRepo.url]
  const parallelism = availableParallelism()
  const oursDownloadsBefore = chartRepo.totalDownloads()
  const oursStart = performance.now()
  const { result, stats } = await hydrate({
    repoDir,
    environments,
    outputDir: join(work, 'out'),
    settings,
    parallelism,
  })
  const oursMs = performance.now() - oursStart
  const oursDownloads = chartRepo.totalDownloads() - oursDownloadsBefore
  const failed = result.environments.filter((e) => e.status !== 'rendered')
  if (failed.length > 0)
    throw new Error(`ours: ${failed.length} environments not rendered: ${failed[0]?.reason}`)
  const peakRssMb = process.resourceUsage().maxRSS / 1024
  const meanRenderMs = result.environments.reduce((sum, e) => sum + e.durationMs, 0) / ENVS

  // Naive: sequential kustomize build --enable-helm per environment, each in a fresh copy, so each pulls its chart.
  const naiveDownloadsBefore = chartRepo.totalDownloads()
  const naiveStart = performance.now()
  let identical = 0
  for (const e of environments) {
    const copy = join(work, 'naive', e.name)
    await cp(join(repoDir, e.path), copy, { recursive: true })
    const run = await runProcess(kustomize, kustomizeArgs(copy, helm), { env, timeoutMs: 120_000 })
    if (run.code !== 0) throw new Error(`naive ${e.name}: ${run.stderr}`)
    const ours = await readFile(join(work, 'out', e.name, 'manifest.yaml'), 'utf8')
    const naive = parseObjects(run.stdout, e.name)
      .map((o) => o.yaml)
      .join('---\n')
    if (naive === ours) identical++
    await rm(copy, { recursive: true, force: true })
  }
  const naiveMs = performance.now() - naiveStart
  const naiveDownloads = chartRepo.totalDownloads() - naiveDownloadsBefore
  if (identical !== ENVS)
    throw new Error(`only ${identical}/${ENVS} renders match the naive output`)

  const loadAfter = loadavg()[0] ?? 0
  const ratio = naiveMs / oursMs
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU'
  const versions = stats.tools
  const section = [
    '## hydrate',
    '',
    `${ENVS} environments, each one Helm chart (${CHARTS} distinct charts, 3 templates each, from a chart`,
    'repository on 127.0.0.1) with a per-environment values file and a configMapGenerator.',
    '',
    '| | fleet-promote hydrate | naive (sequential, fresh pull each) |',
    '| --- | --- | --- |',
    `| wall time | ${(oursMs / 1000).toFixed(2)} s | ${(naiveMs / 1000).toFixed(2)} s |`,
    `| chart downloads | ${oursDownloads} | ${naiveDownloads} |`,
    `| per environment (wall / ${ENVS}) | ${(oursMs / ENVS).toFixed(1)} ms | ${(naiveMs / ENVS).toFixed(1)} ms |`,
    `| per environment over the ${floorMs.toFixed(0)} ms kustomize process floor | ${(meanRenderMs - floorMs).toFixed(1)} ms (mean render ${meanRenderMs.toFixed(1)} ms, ${parallelism} in parallel) | ${(naiveMs / ENVS - floorMs).toFixed(1)} ms |`,
    '',
    `- Speed-up: **${ratio.toFixed(2)}×** (target ≥ 1.6× on 2 cores); outputs identical for ${identical}/${ENVS} environments.`,
    `- Peak RSS of the hydrate process (node, \`process.resourceUsage().maxRSS\`): **${peakRssMb.toFixed(0)} MB** (target < 300 MB).`,
    '- Where the difference comes from: one `helm pull` per chart version instead of per environment;',
    "  kustomize's `helm version` call answered by the run's helm shim instead of a Go process start;",
    `  ${parallelism} kustomize processes at a time. A 1-minute load above the CPU count means other jobs shared the machine.`,
    `- Render tree: ${stats.treeFiles} files copied once; ${stats.chartPulls} \`helm pull\`s. Phases (ms): ${JSON.stringify(stats.phases)}.`,
    `- Machine: ${cpu}, ${cpus().length} CPUs (parallelism ${parallelism}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, 1-minute load ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)}, node ${process.version}, kustomize ${versions.kustomize}, helm ${versions.helm}.`,
    `- Command: \`npx tsx scripts/bench/hydrate.ts\` (or \`npm run bench -- hydrate\`), ${new Date().toISOString().slice(0, 10)}.`,
    '',
  ].join('\n')
  process.stdout.write(`${section}\n`)
  if (!flags['no-write']) {
    await writeBenchmarkSection(root, 'hydrate', section)
  }
} finally {
  await chartRepo.close()
  await rm(work, { recursive: true, force: true })
}
