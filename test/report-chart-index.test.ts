// Newest releases from where charts are published: a Helm repository's
// index.yaml (one request per repository) and an OCI registry's tag list
// (anonymous token, pagination). A repository that cannot be read is an
// answer for its charts, never an exception.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lookupReleases, releaseKey } from '../actions/lib/report/chart-index.js'
import { startOciRegistry, type OciRegistry } from './support/oci-registry.js'

let server: Server
let url = ''
const requests: string[] = []

const index = `apiVersion: v1
entries:
  cert-manager:
    - version: v1.16.3
      urls: [cert-manager-v1.16.3.tgz]
    - version: v1.16.1
      urls: [cert-manager-v1.16.1.tgz]
  ingress-nginx:
    - version: 4.12.0
generated: "2026-01-01T00:00:00Z"
`

beforeAll(async () => {
  server = createServer((request, response) => {
    requests.push(request.url ?? '')
    if (request.url === '/good/index.yaml') response.writeHead(200).end(index)
    else if (request.url === '/broken/index.yaml') response.writeHead(200).end('entries: [unclosed')
    else if (request.url === '/not-helm/index.yaml') response.writeHead(200).end('hello: world\n')
    else response.writeHead(500).end('oops')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

describe('Helm repositories', () => {
  it('reads index.yaml once for every chart of the repository', async () => {
    requests.length = 0
    const repo = `${url}/good/`
    const result = await lookupReleases([
      { repo, chart: 'cert-manager' },
      { repo, chart: 'ingress-nginx' },
      { repo, chart: 'absent' },
    ])
    expect(requests).toEqual(['/good/index.yaml'])
    expect(result.get(releaseKey(repo, 'cert-manager'))).toEqual({
      status: 'known',
      versions: ['v1.16.3', 'v1.16.1'],
    })
    expect(result.get(releaseKey(repo, 'ingress-nginx'))).toEqual({
      status: 'known',
      versions: ['4.12.0'],
    })
    expect(result.get(releaseKey(repo, 'absent'))).toEqual({
      status: 'not-found',
      note: `chart absent is not in ${repo}/index.yaml`,
    })
  })

  it.each([
    ['an HTTP error', '/down', /answered HTTP 500$/],
    ['invalid YAML', '/broken', /is not valid YAML/],
    [
      'a document that is not an index',
      '/not-helm',
      /is not a Helm repository index \(no "entries"\)$/,
    ],
  ])('turns %s into "unreachable" for its charts', async (_name, path, note) => {
    const repo = `${url}${path}`
    const result = await lookupReleases([{ repo, chart: 'cert-manager' }])
    const lookup = result.get(releaseKey(repo, 'cert-manager'))
    expect(lookup?.status).toBe('unreachable')
    expect(lookup?.status !== 'known' && lookup?.note).toMatch(note)
  })

  it('a repository nothing answers at is unreachable, quickly', async () => {
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const port = (probe.address() as AddressInfo).port
    await new Promise<void>((resolve) => probe.close(() => resolve()))
    const repo = `http://127.0.0.1:${port}`
    const lookup = (await lookupReleases([{ repo, chart: 'x' }])).get(releaseKey(repo, 'x'))
    expect(lookup).toMatchObject({ status: 'unreachable' })
    expect(lookup?.status !== 'known' && lookup?.note).toMatch(
      new RegExp(`^cannot reach ${repo}/index\\.yaml \\(.*ECONNREFUSED`),
    )
  })
})

describe('OCI registries', () => {
  let registry: OciRegistry
  beforeAll(async () => {
    registry = await startOciRegistry(
      {
        'charts/cert-manager': [
          'v1.15.4',
          'v1.16.1',
          'v1.16.3',
          'v1.17.0_build.1',
          'sha256-abc.sig',
        ],
      },
      { pageSize: 2 },
    )
  })
  afterAll(() => registry.close())

  it('lists the tags with an anonymous token, page by page', async () => {
    const repo = `oci://${registry.host}/charts`
    const result = await lookupReleases([{ repo, chart: 'cert-manager' }])
    expect(result.get(releaseKey(repo, 'cert-manager'))).toEqual({
      status: 'known',
      versions: ['sha256-abc.sig', 'v1.15.4', 'v1.16.1', 'v1.16.3', 'v1.17.0+build.1'],
    })
    const pages = registry.requests.filter((r) => r.includes('/tags/list'))
    // One unauthenticated try, then three pages of two.
    expect(pages).toHaveLength(4)
    expect(registry.requests.filter((r) => r.startsWith('GET /token'))).toHaveLength(1)
  })

  it('an unknown chart is "not-found"', async () => {
    const repo = `oci://${registry.host}/charts`
    const lookup = (await lookupReleases([{ repo, chart: 'nope' }])).get(releaseKey(repo, 'nope'))
    expect(lookup).toEqual({
      status: 'not-found',
      note: `${repo}/nope does not exist in the registry`,
    })
  })
})
