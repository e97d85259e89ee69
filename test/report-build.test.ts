// The report's decisions, from records: newest releases with semver, the
// clusters behind the newest patch or a minimum, and the exit status.
import { describe, expect, it } from 'vitest'
import {
  buildReport,
  failureReasons,
  releasesToLookUp,
  type ReportInput,
} from '../actions/lib/report/build.js'
import { releaseKey } from '../actions/lib/report/chart-index.js'
import { compareVersionsDescending, newestVersions } from '../actions/lib/report/releases.js'
import type { ChartRelease, EnvironmentInventory } from '../actions/lib/report/types.js'

const JETSTACK = 'https://charts.jetstack.io'
const available = [
  'v1.14.5',
  'v1.15.4',
  'v1.15.5',
  'v1.16.1',
  'v1.16.3',
  'v1.17.0-rc.1',
  'v1.17.2',
  'v2.0.0',
  'not-a-version',
]

describe('newestVersions', () => {
  it.each([
    ['v1.16.1', { patch: 'v1.16.3', minor: 'v1.17.2', major: 'v2.0.0' }],
    ['1.15.4', { patch: 'v1.15.5', minor: 'v1.17.2', major: 'v2.0.0' }],
    // Pre-releases never count as newer; a deployed version newer than any release is its own newest.
    ['v1.17.2', { patch: 'v1.17.2', minor: 'v1.17.2', major: 'v2.0.0' }],
    ['v1.18.0', { minor: 'v1.17.2', major: 'v2.0.0' }],
    ['latest', { major: 'v2.0.0' }],
  ])('%s', (deployed, expected) => {
    expect(newestVersions(deployed, available)).toEqual(expected)
  })

  it('knows nothing without releases', () => {
    expect(newestVersions('1.0.0', [])).toEqual({})
  })
})

it('sorts versions newest first, non-semantic ones last', () => {
  expect(['1.2.0', 'abc', 'v1.10.0', '1.9.9'].sort(compareVersionsDescending)).toEqual([
    'v1.10.0',
    '1.9.9',
    '1.2.0',
    'abc',
  ])
})

function inventory(
  name: string,
  charts: Array<Partial<ChartRelease> & { chart: string; version: string }>,
  addons: Record<string, string> = {},
): EnvironmentInventory {
  return {
    name,
    stage: 'production',
    path: `clusters/${name}`,
    branch: `env/${name}`,
    wetSha: 'a'.repeat(40),
    objects: 3,
    charts: charts.map((chart) => ({ addon: chart.chart, source: 'label', ...chart })),
    images: [],
    addons: {
      ...Object.fromEntries(charts.map((chart) => [chart.chart, chart.version])),
      ...addons,
    },
    problems: [],
  }
}

function input(overrides: Partial<ReportInput> = {}): ReportInput {
  const environments = [
    inventory('eu-prod-1', [{ chart: 'cert-manager', version: 'v1.16.1', repo: JETSTACK }]),
    inventory('eu-prod-2', [{ chart: 'cert-manager', version: 'v1.16.1', repo: JETSTACK }]),
    inventory('eu-test-1', [{ chart: 'cert-manager', version: 'v1.16.3', repo: JETSTACK }]),
    inventory(
      'us-prod-1',
      [
        { chart: 'cert-manager', version: 'v1.15.4', repo: JETSTACK },
        { chart: 'local-tool', version: '0.1.0' },
      ],
      {
        monitoring: 'prometheus:v2.55.1',
      },
    ),
  ]
  return {
    generatedAt: '2026-12-01T00:00:00Z',
    dry: { branch: 'main', sha: 'd'.repeat(40) },
    environments,
    releases: new Map([
      [releaseKey(JETSTACK, 'cert-manager'), { status: 'known', versions: available }],
    ]),
    allowedRepos: [JETSTACK],
    minimums: [],
    drift: { findings: [], promotions: [] },
    warnings: [],
    ...overrides,
  }
}

describe('buildReport', () => {
  it('groups versions per add-on and names the clusters behind the newest patch', () => {
    const report = buildReport(input())
    const cert = report.addons.find((addon) => addon.name === 'cert-manager')
    expect(cert).toMatchObject({
      kind: 'chart',
      repos: [JETSTACK],
      latest: 'v2.0.0',
      releases: 'known',
    })
    expect(cert?.versions.map((v) => [v.version, v.environments, v.behindPatch])).toEqual([
      ['v1.16.3', ['eu-test-1'], false],
      ['v1.16.1', ['eu-prod-1', 'eu-prod-2'], true],
      ['v1.15.4', ['us-prod-1'], true],
    ])
    expect(report.behind.map((b) => `${b.environment} ${b.version}→${b.newestPatch}`)).toEqual([
      'eu-prod-1 v1.16.1→v1.16.3',
      'eu-prod-2 v1.16.1→v1.16.3',
      'us-prod-1 v1.15.4→v1.15.5',
    ])
    expect(report.totals).toMatchObject({
      environments: 4,
      addons: 3,
      behindPatch: 3,
      belowMinimum: 0,
    })
    expect(report.addons.find((a) => a.name === 'local-tool')).toMatchObject({
      releases: 'vendored',
      versions: [{ version: '0.1.0', behindPatch: false }],
    })
    expect(report.addons.find((a) => a.name === 'monitoring')).toMatchObject({
      kind: 'images',
      releases: 'none',
    })
  })

  it('turns clusters below a configured minimum red', () => {
    const report = buildReport(
      input({ minimums: [{ chart: 'cert-manager', version: '1.16.0', reason: 'CVE-2024-0001' }] }),
    )
    expect(report.behind.filter((b) => b.belowMinimum).map((b) => b.environment)).toEqual([
      'us-prod-1',
    ])
    expect(report.totals.belowMinimum).toBe(1)
    expect(report.addons.find((a) => a.name === 'cert-manager')?.minimum).toEqual({
      version: '1.16.0',
      reason: 'CVE-2024-0001',
    })
  })

  it('an unreachable repository is a warning for that chart, and nothing is behind', () => {
    const report = buildReport(
      input({
        releases: new Map([
          [
            releaseKey(JETSTACK, 'cert-manager'),
            { status: 'unreachable', note: `cannot reach ${JETSTACK}/index.yaml (ECONNREFUSED)` },
          ],
        ]),
      }),
    )
    expect(report.addons.find((a) => a.name === 'cert-manager')).toMatchObject({
      releases: 'unreachable',
    })
    expect(report.behind).toEqual([])
    expect(report.warnings).toEqual([
      `cert-manager: newest releases unknown: cannot reach ${JETSTACK}/index.yaml (ECONNREFUSED)`,
    ])
  })

  it('never asks a repository outside hydrate.helm.allowedRepos', () => {
    const base = input()
    expect(releasesToLookUp(base.environments, [JETSTACK])).toEqual([
      { repo: JETSTACK, chart: 'cert-manager' },
    ])
    expect(releasesToLookUp(base.environments, ['https://other.example.com'])).toEqual([])
    const report = buildReport({ ...base, allowedRepos: ['https://other.example.com'] })
    expect(report.addons.find((a) => a.name === 'cert-manager')).toMatchObject({
      releases: 'not-allowed',
    })
  })
})

describe('failureReasons', () => {
  it('fails only on what fail-on names', () => {
    const report = buildReport(
      input({
        minimums: [{ chart: 'cert-manager', version: '1.16.0', reason: '' }],
        drift: {
          findings: [{ kind: 'wet', environment: 'eu-prod-1', problems: ['x'] }],
          promotions: [],
        },
      }),
    )
    expect(failureReasons(report, new Set())).toEqual([])
    expect(failureReasons(report, new Set(['drift']))).toEqual(['1 drift finding'])
    expect(failureReasons(report, new Set(['below-minimum', 'behind-patch']))).toEqual([
      '1 cluster below a required minimum',
      '3 clusters behind the newest patch',
    ])
    expect(failureReasons(buildReport(input()), new Set(['drift', 'below-minimum']))).toEqual([])
  })
})
