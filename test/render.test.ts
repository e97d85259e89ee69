import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultConfig } from '../actions/lib/config/config.js'
import type { Environment } from '../actions/lib/config/types.js'
import type { EnvironmentHydration, HydrationResult } from '../actions/lib/hydration-types.js'
import { hydrate, type HydrateOptions, type RenderSettings } from '../actions/lib/render/hydrate.js'
import { mergeHydrationResults } from '../actions/lib/render/output.js'
import { scratchParent } from '../actions/lib/render/scratch.js'
import { startChartRepo, type ChartRepo } from './support/chart-repo.js'
import { fixtureRepo, type FixtureRepo } from './fixtures/render/fixture-repo.js'
import { publishRender } from './fixtures/render/wet-branch.js'

const FLEET = ['test-a', 'test-b', 'prod-a', 'local']

function envs(names: readonly string[]): Environment[] {
  return names.map((name) => ({
    name,
    path: `clusters/${name}`,
    stage: name.startsWith('prod') ? 'production' : 'testing',
    branch: `env/${name}`,
  }))
}

function settings(
  chartRepo: ChartRepo,
  change: (s: RenderSettings) => void = () => undefined,
): RenderSettings {
  const s = defaultConfig().hydrate
  s.helm.allowedRepos = [chartRepo.url]
  change(s)
  return s
}

async function treeBytes(dir: string, prefix = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name
    if (entry.isDirectory()) Object.assign(out, await treeBytes(join(dir, entry.name), path))
    else if (path === 'hydration.json') {
      const result = JSON.parse(await readFile(join(dir, path), 'utf8')) as HydrationResult
      for (const env of result.environments) env.durationMs = 0
      out[path] = JSON.stringify(result)
    } else out[path] = await readFile(join(dir, entry.name), 'utf8')
  }
  return out
}

function byName(result: HydrationResult, name: string): EnvironmentHydration {
  const env = result.environments.find((e) => e.name === name)
  if (!env) throw new Error(`no ${name} in result`)
  return env
}

describe('hydrate: rendering the fleet fixture', () => {
  let chartRepo: ChartRepo
  let repo: FixtureRepo
  let work: string

  beforeAll(async () => {
    chartRepo = await startChartRepo([
      { name: 'alpha', version: '1.0.0' },
      { name: 'alpha', version: '1.1.0', files: { 'values.yaml': 'replicas: 1\ncolor: purple\n' } },
    ])
    repo = await fixtureRepo('fleet', { __CHART_REPO__: chartRepo.url })
    work = await mkdtemp(join(tmpdir(), 'fleet-promote-render-test-'))
  })
  afterAll(async () => {
    await chartRepo.close()
    await repo.cleanup()
    await rm(work, { recursive: true, force: true })
  })

  const run = (out: string, extra: Partial<HydrateOptions> = {}) =>
    hydrate({
      repoDir: repo.dir,
      environments: envs(FLEET),
      outputDir: join(work, out),
      settings: settings(chartRepo),
      ...extra,
    })

  it('renders the same bytes with its scratch in memory or on disk, and leaves no scratch behind', async () => {
    // The default parent (a memory file system here) is shared with other runs: own dirs below each.
    const memory = await mkdtemp(join(await scratchParent({}), 'fleet-promote-render-test-memory-'))
    const disk = join(work, 'disk-scratch')
    await mkdir(disk)
    try {
      await run('scratch-memory', { scratchDir: memory })
      await run('scratch-disk', { scratchDir: disk })
      expect(await treeBytes(join(work, 'scratch-disk'))).toEqual(
        await treeBytes(join(work, 'scratch-memory')),
      )
      expect(await readdir(disk)).toEqual([])
      expect(await readdir(memory)).toEqual([])
    } finally {
      await rm(memory, { recursive: true, force: true })
    }
  })

  it('fails whole, with nothing left behind, when a tool is missing while environments are walked', async () => {
    const scratch = join(work, 'missing-tool-scratch')
    await mkdir(scratch)
    await expect(
      run('missing-tool', { kustomizePath: join(work, 'no-such-kustomize'), scratchDir: scratch }),
    ).rejects.toThrow(/no-such-kustomize/)
    expect(await readdir(scratch)).toEqual([])
  })

  it('renders local charts, remote charts with per-cluster values, and hashed generators', async () => {
    const before = chartRepo.downloads('alpha', '1.0.0')
    const { result, stats } = await run('first')
    expect(result.environments.map((e) => [e.name, e.status, e.reason])).toEqual([
      ['local', 'rendered', undefined],
      ['prod-a', 'rendered', undefined],
      ['test-a', 'rendered', undefined],
      ['test-b', 'rendered', undefined],
    ])
    // Three environments use alpha 1.0.0: pulled once.
    expect(chartRepo.downloads('alpha', '1.0.0') - before).toBe(1)
    expect(stats.chartPulls).toBe(1)
    const manifest = (name: string) => readFile(join(work, 'first', name, 'manifest.yaml'), 'utf8')
    expect(await manifest('test-a')).toContain('color: red')
    expect(await manifest('test-b')).toMatch(/color: green\n\s+replicas: "3"/)
    const prod = await manifest('prod-a')
    expect(prod).toContain('color: black')
    expect(prod).toContain('replicas: 5')
    // configMapGenerator hash suffix, and the Deployment refers to the suffixed name.
    const hashed = /name: (web-settings-[a-z0-9]{10})\n/.exec(await manifest('test-a'))?.[1]
    expect(hashed).toBeDefined()
    expect(await manifest('test-a')).toContain(`name: ${hashed}\n        name: settings`)
    const local = await manifest('local')
    expect(local).toMatch(
      /kind: Secret\nmetadata:\n {2}name: toolbox-token-[a-z0-9]{10}\n {2}namespace: tools/,
    )
    expect(local).toMatch(/color: yellow[\s\S]*replicas: 2/)
    // Namespace first (kind priority), then the rest in (group, kind, namespace, name) order.
    expect((await manifest('test-a')).indexOf('kind: Namespace')).toBeLessThan(
      (await manifest('test-a')).indexOf('kind: Deployment'),
    )
    const testA = byName(result, 'test-a')
    expect(testA.files).toEqual(['README.md', 'hydrator.metadata', 'manifest.yaml'])
    expect(testA.baseSha).toBe('')
    expect(testA.diff).toEqual({ added: 5, changed: 0, deleted: 0 })
    const metadata = JSON.parse(
      await readFile(join(work, 'first', 'test-a', 'hydrator.metadata'), 'utf8'),
    ) as Record<string, unknown>
    expect(metadata).toEqual({
      repoURL: '',
      drySha: await repo.git.revParse('HEAD'),
      author: 'Fleet Tester <tester@example.com>',
      date: '2026-01-02T03:04:05+00:00',
      subject: 'Add fleet',
      references: [],
    })
    const readme = await readFile(join(work, 'first', 'test-a', 'README.md'), 'utf8')
    expect(readme).toContain(
      'kustomize build clusters/test-a --load-restrictor LoadRestrictionsRootOnly --enable-helm',
    )
    expect(readme).toContain('kustomize v5.8.1, helm v3.21.4')
  })

  it('pulls each chart version once across many environments', async () => {
    const names: string[] = []
    for (let i = 0; i < 12; i++) {
      const name = `many-${String(i).padStart(2, '0')}`
      names.push(name)
      await mkdir(join(repo.dir, 'clusters', name), { recursive: true })
      await writeFile(
        join(repo.dir, 'clusters', name, 'kustomization.yaml'),
        `helmCharts:\n  - name: alpha\n    repo: ${chartRepo.url}\n    version: ${i % 2 === 0 ? '1.0.0' : '1.1.0'}\n    releaseName: r${i}\n`,
      )
    }
    await repo.commit('Twelve environments on two chart versions')
    const before = [chartRepo.downloads('alpha', '1.0.0'), chartRepo.downloads('alpha', '1.1.0')]
    const { result, stats } = await run('many', { environments: envs(names), parallelism: 4 })
    expect(result.environments.every((e) => e.status === 'rendered')).toBe(true)
    expect(chartRepo.downloads('alpha', '1.0.0') - (before[0] ?? 0)).toBe(1)
    expect(chartRepo.downloads('alpha', '1.1.0') - (before[1] ?? 0)).toBe(1)
    expect(stats.chartPulls).toBe(2)
    expect(await readFile(join(work, 'many', 'many-01', 'manifest.yaml'), 'utf8')).toContain(
      'chart: alpha-1.1.0\n  color: purple',
    )
    expect(await readFile(join(work, 'many', 'many-02', 'manifest.yaml'), 'utf8')).toContain(
      'chart: alpha-1.0.0\n  color: blue',
    )
    // The DRY checkout is never written: no charts/ directory appeared in it.
    expect((await readdir(join(repo.dir, 'clusters', 'many-00'))).sort()).toEqual([
      'kustomization.yaml',
    ])
    expect(await repo.git.run(['status', '--porcelain'])).toBe('')
  })

  it('is byte-identical when rendered twice and from a copy at another path', async () => {
    await run('twice-1')
    await run('twice-2')
    const copyRoot = await mkdtemp(join(tmpdir(), 'fleet-promote-copy-'))
    try {
      await cp(repo.dir, join(copyRoot, 'elsewhere', 'repo'), { recursive: true })
      await hydrate({
        repoDir: join(copyRoot, 'elsewhere', 'repo'),
        environments: envs(FLEET),
        outputDir: join(work, 'copy'),
        settings: settings(chartRepo),
        parallelism: 1,
      })
    } finally {
      await rm(copyRoot, { recursive: true, force: true })
    }
    const first = await treeBytes(join(work, 'twice-1'))
    expect(Object.keys(first)).toHaveLength(13)
    expect(await treeBytes(join(work, 'twice-2'))).toEqual(first)
    expect(await treeBytes(join(work, 'copy'))).toEqual(first)
  })

  it('reports unchanged against an identical WET branch and a per-object diff after a values change', async () => {
    const first = await run('wet-1', { environments: envs(['test-a']) })
    const tip = await publishRender(repo.git, 'env/test-a', join(work, 'wet-1', 'test-a'), {
      '.github/CODEOWNERS': '* @platform\n',
    })
    // A new DRY commit that renders the same objects: nothing to commit.
    await writeFile(join(repo.dir, 'NOTES.md'), 'unrelated\n')
    await repo.commit('Unrelated change')
    const same = byName((await run('wet-2', { environments: envs(['test-a']) })).result, 'test-a')
    expect(same.status).toBe('unchanged')
    expect(same.baseSha).toBe(tip)
    expect(same.diff).toEqual({ added: 0, changed: 0, deleted: 0 })
    expect(same.resources).toEqual({ before: 5, after: 5 })
    expect(byName(first.result, 'test-a').status).toBe('rendered')

    await writeFile(join(repo.dir, 'clusters/test-a/values.yaml'), 'color: orange\n')
    await repo.commit('Orange test-a')
    const next = byName((await run('wet-3', { environments: envs(['test-a']) })).result, 'test-a')
    expect(next.status).toBe('rendered')
    expect(next.diff).toEqual({ added: 0, changed: 1, deleted: 0 })
    expect(next.changes).toHaveLength(1)
    const change = next.changes[0]
    expect(change).toMatchObject({
      change: 'changed',
      kind: 'ConfigMap',
      name: 'alpha-alpha',
      namespace: '',
    })
    expect(change?.diff).toContain('--- a/ConfigMap/alpha-alpha\n+++ b/ConfigMap/alpha-alpha\n@@ ')
    expect(change?.diff).toContain('\n-  color: red\n+  color: orange\n')
    await writeFile(join(repo.dir, 'clusters/test-a/values.yaml'), 'color: red\n')
    await repo.commit('Back to red')
  })

  it('writes per-resource files with the per-resource layout', async () => {
    const { result } = await run('per-resource', {
      environments: envs(['test-b']),
      settings: settings(chartRepo, (s) => (s.layout = 'per-resource')),
    })
    const env = byName(result, 'test-b')
    expect(env.files).toEqual([
      'README.md',
      '_cluster/configmap-alpha-alpha.yaml',
      '_cluster/namespace-web.yaml',
      'hydrator.metadata',
      expect.stringMatching(/^web\/configmap-web-settings-[a-z0-9]{10}\.yaml$/),
      'web/deployment-web.yaml',
      'web/service-web.yaml',
    ])
    expect(
      await readFile(join(work, 'per-resource', 'test-b', 'web/deployment-web.yaml'), 'utf8'),
    ).toMatch(/^apiVersion: apps\/v1\nkind: Deployment\n/)
  })

  it('refuses a chart repository outside the allowlist without downloading anything', async () => {
    const before = chartRepo.totalDownloads()
    const { result } = await run('not-allowed', {
      settings: settings(chartRepo, (s) => (s.helm.allowedRepos = ['https://charts.example.com'])),
    })
    const testA = byName(result, 'test-a')
    expect(testA.status).toBe('failed')
    expect(testA.reason).toBe(
      `refused: chart alpha: repo not in hydrate.helm.allowedRepos: ${chartRepo.url} (clusters/test-a/kustomization.yaml:7)`,
    )
    expect(testA.files).toEqual([])
    expect(byName(result, 'local').status).toBe('rendered')
    expect(chartRepo.totalDownloads()).toBe(before)
    // A prefix must end at a path boundary: port 1234 does not allow port 12345.
    const evil = await run('prefix', {
      settings: settings(chartRepo, (s) => (s.helm.allowedRepos = [chartRepo.url.slice(0, -1)])),
    })
    expect(byName(evil.result, 'test-a').status).toBe('failed')
  })

  it('verifies the chart lock digest', async () => {
    const digest = await chartRepo.digest('alpha', '1.0.0')
    const good = await run('lock-good', {
      environments: envs(['test-a']),
      chartLock: [{ chart: 'alpha', version: '1.0.0', digest }],
    })
    expect(byName(good.result, 'test-a').reason).toBeUndefined()
    expect(['rendered', 'unchanged']).toContain(byName(good.result, 'test-a').status)
    const bad = await run('lock-bad', {
      environments: envs(['test-a']),
      chartLock: [
        {
          repo: chartRepo.url,
          chart: 'alpha',
          version: '1.0.0',
          digest: `sha256:${'0'.repeat(64)}`,
        },
      ],
    })
    const env = byName(bad.result, 'test-a')
    expect(env.status).toBe('failed')
    expect(env.reason).toMatch(
      /^refused: chart alpha@1\.0\.0 digest sha256:[0-9a-f]{12}… does not match the lock$/,
    )
    expect(env.files).toEqual([])
  })

  it('merges matrix shards into exactly what one runner writes', async () => {
    await run('single')
    await hydrate({
      repoDir: repo.dir,
      environments: envs(['prod-a', 'test-b']),
      outputDir: join(work, 'shard-1'),
      settings: settings(chartRepo),
    })
    await hydrate({
      repoDir: repo.dir,
      environments: envs(['local', 'test-a']),
      outputDir: join(work, 'shard-2'),
      settings: settings(chartRepo),
    })
    await mkdir(join(work, 'merged'))
    const merged = await mergeHydrationResults(join(work, 'merged'), [
      join(work, 'shard-1'),
      join(work, 'shard-2'),
    ])
    expect(merged.environments.map((e) => e.name)).toEqual(['local', 'prod-a', 'test-a', 'test-b'])
    expect(await treeBytes(join(work, 'merged'))).toEqual(await treeBytes(join(work, 'single')))
    await expect(
      mergeHydrationResults(join(work, 'merged-twice'), [
        join(work, 'shard-1'),
        join(work, 'shard-1'),
      ]),
    ).rejects.toThrow('appears in more than one shard')
  })
})
