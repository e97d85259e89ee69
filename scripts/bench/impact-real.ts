// Benchmark: detect-impact on a real fleet, redhat-appstudio/infra-deployments
// (a bare clone given with --repo), for a one-file change, with every root
// kustomization as an explicit `--env`. Measures, in one run and alternating,
// three fresh `node` processes (bundled like the action):
//   reference  reads ONE revision: lists its tree, reads every kustomization
//              blob and parses it with the `yaml` package (the floor of any
//              detection written in node, for one side);
//   baseline   detectImpact() as it was at --baseline (main before the
//              optimisation), both revisions;
//   current    detectImpact() of this checkout, both revisions;
// and fails unless baseline and current give the same answers. Writes the
// `## impact-real` section of BENCHMARKS.md.
//
// Roots: the kustomization directories that no other kustomization loads
// (resources, bases, components, generators…) at the base revision, and whose
// own dependency graph has no problem (a directory kustomize cannot build, e.g.
// a template with a missing `../base`, would make detection refuse the head).
//
//   npm run bench -- impact-real [--repo DIR] [--runs 5] [--baseline REV] [--file PATH] [--no-write]
import { writeBenchmarkSection } from './lib/benchmarks-md.js'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { build } from 'esbuild'
import { Git } from '../../actions/lib/git/git.js'
import { runChecked } from '../../actions/lib/process.js'
import { fleetSource, rootDirectories } from './lib/fleet-roots.js'
import { ACTION_BUNDLE, machineLine, median, timed, type TimeResult } from './lib/measure.js'

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)))
const { values: flags } = parseArgs({
  options: {
    repo: { type: 'string' },
    runs: { type: 'string' },
    baseline: { type: 'string' },
    file: { type: 'string' },
    'no-write': { type: 'boolean' },
  },
})
const SOURCE = fleetSource('impact-real', flags.repo)
const RUNS = Number(flags.runs ?? 5)
// main just before the optimisation (the optimisation is the next commit).
const BASELINE = flags.baseline ?? '8e80eaf215a54402e514907acd76a0a665de0e37'
// Read by 22 root directories at the measured revision.
const CHANGED =
  flags.file ?? 'components/pipeline-service/base/rbac/cluster-role/pipeline-service-sre.yaml'

/** A commit on top of `base` that appends a comment line to one file, written with plumbing only. */
async function oneFileChange(dir: string, base: string, path: string): Promise<string> {
  const git = new Git(dir, { env: { GIT_INDEX_FILE: join(dir, 'bench-index') } })
  const text = await git.showFile(base, path)
  if (text === undefined) throw new Error(`--file ${path}: not in ${base.slice(0, 12)}`)
  const blob = (
    await runChecked('git', ['hash-object', '-w', '--stdin'], {
      cwd: dir,
      input: `${text}# changed by the impact-real benchmark\n`,
    })
  ).stdout.trim()
  await git.run(['read-tree', base])
  await git.run(['update-index', '--cacheinfo', `100644,${blob},${path}`])
  const tree = (await git.run(['write-tree'])).trim()
  return (
    await git.run([
      '-c',
      'user.name=bench',
      '-c',
      'user.email=bench@invalid',
      'commit-tree',
      tree,
      '-p',
      base,
      '-m',
      `change ${path}`,
    ])
  ).trim()
}

/** Bundles a detection entry against the sources under `sourceRoot` (the layout may differ by revision). */
async function bundleDetection(sourceRoot: string, outfile: string) {
  const first = (...candidates: string[]) => {
    const found = candidates.find((path) => existsSync(join(sourceRoot, path)))
    if (!found) throw new Error(`none of ${candidates.join(', ')} in ${sourceRoot}`)
    return `./${found.replace(/\.ts$/, '.js')}`
  }
  const git = first('actions/lib/git/git.ts', 'actions/lib/git.ts')
  const impact = first('actions/lib/kustomize/impact.ts', 'actions/lib/impact.ts')
  await build({
    ...ACTION_BUNDLE,
    outfile,
    nodePaths: [join(root, 'node_modules')],
    stdin: {
      resolveDir: sourceRoot,
      loader: 'ts',
      contents: [
        "import { readFileSync } from 'node:fs'",
        `import { Git } from '${git}'`,
        `import { detectImpact } from '${impact}'`,
        'const [repo, base, head, rootsFile] = process.argv.slice(2)',
        "const environmentPatterns = readFileSync(rootsFile, 'utf8').split('\\n').filter(Boolean)",
        'const r = await detectImpact({ git: new Git(repo), base, head, environmentPatterns })',
        'const { environments, stages, count, external, reasons, warnings, timings } = r',
        'process.stdout.write(JSON.stringify({ answers: { environments, stages, count, external, reasons, warnings }, timings }))',
      ].join('\n'),
    },
  })
}

/** One revision read the plainest way: its tree, its kustomization blobs, each parsed. */
async function bundleReference(outfile: string) {
  await build({
    ...ACTION_BUNDLE,
    outfile,
    stdin: {
      resolveDir: root,
      loader: 'ts',
      contents: [
        "import { parseAllDocuments } from 'yaml'",
        "import { Git } from './actions/lib/git/git.js'",
        "import { KUSTOMIZATION_FILE_NAMES } from './actions/lib/kustomize/graph.js'",
        'const [repo, rev] = process.argv.slice(2)',
        'const git = new Git(repo)',
        'const files = await git.listBlobs(rev)',
        "const oids = [...files].filter(([path]) => KUSTOMIZATION_FILE_NAMES.includes(path.slice(path.lastIndexOf('/') + 1))).map(([, oid]) => oid)",
        'const texts = await git.readBlobs(oids)',
        'for (const text of texts.values()) parseAllDocuments(text)',
        'process.stdout.write(JSON.stringify({ files: files.size, kustomizations: oids.length, distinct: texts.size }))',
      ].join('\n'),
    },
  })
}

const work = await mkdtemp(join(tmpdir(), 'fleet-bench-impact-real-'))
try {
  const fleetDir = join(work, 'fleet.git')
  await runChecked('git', ['clone', '--bare', '--quiet', '--', SOURCE, fleetDir])
  const fleet = new Git(fleetDir)
  const base = await fleet.revParse('HEAD')
  const head = await oneFileChange(fleetDir, base, CHANGED)
  const facts = await rootDirectories(fleet, base)
  const rootsFile = join(work, 'roots.txt')
  await writeFile(rootsFile, `${facts.roots.join('\n')}\n`)

  const baselineDir = join(work, 'baseline')
  await mkdir(baselineDir)
  const archive = join(work, 'baseline.tar')
  await runChecked('git', ['archive', '--output', archive, BASELINE, 'actions'], { cwd: root })
  await runChecked('tar', ['-xf', archive, '-C', baselineDir])
  const programs = {
    reference: join(work, 'reference.mjs'),
    baseline: join(work, 'baseline.mjs'),
    current: join(work, 'current.mjs'),
  }
  await bundleReference(programs.reference)
  await bundleDetection(baselineDir, programs.baseline)
  await bundleDetection(root, programs.current)

  const argsOf = {
    node: ['-e', '0'],
    reference: [programs.reference, fleetDir, head],
    baseline: [programs.baseline, fleetDir, base, head, rootsFile],
    current: [programs.current, fleetDir, base, head, rootsFile],
  }
  type Name = keyof typeof argsOf
  const names: Name[] = ['node', 'reference', 'baseline', 'current']
  const results: Record<Name, TimeResult[]> = { node: [], reference: [], baseline: [], current: [] }
  for (let run = 0; run < RUNS; run++) {
    // Rotated, so no program always runs right after the same one.
    for (let i = 0; i < names.length; i++) {
      const name = names[(run + i) % names.length]!
      results[name].push(await timed(process.execPath, argsOf[name], root))
    }
  }

  const parse = (name: 'baseline' | 'current') =>
    JSON.parse(results[name][0]!.stdout) as {
      answers: { count: number }
      timings: Record<string, number>
    }
  const baselineOut = parse('baseline')
  const currentOut = parse('current')
  const same = JSON.stringify(baselineOut.answers) === JSON.stringify(currentOut.answers)
  if (!same) {
    await writeFile(
      join(root, 'impact-real-baseline.json'),
      JSON.stringify(baselineOut.answers, null, 2),
    )
    await writeFile(
      join(root, 'impact-real-current.json'),
      JSON.stringify(currentOut.answers, null, 2),
    )
    throw new Error(
      'baseline and current detection disagree; both answers were written to impact-real-{baseline,current}.json',
    )
  }
  const referenceOut = JSON.parse(results.reference[0]!.stdout) as { distinct: number }

  const row = (name: Name, what: string) => {
    const runs = results[name]
    return `| ${name} | ${what} | ${(median(runs.map((r) => r.wallMs)) / 1000).toFixed(2)} s | ${(median(runs.map((r) => r.cpuMs)) / 1000).toFixed(2)} s | ${Math.max(...runs.map((r) => r.maxRssMb)).toFixed(0)} MiB |`
  }
  const fleetHead = (
    await runChecked('git', ['log', '-1', '--format=%h %cs', base], { cwd: fleetDir })
  ).stdout.trim()
  const section = [
    '## impact-real',
    '',
    `redhat-appstudio/infra-deployments at ${fleetHead}: ${facts.files} files, ${facts.kustomizations} kustomizations,`,
    `${facts.unreferenced} of them loaded by no other kustomization; the ${facts.roots.length} of those whose own dependency graph`,
    `has no problem are the roots, each given as \`--env\`. The change appends a line to \`${CHANGED}\`;`,
    `${currentOut.answers.count} environments are impacted. Each program is a fresh bundled \`node\` process; median of ${RUNS} runs`,
    '(wall and CPU, which includes the git processes it waits for), peak RSS the maximum, from `/usr/bin/time -v`.',
    '',
    '| program | reads | wall | CPU | peak RSS |',
    '| --- | --- | ---: | ---: | ---: |',
    row('node', '`node -e 0`: the runtime alone'),
    row(
      'reference',
      `one revision: its tree, its ${facts.kustomizations} kustomizations read and parsed with \`yaml\` (${referenceOut.distinct} distinct blobs)`,
    ),
    row('baseline', `both revisions, \`detectImpact()\` at ${BASELINE.slice(0, 7)}`),
    row('current', 'both revisions, `detectImpact()` of this checkout'),
    '',
    `- Same answers: baseline and current give identical environments, reasons, external references and warnings (checked by the benchmark).`,
    `- Phases of one run (ms): baseline ${JSON.stringify(baselineOut.timings)}; current ${JSON.stringify(currentOut.timings)}.`,
    '- Target (issue 18): ≤ 1.5 s wall and ≤ 60 MiB with both revisions read. The wall time is met with a wide margin;',
    '  the memory is not: node alone takes the first row, loading the bundle (yaml, minimatch, ajv) adds ~8 MiB before',
    '  any work, and the rest is mostly V8 sizing its young generation and optimising compiler for the run, not live data',
    '  (the heap holds ~2 MiB more after the run than before it). The one-revision reference shows the same floor.',
    '  On a loaded machine the CPU column is the better estimate of an idle wall time.',
    `- Machine: ${await machineLine()} (at the end of the run; the machine was shared).`,
    `- Command: \`npm run bench -- impact-real\` (\`--repo\` defaults to ${SOURCE}), ${new Date().toISOString().slice(0, 10)}.`,
    '',
  ].join('\n')
  process.stdout.write(`\n${section}\n`)
  if (!flags['no-write']) await writeBenchmarkSection(root, 'impact-real', section)
} finally {
  await rm(work, { recursive: true, force: true })
}
