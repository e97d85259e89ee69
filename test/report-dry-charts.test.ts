// The helmCharts entries an environment loads at one DRY revision, from git
// objects: through its bases and components, with the vendored chart's
// Chart.yaml version, at the revision asked for (not the work tree).
import { afterAll, beforeAll, expect, it } from 'vitest'
import { readDryCharts } from '../actions/lib/report/dry-charts.js'
import { createTempRepo, type TempRepo } from './support/fleet-gen.js'

let repo: TempRepo
let first: string
let second: string

beforeAll(async () => {
  repo = await createTempRepo('fleet-promote-dry-charts-')
  first = await repo.commit({
    'components/cert-manager/kustomization.yaml': [
      'namespace: cert-manager',
      'helmCharts:',
      '  - name: cert-manager',
      '    repo: https://charts.jetstack.io',
      '    version: v1.15.4',
      '    releaseName: cm',
      '',
    ].join('\n'),
    'components/tools/kustomization.yaml': [
      'helmGlobals:',
      '  chartHome: vendor',
      'helmChartInflationGenerator:',
      '  - chartName: legacy',
      '    releaseName: old',
      '    releaseNamespace: tools',
      'helmCharts:',
      '  - name: toolbox',
      '    namespace: tools',
      '',
    ].join('\n'),
    'components/tools/vendor/toolbox/Chart.yaml': 'apiVersion: v2\nname: toolbox\nversion: 0.3.1\n',
    'components/tools/vendor/legacy/Chart.yaml': 'apiVersion: v2\nname: legacy\nversion: 2.0.0\n',
    'clusters/a/kustomization.yaml':
      'resources:\n  - ../../components/cert-manager\ncomponents:\n  - ../../components/tools\n',
    'clusters/b/kustomization.yaml': 'resources:\n  - ../../components/cert-manager\n',
  })
  second = await repo.commit({
    'components/cert-manager/kustomization.yaml':
      'helmCharts:\n  - name: cert-manager\n    repo: https://charts.jetstack.io\n    version: v1.16.2\n',
  })
})

afterAll(() => repo.cleanup())

it('lists the entries of every kustomization an environment loads, with vendored versions', async () => {
  const charts = await readDryCharts(repo.git, first, ['clusters/a', 'clusters/b'])
  expect(charts.get('clusters/a')).toEqual(
    expect.arrayContaining([
      {
        name: 'cert-manager',
        repo: 'https://charts.jetstack.io',
        version: 'v1.15.4',
        releaseName: 'cm',
        namespace: 'cert-manager',
        file: 'components/cert-manager/kustomization.yaml',
      },
      {
        name: 'toolbox',
        version: '0.3.1',
        namespace: 'tools',
        file: 'components/tools/kustomization.yaml',
      },
      {
        name: 'legacy',
        version: '2.0.0',
        releaseName: 'old',
        namespace: 'tools',
        file: 'components/tools/kustomization.yaml',
      },
    ]),
  )
  expect(charts.get('clusters/a')).toHaveLength(3)
  expect(charts.get('clusters/b')?.map((c) => c.name)).toEqual(['cert-manager'])
})

it('reads the revision asked for', async () => {
  const [old, now] = await Promise.all([
    readDryCharts(repo.git, first, ['clusters/b']),
    readDryCharts(repo.git, second, ['clusters/b']),
  ])
  expect(old.get('clusters/b')?.[0]?.version).toBe('v1.15.4')
  expect(now.get('clusters/b')?.[0]).toEqual({
    name: 'cert-manager',
    repo: 'https://charts.jetstack.io',
    version: 'v1.16.2',
    file: 'components/cert-manager/kustomization.yaml',
  })
})
