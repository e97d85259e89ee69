// The dashboard as people read it: a headline, a Mermaid picture of clusters
// per version (behind the patch in red), a table per add-on, a section per
// drift kind with its fix, within GitHub's body limit, with untrusted text
// escaped.
import { describe, expect, it } from 'vitest'
import { buildReport } from '../actions/lib/report/build.js'
import { releaseKey } from '../actions/lib/report/chart-index.js'
import {
  addonLine,
  DASHBOARD_MARKER,
  renderMermaid,
  renderReport,
  renderText,
} from '../actions/lib/report/markdown.js'
import type { DriftFinding, EnvironmentInventory } from '../actions/lib/report/types.js'

const REPO = 'https://charts.jetstack.io'

function env(name: string, version: string): EnvironmentInventory {
  return {
    name,
    stage: 'production',
    path: `clusters/${name}`,
    branch: `env/${name}`,
    wetSha: 'a'.repeat(40),
    objects: 1,
    charts: [
      { addon: 'cert-manager', chart: 'cert-manager', version, source: 'label', repo: REPO },
    ],
    images: [
      {
        addon: 'cert-manager',
        image: `quay.io/jetstack/cert-manager-controller:${version}`,
        repository: 'quay.io/jetstack/cert-manager-controller',
        tag: version,
        workload: 'Deployment/cert-manager/cert-manager',
        container: 'controller',
      },
    ],
    addons: { 'cert-manager': version },
    problems: [],
  }
}

function report(findings: DriftFinding[] = []) {
  const environments = [
    ...['eu-test-1', 'us-test-1', 'sdbx-eu1', 'eu-prod-1', 'us-prod-1'].map((n) =>
      env(n, 'v1.16.2'),
    ),
    ...['eu-prod-2', 'ap-prod-1', 'us-prod-2'].map((n) => env(n, 'v1.15.4')),
  ]
  return buildReport({
    generatedAt: '2026-12-01T06:00:00Z',
    dry: { branch: 'main', sha: 'd'.repeat(40) },
    environments,
    releases: new Map([
      [
        releaseKey(REPO, 'cert-manager'),
        { status: 'known', versions: ['v1.15.4', 'v1.15.5', 'v1.16.2', 'v1.17.0'] },
      ],
    ]),
    allowedRepos: [REPO],
    minimums: [{ chart: 'cert-manager', version: 'v1.15.5', reason: 'CVE-2025-0001' }],
    drift: { findings, promotions: [] },
    warnings: [],
  })
}

it('says where each version runs in one line, as the issue asks', () => {
  expect(addonLine(report().addons[0]!)).toBe(
    'cert-manager: v1.16.2 on 5 clusters, v1.15.4 on 3 (ap-prod-1, eu-prod-2, us-prod-2)',
  )
})

it('draws clusters per version, below the minimum and behind the patch in red', () => {
  const mermaid = renderMermaid(report())
  expect(mermaid.split('\n')[0]).toBe('```mermaid')
  expect(mermaid).toContain('a0["cert-manager"]:::addon')
  expect(mermaid).toContain('a0 --> a0v0["v1.16.2<br/>5 clusters"]:::newest')
  expect(mermaid).toContain('a0 --> a0v1["v1.15.4<br/>3 clusters"]:::minimum')
  expect(mermaid).toMatch(/classDef behind fill:#ffebe9,stroke:#cf222e/)
})

it('keeps markup out of Mermaid labels', () => {
  const hostile = env('x', 'v1"]; click a0 call alert(1) %%')
  const text = renderMermaid(buildReport({ ...reportInputFor([hostile]) }))
  expect(text).toContain('a0 --> a0v0["v1___ click a0 call alert_1_ __<br/>1 cluster"]:::unknown')
})

function reportInputFor(environments: EnvironmentInventory[]) {
  return {
    generatedAt: '2026-12-01T06:00:00Z',
    dry: { branch: 'main', sha: 'd'.repeat(40) },
    environments,
    releases: new Map(),
    allowedRepos: [],
    minimums: [],
    drift: { findings: [], promotions: [] },
    warnings: [],
  }
}

describe('renderReport', () => {
  const findings: DriftFinding[] = [
    {
      kind: 'wet',
      environment: 'eu-prod-1',
      problems: ['1 changed compared with the render of main ddddddd', 'changed by hand'],
      command: 'fleet-promote render --env clusters/eu-prod-1 --remote origin --push',
    },
    {
      kind: 'argocd',
      environment: 'us-prod-1',
      problems: ['us-prod-1-addons is Degraded: <img src=x onerror=alert(1)> | broken'],
      link: {
        text: 'us-prod-1-addons in Argo CD',
        url: 'https://argocd.example.com/applications/us-prod-1-addons',
      },
    },
  ]

  it('starts with the marker and has a table per add-on and a section per drift kind', () => {
    const body = renderReport(report(findings), {
      limit: 65_536,
      marker: true,
      runUrl: 'https://github.com/acme/fleet/actions/runs/1',
    })
    expect(body.startsWith(`${DASHBOARD_MARKER}\n`)).toBe(true)
    expect(body).toContain(
      '8 clusters · 1 add-on · **3 clusters behind the newest patch** · **🔴 3 below a required minimum** · **drift: 1 WET, 1 Argo CD, 0 orphaned**',
    )
    expect(body).toContain('[run](https://github.com/acme/fleet/actions/runs/1)')
    expect(body).toContain(
      '| `v1.15.4` | 3: ap-prod-1, eu-prod-2, us-prod-2 | `v1.15.5` | `v1.17.0` | 🔴 below the minimum v1.15.5 |',
    )
    expect(body).toContain(
      '| `v1.16.2` | 5: eu-prod-1, eu-test-1, sdbx-eu1, us-prod-1, us-test-1 | `v1.16.2` | `v1.17.0` | 🟢 newest patch |',
    )
    expect(body).toContain('minimum `v1.15.5` (CVE-2025-0001)')
    expect(body).toContain('### WET branch is not the render of the DRY branch (1)')
    expect(body).toContain(
      '| eu-prod-1 | 1 changed compared with the render of main ddddddd<br>changed by hand | `fleet-promote render --env clusters/eu-prod-1 --remote origin --push` |',
    )
    expect(body).toContain(
      '### Application on the child branch of a closed or deleted parent (0)\n\nNone.',
    )
  })

  it('escapes text from Argo CD and manifests', () => {
    const body = renderReport(report(findings), { limit: 65_536 })
    expect(body).not.toContain('<img')
    expect(body).toContain('is Degraded: &lt;img src=x onerror=alert(1)&gt; \\| broken')
  })

  it('stays within the limit with hundreds of findings', () => {
    const many: DriftFinding[] = Array.from({ length: 600 }, (_, i) => ({
      kind: 'argocd',
      environment: `cluster-${String(i).padStart(3, '0')}`,
      problems: [`cluster-${i}-addons is OutOfSync`],
      command: `argocd app sync cluster-${i}-addons`,
    }))
    const body = renderReport(report(many), { limit: 65_536, rowsPerSection: 30 })
    expect(body.length).toBeLessThanOrEqual(65_536)
    expect(body).toContain('… and 570 more (the `report` JSON output lists all).')
    expect(renderReport(report(many), { limit: 10_000 }).length).toBeLessThanOrEqual(10_000)
  })
})

it('prints a short table for the terminal', () => {
  const text = renderText(report())
  expect(text.split('\n').slice(0, 3)).toEqual([
    'add-on        version  clusters                                                  newest patch  state',
    'cert-manager  v1.16.2  5 (eu-prod-1, eu-test-1, sdbx-eu1, us-prod-1, us-test-1)  v1.16.2       ok',
    'cert-manager  v1.15.4  3 (ap-prod-1, eu-prod-2, us-prod-2)                       v1.15.5       BELOW MINIMUM',
  ])
})
