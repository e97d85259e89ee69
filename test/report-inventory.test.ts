// What an environment runs, read from its WET branch: chart releases from the
// helm.sh/chart label or the DRY helmCharts entry, images of every workload.
import { describe, expect, it } from 'vitest'
import {
  metadataDrySha,
  parseChartLabel,
  parseImage,
  readInventory,
  type DryChart,
} from '../actions/lib/report/inventory.js'

const env = {
  name: 'eu-prod-1',
  path: 'clusters/eu/eu-prod-1',
  stage: 'production',
  branch: 'env/eu-prod-1',
}

function wet(manifest: string, metadata?: string) {
  return {
    sha: 'a'.repeat(40),
    files: new Map([['manifest.yaml', manifest]]),
    ...(metadata !== undefined ? { metadata } : {}),
  }
}

const certManager = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: cert-manager
  namespace: cert-manager
  labels:
    helm.sh/chart: cert-manager-v1.16.2
    app.kubernetes.io/instance: cert-manager
spec:
  template:
    spec:
      initContainers:
        - name: init
          image: busybox
      containers:
        - name: controller
          image: quay.io/jetstack/cert-manager-controller:v1.16.2@sha256:${'b'.repeat(64)}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: cleanup
  namespace: ops
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: job
              image: registry.example.com:5000/ops/cleanup:2024.1
`

describe('parseChartLabel', () => {
  it.each([
    ['cert-manager-v1.16.2', [], { chart: 'cert-manager', version: 'v1.16.2' }],
    ['kube-prometheus-stack-65.1.0', [], { chart: 'kube-prometheus-stack', version: '65.1.0' }],
    ['app-1.0.0-rc.1', [], { chart: 'app', version: '1.0.0-rc.1' }],
    ['app-1.0.0_build.5', [], { chart: 'app', version: '1.0.0+build.5' }],
    // A chart whose name has a digit after a dash is only split right when the DRY entry names it.
    ['k8s-2fa-1.2.3', ['k8s-2fa'], { chart: 'k8s-2fa', version: '1.2.3' }],
  ])('%s', (label, known, expected) => {
    expect(parseChartLabel(label, known)).toEqual(expected)
  })

  it('refuses labels without a version', () => {
    expect(parseChartLabel('cert-manager')).toBeUndefined()
  })
})

describe('parseImage', () => {
  it.each([
    ['nginx', { repository: 'nginx' }],
    ['nginx:1.27', { repository: 'nginx', tag: '1.27' }],
    ['registry:5000/team/app', { repository: 'registry:5000/team/app' }],
    ['registry:5000/team/app:2.0', { repository: 'registry:5000/team/app', tag: '2.0' }],
    [`app@sha256:${'c'.repeat(64)}`, { repository: 'app', digest: `sha256:${'c'.repeat(64)}` }],
  ])('%s', (image, expected) => {
    expect(parseImage(image)).toEqual(expected)
  })
})

it('metadataDrySha reads a commit SHA and nothing else', () => {
  expect(metadataDrySha(JSON.stringify({ drySha: 'D'.repeat(40) }))).toBe('d'.repeat(40))
  expect(metadataDrySha(JSON.stringify({ drySha: 'main' }))).toBeUndefined()
  expect(metadataDrySha('not json')).toBeUndefined()
  expect(metadataDrySha(undefined)).toBeUndefined()
})

describe('readInventory', () => {
  it('takes the chart version from the label and the repository from the DRY entry', () => {
    const dry: DryChart[] = [
      {
        name: 'cert-manager',
        repo: 'https://charts.jetstack.io',
        version: 'v1.16.1',
        releaseName: 'cert-manager',
        namespace: 'cert-manager',
        file: 'components/cert-manager/kustomization.yaml',
      },
    ]
    const inventory = readInventory(
      env,
      wet(certManager, JSON.stringify({ drySha: 'd'.repeat(40) })),
      dry,
    )
    // The label is what was rendered; the entry only says where it came from.
    expect(inventory.charts).toEqual([
      {
        addon: 'cert-manager',
        chart: 'cert-manager',
        version: 'v1.16.2',
        source: 'label',
        release: 'cert-manager',
        namespace: 'cert-manager',
        repo: 'https://charts.jetstack.io',
      },
    ])
    expect(inventory.drySha).toBe('d'.repeat(40))
    expect(inventory.objects).toBe(2)
    expect(inventory.images).toEqual([
      expect.objectContaining({
        addon: 'cert-manager',
        repository: 'quay.io/jetstack/cert-manager-controller',
        tag: 'v1.16.2',
        digest: `sha256:${'b'.repeat(64)}`,
      }),
      expect.objectContaining({
        addon: 'cert-manager',
        image: 'busybox',
        container: 'init',
        workload: 'Deployment/cert-manager/cert-manager',
      }),
      expect.objectContaining({
        addon: 'ops',
        repository: 'registry.example.com:5000/ops/cleanup',
        tag: '2024.1',
        workload: 'CronJob/ops/cleanup',
      }),
    ])
    expect(inventory.addons).toEqual({ 'cert-manager': 'v1.16.2', ops: 'cleanup:2024.1' })
  })

  it('falls back to the DRY entry (and its namespace) when the chart sets no label', () => {
    const manifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ingress-nginx-controller
  namespace: ingress-nginx
spec:
  template:
    spec:
      containers:
        - name: controller
          image: registry.k8s.io/ingress-nginx/controller:v1.11.3
`
    const dry: DryChart[] = [
      { name: 'ingress-nginx', version: '4.11.3', namespace: 'ingress-nginx', file: 'k.yaml' },
    ]
    const repos = new Map([['ingress-nginx', 'https://kubernetes.github.io/ingress-nginx']])
    const inventory = readInventory(env, wet(manifest), dry, repos)
    expect(inventory.charts).toEqual([
      {
        addon: 'ingress-nginx',
        chart: 'ingress-nginx',
        version: '4.11.3',
        source: 'dry',
        namespace: 'ingress-nginx',
        repo: 'https://kubernetes.github.io/ingress-nginx',
      },
    ])
    expect(inventory.images[0]?.addon).toBe('ingress-nginx')
    expect(inventory.addons).toEqual({ 'ingress-nginx': '4.11.3' })
  })

  it('reports an unreadable manifest instead of failing', () => {
    const inventory = readInventory(env, wet('a: [unclosed\n'), [])
    expect(inventory.problems).toHaveLength(1)
    expect(inventory.problems[0]).toMatch(/^manifest\.yaml: /)
    expect(inventory.charts).toEqual([])
  })

  it('an environment without a WET branch runs nothing', () => {
    const inventory = readInventory(env, { sha: '', files: new Map() }, [])
    expect(inventory).toMatchObject({ wetSha: '', objects: 0, charts: [], images: [], addons: {} })
  })
})
