// An OCI registry's tag listing on 127.0.0.1, as the distribution spec
// describes it: `GET /v2/<name>/tags/list` answers 401 with a Bearer
// challenge until a token from the realm is presented, lists tags in lexical
// order, and pages with `n`/`last` and a `Link: <…>; rel="next"` header (the
// registry may cap `n`). Only what the fleet report reads.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface OciRegistry {
  url: string
  /** `127.0.0.1:PORT`, as an `oci://` reference names it. */
  host: string
  requests: string[]
  close(): Promise<void>
}

export async function startOciRegistry(
  repositories: Record<string, string[]>,
  options: { pageSize?: number } = {},
): Promise<OciRegistry> {
  const token = 'anonymous-pull-token'
  const requests: string[] = []
  let base = ''
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', base)
    requests.push(`${request.method} ${url.pathname}${url.search}`)
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response
        .writeHead(status, { 'content-type': 'application/json', ...headers })
        .end(JSON.stringify(body))
    }
    if (url.pathname === '/token') {
      const scope = url.searchParams.get('scope') ?? ''
      if (
        url.searchParams.get('service') !== 'registry.test' ||
        !/^repository:[^:]+:pull$/.test(scope)
      ) {
        json(400, { errors: [{ code: 'DENIED', message: 'bad token request' }] })
      } else json(200, { token })
      return
    }
    const match = /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname)
    if (!match?.[1]) {
      json(404, { errors: [{ code: 'UNSUPPORTED', message: 'not found' }] })
      return
    }
    const name = match[1]
    if (request.headers.authorization !== `Bearer ${token}`) {
      json(
        401,
        { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] },
        {
          'www-authenticate': `Bearer realm="${base}/token",service="registry.test",scope="repository:${name}:pull"`,
        },
      )
      return
    }
    const tags = repositories[name]
    if (!tags) {
      json(404, {
        errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }],
      })
      return
    }
    const sorted = [...tags].sort()
    const last = url.searchParams.get('last')
    const start = last === null ? 0 : sorted.findIndex((tag) => tag > last)
    const wanted = Number(url.searchParams.get('n') ?? sorted.length)
    const n = Math.min(wanted, options.pageSize ?? wanted)
    const page = start === -1 ? [] : sorted.slice(start, start + n)
    const more = start !== -1 && start + n < sorted.length
    const link: Record<string, string> = more
      ? {
          link: `</v2/${name}/tags/list?n=${wanted}&last=${encodeURIComponent(page[page.length - 1] ?? '')}>; rel="next"`,
        }
      : {}
    json(200, { name, tags: page }, link)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  base = `http://127.0.0.1:${port}`
  return {
    url: base,
    host: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
