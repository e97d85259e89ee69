import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultConfig } from '../actions/lib/config/config.js'
import type { EnvironmentHydration } from '../actions/lib/hydration-types.js'
import { guardDeletions } from '../actions/lib/render/compare.js'
import { hydrate, kustomizeProblem, type RenderSettings } from '../actions/lib/render/hydrate.js'
import { fixtureRepo, type FixtureRepo } from './fixtures/render/fixture-repo.js'
import { publishRender } from './fixtures/render/wet-branch.js'

const ENV = { name: 'app', path: 'clusters/app', stage: 'production', branch: 'env/app' }
const ALL = ['namespace.yaml', 'crd.yaml', 'deployment.yaml', 'many.yaml', 'few.yaml']

describe('hydrate: deletion guard', () => {
  let repo: FixtureRepo
  let work: string
  let baseSha: string
  let runs = 0

  beforeAll(async () => {
    repo = await fixtureRepo('guard')
    work = await mkdtemp(join(tmpdir(), 'fleet-promote-guard-'))
    const first = await render()
    expect(first.status).toBe('rendered')
    expect(first.resources.after).toBe(17)
    baseSha = await publishRender(repo.git, ENV.branch, join(work, `out-${runs}`, ENV.name))
  })
  afterAll(async () => {
    await repo.cleanup()
    await rm(work, { recursive: true, force: true })
  })

  async function render(
    change: (s: RenderSettings) => void = () => undefined,
    allowDeletions = false,
  ): Promise<EnvironmentHydration> {
    const settings = defaultConfig().hydrate
    change(settings)
    runs++
    const { result } = await hydrate({
      repoDir: repo.dir,
      environments: [ENV],
      outputDir: join(work, `out-${runs}`),
      settings,
      allowDeletions,
    })
    return result.environments[0] as EnvironmentHydration
  }

  async function withResources(resources: string[], extra = ''): Promise<void> {
    const list =
      resources.length === 0 ? ' []\n' : `\n${resources.map((r) => `  - ${r}\n`).join('')}`
    await writeFile(join(repo.dir, ENV.path, 'kustomization.yaml'), `resources:${list}${extra}`)
    await repo.commit(`resources: ${resources.join(', ')}`)
  }

  function expectBlocked(env: EnvironmentHydration, reason: string): void {
    expect(env.status).toBe('blocked')
    expect(env.reason).toBe(reason)
    expect(env.baseSha).toBe(baseSha)
    // Written all the same: its child is deployable with --allow-deletions only.
    if (env.resources.after > 0) expect(env.files).toContain('manifest.yaml')
  }

  it('blocks an empty render where there were resources', async () => {
    await withResources([])
    const env = await render()
    expectBlocked(env, 'empty render would delete all 17 resources')
    expect(env.resources).toEqual({ before: 17, after: 0 })
    expect(env.diff.deleted).toBe(17)
  })

  it('blocks more deletions than maxDeleted, and more than maxDeletedPercent', async () => {
    await withResources(ALL.filter((r) => r !== 'many.yaml'))
    expectBlocked(await render(), 'would delete 11 resources (max 10)')
    await withResources(ALL.filter((r) => r !== 'few.yaml'))
    const env = await render((s) => (s.deletionGuard.maxDeletedPercent = 10))
    expectBlocked(env, 'would delete 3 of 17 resources (17.6% > 10%)')
    expect(env.diff).toEqual({ added: 0, changed: 0, deleted: 3 })
    expect(env.changes.map((c) => `${c.change} ${c.kind} ${c.name}`)).toEqual([
      'deleted ConfigMap few-00',
      'deleted ConfigMap few-01',
      'deleted ConfigMap few-02',
    ])
    expect(env.changes[0]?.diff).toMatch(
      /^--- a\/ConfigMap\/few-00\n\+\+\+ \/dev\/null\n@@ -1,6 \+0,0 @@\n-apiVersion: v1\n/,
    )
  })

  it('blocks deleting a Namespace or a CustomResourceDefinition', async () => {
    await withResources(ALL.filter((r) => r !== 'namespace.yaml'))
    expectBlocked(await render(), 'would delete protected Namespace guard')
    await withResources(ALL.filter((r) => r !== 'crd.yaml'))
    expectBlocked(
      await render(),
      'would delete protected CustomResourceDefinition widgets.example.com',
    )
  })

  it('lets an authorized --allow-deletions override through, saying so', async () => {
    await withResources(ALL.filter((r) => r !== 'namespace.yaml'))
    const env = await render(undefined, true)
    expect(env.status).toBe('rendered')
    expect(env.reason).toBe('deletions allowed by override: would delete protected Namespace guard')
    expect(env.files).toContain('manifest.yaml')
  })

  it('allows a normal upgrade', async () => {
    await withResources(ALL)
    const deployment = join(repo.dir, ENV.path, 'deployment.yaml')
    await writeFile(
      deployment,
      (await readFile(deployment, 'utf8')).replace('addon:1.0.0', 'addon:1.1.0'),
    )
    await repo.commit('Upgrade the add-on')
    const env = await render()
    expect(env.status).toBe('rendered')
    expect(env.reason).toBeUndefined()
    expect(env.diff).toEqual({ added: 0, changed: 1, deleted: 0 })
    expect(env.changes[0]?.diff).toContain(
      '-      - image: example.com/addon:1.0.0\n+      - image: example.com/addon:1.1.0\n',
    )
  })

  it('never treats a render error as zero resources', async () => {
    await withResources(
      ALL,
      'patches:\n  - target: {kind: Deployment, name: addon}\n    patch: |\n      - op: replace\n        path: /spec/missing/field\n        value: 2\n',
    )
    const env = await render()
    expect(env.status).toBe('failed')
    expect(env.reason).toMatch(/^render failed: /)
    expect(env.reason?.length).toBeLessThanOrEqual(140)
    expect(env.resources).toEqual({ before: 17, after: 0 })
    expect(env.files).toEqual([])
  })

  it('fails a render over the output limit instead of truncating it', async () => {
    await withResources(ALL)
    const env = await render((s) => (s.maxOutputBytes = 100))
    expect(env.status).toBe('failed')
    expect(env.reason).toBe('render output over 100 bytes')
    expect(env.files).toEqual([])
  })

  it('matches protected kinds by Kind or Kind.group', () => {
    const deleted = (apiVersion: string, kind: string) => ({
      change: 'deleted' as const,
      apiVersion,
      kind,
      name: 'x',
      namespace: '',
      diff: '',
    })
    const guard = {
      maxDeleted: 10,
      maxDeletedPercent: 100,
      protectedKinds: ['Kustomization.kustomize.toolkit.fluxcd.io', 'Namespace'],
    }
    expect(
      guardDeletions(
        5,
        4,
        [deleted('kustomize.toolkit.fluxcd.io/v1', 'Kustomization')],
        guard,
        false,
      ).blocked,
    ).toBe(true)
    expect(
      guardDeletions(
        5,
        4,
        [deleted('kustomize.config.k8s.io/v1beta1', 'Kustomization')],
        guard,
        false,
      ).blocked,
    ).toBe(false)
    expect(guardDeletions(0, 0, [], guard, false).blocked).toBe(false)
  })
})

describe('kustomizeProblem', () => {
  // Messages as kustomize v5.8.1 prints them (after "Error: ").
  const cases: [string, string, string][] = [
    [
      'a file entry: the file error, not the directory one',
      "accumulating resources: accumulation err='merging resources from 'b.yaml': may not add resource with an already registered id: ConfigMap.v1.[noGrp]/x.[noNs]': must build at directory: '/t/b.yaml': file is not directory",
      "merging resources from 'b.yaml': may not add resource with an already registered id: ConfigMap.v1.[noGrp]/x.[noNs]",
    ],
    [
      'a kustomization entry: what went wrong inside it',
      "accumulating resources: accumulation err='accumulating resources from '../kz': read /t/kz: is a directory': recursed accumulation of path '/t/kz': accumulating resources: accumulation err='merging resources from 'b.yaml': may not add resource with an already registered id: ConfigMap.v1.[noGrp]/x.[noNs]': must build at directory: '/t/kz/b.yaml': file is not directory",
      "merging resources from 'b.yaml': may not add resource with an already registered id: ConfigMap.v1.[noGrp]/x.[noNs]",
    ],
    [
      'anything else as it is',
      'no matches for OriginalId apps_v1_Deployment|~X|addon',
      'no matches for OriginalId apps_v1_Deployment|~X|addon',
    ],
  ]
  it.each(cases)('%s', (_name, message, problem) => {
    expect(kustomizeProblem(message)).toBe(problem)
  })
})
