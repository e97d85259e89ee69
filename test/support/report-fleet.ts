// The example fleet as the fleet report sees it: examples/fleet with
// cert-manager pulled from a chart repository on 127.0.0.1 that serves newer
// releases than the fleet deploys (ap-prod-1 on an older minor through a
// second component), every environment rendered with the real hydrate core
// and published as its WET branch, and everything pushed to a remote.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { discoverEnvironments, parseConfig } from '../../actions/lib/config/config.js'
import type { Environment } from '../../actions/lib/config/types.js'
import { Git } from '../../actions/lib/git/git.js'
import { hydrate } from '../../actions/lib/render/hydrate.js'
import { publishRender } from '../fixtures/render/wet-branch.js'
import { startChartRepo, type ChartRepo, type ChartSpec } from './chart-repo.js'
import { createTempRepo, type FileChanges } from './fleet-gen.js'

const EXAMPLE = fileURLToPath(new URL('../../examples/fleet', import.meta.url))
const CHART_DIR = join(EXAMPLE, 'components/cert-manager/charts/cert-manager')

export const IDENTITY = {
  GIT_AUTHOR_NAME: 'Fleet Test',
  GIT_AUTHOR_EMAIL: 'fleet-test@example.com',
  GIT_COMMITTER_NAME: 'Fleet Test',
  GIT_COMMITTER_EMAIL: 'fleet-test@example.com',
}

/** Releases in the chart repository; the fleet runs v1.16.1 (and v1.15.4 on ap-prod-1). */
export const CERT_MANAGER_RELEASES = ['v1.15.4', 'v1.15.5', 'v1.16.1', 'v1.16.3', 'v1.17.2']

async function readTree(dir: string, prefix = ''): Promise<Record<string, string>> {
  const files: Record<string, string> = {}
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name
    if (entry.isDirectory()) Object.assign(files, await readTree(join(dir, entry.name), path))
    else files[path] = await readFile(join(dir, entry.name), 'utf8')
  }
  return files
}

/** The example cert-manager chart at `version`, with Helm's standard chart and instance labels. */
export async function certManagerChart(version: string): Promise<ChartSpec> {
  const files = await readTree(CHART_DIR)
  for (const [path, text] of Object.entries(files)) {
    files[path] = text
      .replace(/^version: .*$/m, `version: ${version}`)
      .replace(/^appVersion: .*$/m, `appVersion: ${version}`)
      .replace(
        /^(\s+)app\.kubernetes\.io\/name: \{\{ \.Chart\.Name \}\}$/gm,
        '$1app.kubernetes.io/name: {{ .Chart.Name }}\n$1helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}\n$1app.kubernetes.io/instance: {{ .Release.Name }}',
      )
      .replace('{{ .Values.image.tag }}', '{{ .Values.image.tag | default .Chart.AppVersion }}')
  }
  files['values.yaml'] = (files['values.yaml'] ?? '').replace(/^ {2}tag: .*\n/m, '')
  return { name: 'cert-manager', version, files }
}

export function startCertManagerRepo(): Promise<ChartRepo> {
  return Promise.all(CERT_MANAGER_RELEASES.map(certManagerChart)).then((charts) =>
    startChartRepo(charts),
  )
}

/** An http:// URL on 127.0.0.1 where nothing listens: a port bound once, then closed. */
export async function unreachableUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}`
}

export interface ReportFleet {
  /** The clone everything was committed in (origin is the remote). */
  work: Git
  environments: Environment[]
  drySha: string
  /** WET branch → tip. */
  wetTips: Map<string, string>
  cleanup(): Promise<void>
}

function certManagerKustomization(repo: string, version: string): string {
  return [
    'apiVersion: kustomize.config.k8s.io/v1beta1',
    'kind: Kustomization',
    'resources:',
    '  - namespace.yaml',
    'helmCharts:',
    '  - name: cert-manager',
    `    repo: ${repo}`,
    `    version: ${version}`,
    '    releaseName: cert-manager',
    '    namespace: cert-manager',
    '    valuesFile: values.yaml',
    '    includeCRDs: true',
    '',
  ].join('\n')
}

/**
 * Builds the fleet and pushes `main` and every `env/<cluster>` to `remote`
 * (a path or URL; `token` for the GitHub simulator). `unreachableRepo` is
 * allowed and named as ingress-nginx's release repository, but nothing answers there.
 */
export async function createReportFleet(options: {
  remote: string
  chartRepoUrl: string
  unreachableRepo: string
  token?: string
  serverUrl?: string
}): Promise<ReportFleet> {
  const files: FileChanges = await readTree(EXAMPLE)
  for (const path of Object.keys(files)) {
    if (path.startsWith('components/cert-manager/charts/')) delete files[path]
  }
  files['components/cert-manager/kustomization.yaml'] = certManagerKustomization(
    options.chartRepoUrl,
    'v1.16.1',
  )
  files['components/cert-manager/values.yaml'] = 'replicaCount: 2\n'
  for (const path of Object.keys(files).filter((p) => p.startsWith('components/cert-manager/'))) {
    files[path.replace('components/cert-manager/', 'components/cert-manager-lts/')] =
      files[path] ?? ''
  }
  files['components/cert-manager-lts/kustomization.yaml'] = certManagerKustomization(
    options.chartRepoUrl,
    'v1.15.4',
  )
  const apProd = 'clusters/prod-ap/ap-prod-1/kustomization.yaml'
  files[apProd] = (files[apProd] ?? '').replace(
    'components/cert-manager\n',
    'components/cert-manager-lts\n',
  )
  const config = `${(files['fleet-promote.yaml'] ?? '').replace(
    '  helm:\n    enabled: true\n',
    `  helm:\n    enabled: true\n    allowedRepos: ['${options.chartRepoUrl}', '${options.unreachableRepo}']\n`,
  )}${[
    'report:',
    '  minimumVersions:',
    '    - chart: cert-manager',
    '      version: v1.16.0',
    '      reason: "CVE-2024-12345: ACME challenge DoS, fixed in 1.16.0"',
    '  chartRepositories:',
    '    - chart: ingress-nginx',
    `      repo: ${options.unreachableRepo}`,
    '',
  ].join('\n')}`
  files['fleet-promote.yaml'] = config

  const repo = await createTempRepo('fleet-promote-report-fleet-')
  const drySha = await repo.commit(files, 'fleet: cert-manager from the chart repository')
  const git = new Git(repo.dir, {
    env: IDENTITY,
    ...(options.token ? { token: options.token } : {}),
    ...(options.serverUrl ? { serverUrl: options.serverUrl } : {}),
  })
  const parsed = parseConfig(config, 'fleet-promote.yaml')
  const environments = discoverEnvironments(parsed, await git.listFiles('HEAD'))
  const out = await mkdtemp(join(tmpdir(), 'fleet-promote-report-render-'))
  try {
    const { result } = await hydrate({
      repoDir: repo.dir,
      environments,
      outputDir: out,
      settings: parsed.hydrate,
      repoURL: options.remote,
    })
    const failed = result.environments.filter((env) => env.status !== 'rendered')
    if (failed.length > 0)
      throw new Error(`report fleet: ${failed[0]?.name} not rendered: ${failed[0]?.reason}`)
    const wetTips = new Map<string, string>()
    for (const env of result.environments) {
      wetTips.set(env.branch, await publishRender(git, env.branch, join(out, env.outputDir)))
    }
    await git.run(['remote', 'add', 'origin', options.remote])
    await git.push('origin', [
      '+refs/heads/main:refs/heads/main',
      ...[...wetTips.keys()].map((branch) => `+refs/heads/${branch}:refs/heads/${branch}`),
    ])
    return { work: git, environments, drySha, wetTips, cleanup: () => repo.cleanup() }
  } finally {
    await rm(out, { recursive: true, force: true })
  }
}
