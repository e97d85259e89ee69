// Hostile pull requests, one fixture per class of issue 11 (test/fixtures/hostile),
// each rendered through the CLI (`fleet-promote render`, the core of the hydrate
// action and of merge-cleanup's re-render) in a fresh environment holding
// secrets: a host file, the checkout's saved token in .git/config (what
// actions/checkout leaves with persist-credentials) and tokens in the CLI's
// environment. For each: refused with a reason naming the file and the key or
// link, no secret in any output, no command run, nothing written outside the
// output directory, and no process left once the CLI has exited.
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Git } from '../actions/lib/git/git.js'
import type { EnvironmentHydration } from '../actions/lib/hydration-types.js'
import { runProcess } from '../actions/lib/process.js'
import { GIT_IDENTITY } from './fixtures/render/fixture-repo.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const FIXTURE = join(root, 'test/fixtures/hostile')
const tsx = join(root, 'node_modules', '.bin', 'tsx')

const marker = randomBytes(6).toString('hex')
const HOST_SECRET = `host-secret-${marker}`
const GIT_SECRET = `git-secret-${marker}`
const ENV_SECRET = `env-secret-${marker}`
const SECRETS = [HOST_SECRET, GIT_SECRET, ENV_SECRET]

interface Case {
  name: string
  /** Copy the fixture chart (test/fixtures/hostile/chart) to these repository paths. */
  charts?: string[]
  /** Symlinks to create, repository path → target (`@secret` is the host secret file). */
  links?: Record<string, string>
  /** The whole reason, file and line included. */
  reason: RegExp
}

const where = (file: string, line?: number) =>
  `\\(${file.replace(/[./]/g, '\\$&')}${line === undefined ? '' : `:${line}`}\\)$`
const at = (name: string, line: number) => where(`clusters/${name}/kustomization.yaml`, line)
const chart = (name: string) => [`clusters/${name}/charts/toolbox`]

const CASES: Case[] = [
  // 1. kustomize decodes field names case-insensitively and merges "<<": exact keys only.
  {
    name: 'field-uppercase',
    reason: RegExp(
      `^refused: key "RESOURCES" is not exactly "resources" \\(kustomize ignores case\\) ${at('field-uppercase', 3)}`,
    ),
  },
  {
    name: 'field-fold',
    reason: RegExp(`^refused: key "reſources" is not exactly "resources" .*${at('field-fold', 3)}`),
  },
  {
    name: 'field-merge-key',
    reason: RegExp(`^refused: YAML merge key "<<" at the top level ${at('field-merge-key', 3)}`),
  },
  {
    name: 'field-duplicate',
    charts: chart('field-duplicate'),
    reason: RegExp(
      `^refused: duplicate key "helmCharts" at the top level ${at('field-duplicate', 4)}`,
    ),
  },
  {
    name: 'field-nested',
    charts: chart('field-nested'),
    reason: RegExp(
      `^refused: key "helmCharts\\[0\\]\\.ReleaseName" is not exactly "releaseName" .*${at('field-nested', 4)}`,
    ),
  },
  {
    name: 'field-alias',
    charts: chart('field-alias'),
    reason: RegExp(
      `^refused: key "helmCharts\\[1\\]\\.ReleaseName" is not exactly "releaseName" .*${at('field-alias', 7)}`,
    ),
  },
  {
    name: 'field-component',
    reason: RegExp(
      `^refused: key "ConfigMapGenerator" is not exactly "configMapGenerator" .*${where('components/sneaky/kustomization.yaml', 3)}`,
    ),
  },
  {
    name: 'field-plugin',
    reason: RegExp(
      `^refused: key "Files" is not exactly "files" .*${where('clusters/field-plugin/generator.yaml', 5)}`,
    ),
  },
  {
    name: 'field-unknown',
    reason: RegExp(
      `^refused: key "helmChartInflationGenerator" is not a supported kustomization field ${at('field-unknown', 1)}`,
    ),
  },
  // 2. Every value helm gets as an argument, in helm's grammar; nothing starts with "-".
  {
    name: 'helm-set-file',
    charts: chart('helm-set-file'),
    reason: RegExp(
      `^refused: helmCharts\\[0\\]\\.releaseName starts with "-": "--set-file=color=.* ${at('helm-set-file', 3)}`,
    ),
  },
  {
    name: 'helm-output-dir',
    charts: chart('helm-output-dir'),
    reason: RegExp(
      `^refused: helmCharts\\[0\\]\\.releaseName starts with "-": "--output-dir=.* ${at('helm-output-dir', 3)}`,
    ),
  },
  {
    name: 'helm-values-absolute',
    charts: chart('helm-values-absolute'),
    reason: RegExp(
      `^refused: chart toolbox additionalValuesFiles must be a relative path inside the.* ${at('helm-values-absolute', 5)}`,
    ),
  },
  {
    name: 'helm-namespace-flag',
    charts: chart('helm-namespace-flag'),
    reason: RegExp(
      `^refused: helmCharts\\[0\\]\\.namespace starts with "-": "--dependency-update" ${at('helm-namespace-flag', 4)}`,
    ),
  },
  {
    name: 'helm-api-versions',
    charts: chart('helm-api-versions'),
    reason: RegExp(
      `^refused: helmCharts\\[0\\]\\.apiVersions\\[0\\] starts with "-": "--post-renderer=.* ${at('helm-api-versions', 5)}`,
    ),
  },
  {
    name: 'helm-name-template',
    charts: chart('helm-name-template'),
    reason: RegExp(
      `^refused: key "helmCharts\\[0\\]\\.nameTemplate" is not a supported helmCharts entry field ${at('helm-name-template', 3)}`,
    ),
  },
  // 3. Nothing under .git is readable, however it is reached.
  {
    name: 'git-config-link',
    links: { 'clusters/git-config-link/checkout-config': '../../.git/config' },
    reason: RegExp(
      `^refused: symlink clusters/git-config-link/checkout-config reaches \\.git \\(-> \\.\\./\\.\\./\\.git/conf.* ${at('git-config-link', 4)}`,
    ),
  },
  {
    name: 'git-dir-link',
    links: { 'clusters/git-dir-link/dotgit': '../../.git' },
    reason: RegExp(
      `^refused: symlink clusters/git-dir-link/dotgit reaches \\.git .*${at('git-dir-link', 4)}`,
    ),
  },
  {
    name: 'git-chart-files',
    charts: chart('git-chart-files'),
    links: { 'clusters/git-chart-files/charts/toolbox/files/config': '../../../../../.git/config' },
    reason: RegExp(
      `^refused: symlink clusters/git-chart-files/charts/toolbox/files/config reaches \\.git.*${where('clusters/git-chart-files/kustomization.yaml')}`,
    ),
  },
  // 4. Every link is checked at every hop, also through linked directories.
  {
    name: 'two-hop-file',
    links: { 'clusters/two-hop-file/hop': '../../linked/hop', 'linked/hop': '@secret' },
    reason: RegExp(
      `^refused: symlink linked/hop points outside the repository \\(-> .*${at('two-hop-file', 4)}`,
    ),
  },
  {
    name: 'two-hop-chart',
    charts: ['linked/charts/toolbox'],
    links: {
      'clusters/two-hop-chart/charts': '../../linked/charts',
      'linked/charts/toolbox/files/config': '@secret',
    },
    reason: RegExp(
      `^refused: symlink linked/charts/toolbox/files/config points outside the repository.*${where('clusters/two-hop-chart/kustomization.yaml')}`,
    ),
  },
  {
    name: 'hop-out-and-back',
    links: { 'clusters/hop-out-and-back/detour': '../../../repo/linked/data.txt' },
    reason: RegExp(
      `^refused: symlink clusters/hop-out-and-back/detour points outside the repository .*${at('hop-out-and-back', 4)}`,
    ),
  },
  // 6. Limits end the whole process group (kustomize and the helm it started).
  { name: 'helm-time-bomb', reason: /^render timed out after 5s$/ },
  { name: 'helm-memory-bomb', reason: /^render failed: .*out of memory/ },
]

let work: string
let repoDir: string
let secretFile: string
let canaryDir: string

async function listTree(dir: string, prefix = ''): Promise<string[]> {
  if (!existsSync(dir)) return []
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name
    out.push(path)
    if (entry.isDirectory()) out.push(...(await listTree(join(dir, entry.name), path)))
  }
  return out
}

/** Processes whose command line mentions this test's scratch directory. */
async function survivors(): Promise<string[]> {
  const found: string[] = []
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
    if (cmdline.includes(work)) found.push(`${pid}: ${cmdline.replace(/\0/g, ' ')}`)
  }
  return found
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'fleet-promote-hostile-'))
  repoDir = join(work, 'repo')
  secretFile = join(work, 'host', 'secret.txt')
  canaryDir = join(work, 'canary')
  await mkdir(dirname(secretFile), { recursive: true })
  await writeFile(secretFile, `${HOST_SECRET}\n`)
  await mkdir(canaryDir)
  await cp(FIXTURE, repoDir, { recursive: true })
  const replacements: Record<string, string> = {
    __SECRET_FILE__: secretFile,
    __CANARY_DIR__: canaryDir,
    __CANARY__: join(canaryDir, 'executed'),
  }
  for (const file of await listTree(repoDir)) {
    const path = join(repoDir, file)
    if (!file.endsWith('.yaml')) continue
    let text = await readFile(path, 'utf8')
    for (const [from, to] of Object.entries(replacements)) text = text.split(from).join(to)
    await writeFile(path, text)
  }
  for (const testCase of CASES) {
    for (const dir of testCase.charts ?? [])
      await cp(join(FIXTURE, 'chart'), join(repoDir, dir), { recursive: true })
    for (const [path, target] of Object.entries(testCase.links ?? {})) {
      await mkdir(dirname(join(repoDir, path)), { recursive: true })
      await symlink(target === '@secret' ? secretFile : target, join(repoDir, path))
    }
  }
  await rm(join(repoDir, 'chart'), { recursive: true })
  const git = await Git.init(repoDir, { env: GIT_IDENTITY })
  await git.run(['add', '-A'])
  await git.run(['-c', 'commit.gpgsign=false', 'commit', '--quiet', '-m', 'Hostile fleet'])
  // What actions/checkout saves with persist-credentials: true.
  await git.run([
    'config',
    'http.https://github.com/.extraheader',
    `AUTHORIZATION: basic ${GIT_SECRET}`,
  ])
})

afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})

describe.each(CASES)('hostile fixture $name', (testCase) => {
  it('is refused with a reason naming the file and key or link, leaking and leaving nothing', async () => {
    const scratch = join(work, 'runs', testCase.name)
    const dirs = {
      home: join(scratch, 'home'),
      tmp: join(scratch, 'tmp'),
      cwd: join(scratch, 'cwd'),
    }
    for (const dir of Object.values(dirs)) await mkdir(dir, { recursive: true })
    const out = join(scratch, 'out')
    const run = await runProcess(
      tsx,
      [
        join(root, 'actions/lib/cli/main.ts'),
        'render',
        '--repo',
        repoDir,
        '--env',
        `clusters/${testCase.name}`,
        '--out',
        out,
      ],
      {
        cwd: dirs.cwd,
        env: {
          PATH: process.env.PATH,
          HOME: dirs.home,
          TMPDIR: dirs.tmp,
          INPUT_TOKEN: ENV_SECRET,
          GITHUB_TOKEN: ENV_SECRET,
          ACTIONS_RUNTIME_TOKEN: ENV_SECRET,
        },
        timeoutMs: 90_000,
      },
    )
    // No process (kustomize, helm, the sandbox) outlives the CLI.
    expect(await survivors()).toEqual([])
    expect(run.code, run.stderr).toBe(1)
    const result = JSON.parse(run.stdout) as EnvironmentHydration
    expect(result.status).toBe('failed')
    expect(result.reason).toMatch(testCase.reason)
    expect(result.reason?.length ?? 0).toBeLessThanOrEqual(140)
    expect(run.stderr).toMatch(/^sandbox: bubblewrap/m)

    // Nothing from the host, the checkout's credentials or the environment in any output.
    const outputs = [run.stdout, run.stderr]
    for (const file of await listTree(out)) {
      if (file.endsWith('.json') || file.endsWith('.yaml') || file.endsWith('.md'))
        outputs.push(await readFile(join(out, file), 'utf8'))
    }
    for (const text of outputs) for (const secret of SECRETS) expect(text).not.toContain(secret)
    expect(await listTree(out)).toEqual(['hydration.json'])

    // Nothing ran and nothing was written outside the output directory.
    expect(await listTree(canaryDir)).toEqual([])
    expect(await listTree(dirs.home)).toEqual([])
    expect(await listTree(dirs.cwd)).toEqual([])
    // tsx keeps its compile cache in TMPDIR; fleet-promote leaves nothing there.
    expect((await readdir(dirs.tmp)).filter((name) => !name.startsWith('tsx-'))).toEqual([])
    const status = await runProcess('git', ['status', '--porcelain', '--ignored'], { cwd: repoDir })
    expect(status.stdout).toBe('')
    expect(await readFile(secretFile, 'utf8')).toBe(`${HOST_SECRET}\n`)
  })
})
