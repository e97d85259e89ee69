// A Helm chart repository on 127.0.0.1: charts made by the real `helm
// package`, an index.yaml from `helm repo index`, and a download counter per
// chart version (to prove the cache pulls each version once).
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runChecked } from '../../actions/lib/process.js'

export interface ChartSpec {
  name: string
  version: string
  /** Extra files of the chart (path relative to the chart dir → text); a ConfigMap template is added by default. */
  files?: Record<string, string>
}

export interface ChartRepo {
  url: string
  /** Downloads of `<name>-<version>.tgz` so far. */
  downloads(name: string, version: string): number
  totalDownloads(): number
  /** sha256 digest of a packaged chart, as `sha256:<hex>`. */
  digest(name: string, version: string): Promise<string>
  close(): Promise<void>
}

/** A minimal chart: one ConfigMap that shows its values. */
export function defaultChartFiles(name: string, version: string): Record<string, string> {
  return {
    'Chart.yaml': `apiVersion: v2\nname: ${name}\nversion: ${version}\nappVersion: "${version}"\n`,
    'values.yaml': 'replicas: 1\ncolor: blue\n',
    'templates/configmap.yaml': [
      'apiVersion: v1',
      'kind: ConfigMap',
      'metadata:',
      '  name: {{ .Release.Name }}-{{ .Chart.Name }}',
      'data:',
      '  chart: {{ .Chart.Name }}-{{ .Chart.Version }}',
      '  color: {{ .Values.color | quote }}',
      '  replicas: {{ .Values.replicas | quote }}',
      '',
    ].join('\n'),
  }
}

/** Writes a chart directory (used for local charts too). */
export async function writeChart(dir: string, spec: ChartSpec): Promise<void> {
  const files = { ...defaultChartFiles(spec.name, spec.version), ...spec.files }
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true })
    await writeFile(join(dir, path), text)
  }
}

export async function startChartRepo(
  charts: readonly ChartSpec[],
  helm = 'helm',
): Promise<ChartRepo> {
  const root = await mkdtemp(join(tmpdir(), 'fleet-promote-chart-repo-'))
  const packages = join(root, 'packages')
  await mkdir(packages)
  for (const spec of charts) {
    const source = join(root, 'src', `${spec.name}-${spec.version}`, spec.name)
    await writeChart(source, spec)
    await runChecked(helm, ['package', source, '--destination', packages])
  }
  const counts = new Map<string, number>()
  const server: Server = createServer((request, response) => {
    const name = decodeURIComponent((request.url ?? '/').split('?')[0]?.slice(1) ?? '')
    if (request.method !== 'GET' || name.includes('/') || name.includes('..') || name === '') {
      response.writeHead(404).end()
      return
    }
    readFile(join(packages, name)).then(
      (body) => {
        if (name.endsWith('.tgz')) counts.set(name, (counts.get(name) ?? 0) + 1)
        response.writeHead(200, {
          'content-type': name.endsWith('.yaml') ? 'text/yaml' : 'application/gzip',
        })
        response.end(body)
      },
      () => response.writeHead(404).end(),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  await runChecked(helm, ['repo', 'index', packages, '--url', url])
  return {
    url,
    downloads: (name, version) => counts.get(`${name}-${version}.tgz`) ?? 0,
    totalDownloads: () => [...counts.values()].reduce((sum, n) => sum + n, 0),
    async digest(name, version) {
      const bytes = await readFile(join(packages, `${name}-${version}.tgz`))
      return `sha256:${createHash('sha256').update(bytes).digest('hex')}`
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await rm(root, { recursive: true, force: true })
    },
  }
}
