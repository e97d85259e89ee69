// The Renovate recipe (examples/renovate): its configuration loads, every
// cluster's helmCharts entry renders from the allowed chart repository (a real
// Helm repository on 127.0.0.1 standing in for charts.jetstack.io), and the
// renovate.json finds every file name kustomize reads and groups the chart.
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { discoverEnvironments, loadConfig } from '../actions/lib/config/config.js'
import { Git } from '../actions/lib/git/git.js'
import { hydrate } from '../actions/lib/render/hydrate.js'
import { KUSTOMIZATION_FILES } from '../actions/lib/render/safety.js'
import { defaultChartFiles, startChartRepo, type ChartRepo } from './support/chart-repo.js'
import { GIT_IDENTITY } from './fixtures/render/fixture-repo.js'

const EXAMPLE = join(import.meta.dirname, '..', 'examples', 'renovate')
const UPSTREAM = 'https://charts.jetstack.io'

let scratch: string
let chartRepo: ChartRepo

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'example-renovate-'))
  const files = defaultChartFiles('cert-manager', 'v1.16.2')
  chartRepo = await startChartRepo([
    {
      name: 'cert-manager',
      version: 'v1.16.2',
      files: {
        'templates/configmap.yaml': `${files['templates/configmap.yaml']}  cluster: {{ .Values.clusterName | quote }}\n`,
      },
    },
  ])
})

afterAll(async () => {
  await chartRepo?.close()
  await rm(scratch, { recursive: true, force: true })
})

/** The example with the chart repository's URL in place of the upstream one, committed. */
async function exampleRepo(): Promise<string> {
  const dir = join(scratch, 'repo')
  await cp(EXAMPLE, dir, { recursive: true })
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    await writeFile(path, (await readFile(path, 'utf8')).replaceAll(UPSTREAM, chartRepo.url))
  }
  const git = await Git.init(dir, { env: GIT_IDENTITY })
  await git.run(['add', '-A'])
  await git.run(['-c', 'commit.gpgsign=false', 'commit', '--quiet', '-m', 'fleet'])
  return dir
}

describe('examples/renovate', () => {
  it('loads, and renders each cluster from the allowed chart repository at its pinned version', async () => {
    const repoDir = await exampleRepo()
    const config = await loadConfig(repoDir)
    expect(config.hydrate.helm.allowedRepos).toEqual([chartRepo.url])
    const files = await new Git(repoDir).listFiles('HEAD')
    const environments = discoverEnvironments(config, files)
    expect(environments.map((env) => `${env.stage}/${env.name}`)).toEqual([
      'testing/test-1',
      'production/prod-eu-1',
      'production/prod-us-1',
    ])
    const outputDir = join(scratch, 'out')
    const { result } = await hydrate({ repoDir, environments, outputDir, settings: config.hydrate })
    expect(result.environments.map((env) => `${env.name}:${env.status}`)).toEqual([
      'prod-eu-1:rendered',
      'prod-us-1:rendered',
      'test-1:rendered',
    ])
    const manifest = await readFile(join(outputDir, 'prod-eu-1', 'manifest.yaml'), 'utf8')
    expect(manifest).toContain('chart: cert-manager-v1.16.2')
    expect(manifest).toContain('cluster: prod-eu-1')
    expect(chartRepo.downloads('cert-manager', 'v1.16.2')).toBe(1)
  })

  it("renovate.json: Renovate's kustomize manager reads every kustomization file name, and one PR per chart", async () => {
    const renovate = JSON.parse(await readFile(join(EXAMPLE, 'renovate.json'), 'utf8')) as {
      kustomize: { managerFilePatterns: string[] }
      packageRules: { matchPackageNames?: string[]; groupName?: string }[]
    }
    const [pattern = ''] = renovate.kustomize.managerFilePatterns
    const regex = new RegExp(pattern.slice(1, -1))
    for (const name of KUSTOMIZATION_FILES) expect(`clusters/a/b/${name}`).toMatch(regex)
    expect('clusters/a/b/values.yaml').not.toMatch(regex)
    expect(renovate.packageRules).toContainEqual(
      expect.objectContaining({
        matchPackageNames: ['cert-manager'],
        groupName: 'cert-manager chart',
      }),
    )
  })
})
