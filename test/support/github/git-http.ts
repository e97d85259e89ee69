/**
 * Git smart-HTTP through the real `git http-backend` CGI, with GitHub's
 * authentication: a token as the basic-auth password (`x-access-token:<token>`).
 */
import { spawn } from 'node:child_process'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createGunzip } from 'node:zlib'
import { gitEnv } from './git-repo.js'
import type { PullRefs } from './pull-refs.js'
import { roleAtLeast, type Store } from './store.js'
import type { SimRepo, SimUser } from './types.js'

const GIT_PATH = /^\/([^/]+)\/([^/]+?)\.git(\/.*)$/

export interface GitRoute {
  repo: string
  /** `/{owner}/{repo}.git/info/refs`, `/{owner}/{repo}.git/git-upload-pack`, … */
  template: string
  pathInfo: string
  push: boolean
}

/** Recognizes a smart-HTTP request path; undefined when it is not one. */
export function matchGitRoute(url: URL): GitRoute | undefined {
  const match = GIT_PATH.exec(url.pathname)
  if (!match) return undefined
  const [, owner = '', name = '', rest = ''] = match
  const push =
    rest === '/git-receive-pack' || url.searchParams.get('service') === 'git-receive-pack'
  return {
    repo: `${decodeURIComponent(owner)}/${decodeURIComponent(name)}`,
    template: `/{owner}/{repo}.git${rest}`,
    pathInfo: `/${decodeURIComponent(owner)}/${decodeURIComponent(name)}.git${rest}`,
    push,
  }
}

export interface GitHttpDeps {
  store: Store
  refs: PullRefs
  root: string
}

function challenge(res: ServerResponse, status: number, message: string) {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    ...(status === 401 ? { 'www-authenticate': 'Basic realm="GitHub"' } : {}),
  })
  res.end(`${message}\n`)
}

/** Serves one smart-HTTP request; resolves with the status sent once the response is complete. */
export async function serveGit(
  deps: GitHttpDeps,
  route: GitRoute,
  user: SimUser | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<number> {
  const repo: SimRepo | undefined = deps.store.repos.get(route.repo)
  // Like GitHub: git always needs credentials here, and an unknown repository looks like a missing one.
  if (!user) {
    challenge(res, 401, 'Authentication required')
    return 401
  }
  const role = repo ? deps.store.roleOf(repo, user.login) : undefined
  if (!repo || !role) {
    challenge(res, 404, 'Repository not found.')
    return 404
  }
  if (route.push && !roleAtLeast(role, 'write')) {
    challenge(res, 403, `Permission to ${repo.fullName}.git denied to ${user.login}.`)
    return 403
  }

  if (!(route.push && route.template.endsWith('/git-receive-pack'))) {
    const status = await runBackend(deps, route, user, req, res, url)
    res.end()
    return status
  }
  // A push waits for the repository's other ref writers (see PullRefs.exclusive), and
  // PR refs are up to date before the client sees it finish, as tests expect.
  return deps.refs.exclusive(repo.fullName, async () => {
    const before = await deps.refs.snapshot(repo.fullName)
    const status = await runBackend(deps, route, user, req, res, url)
    await deps.refs.afterRefsChanged(repo.fullName, before, user.login)
    res.end()
    return status
  })
}

/** Runs `git http-backend` for one request and streams its answer, leaving the response open. */
async function runBackend(
  deps: GitHttpDeps,
  route: GitRoute,
  user: SimUser,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<number> {
  const env = gitEnv({
    GIT_PROJECT_ROOT: deps.root,
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: route.pathInfo,
    REMOTE_USER: user.login,
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    REQUEST_METHOD: req.method ?? 'GET',
    QUERY_STRING: url.search.replace(/^\?/, ''),
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
  })
  const gzip = /gzip/i.test(String(req.headers['content-encoding'] ?? ''))
  if (!gzip && req.headers['content-length'] !== undefined)
    env.CONTENT_LENGTH = req.headers['content-length']

  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] })
  const body = gzip ? req.pipe(createGunzip()) : req
  body.pipe(child.stdin)
  body.on('error', () => child.kill())
  child.stdin.on('error', () => undefined)
  const stderr: Buffer[] = []
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))

  let status = 200
  let headerBuffer = Buffer.alloc(0)
  let headersSent = false
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersSent) {
      res.write(chunk)
      return
    }
    headerBuffer = Buffer.concat([headerBuffer, chunk])
    const text = headerBuffer.toString('latin1')
    const end = text.search(/\r?\n\r?\n/)
    if (end === -1) return
    const separator = /\r?\n\r?\n/.exec(text.slice(end))?.[0] ?? '\n\n'
    const headers: Record<string, string> = {}
    for (const line of text.slice(0, end).split(/\r?\n/)) {
      const colon = line.indexOf(':')
      if (colon === -1) continue
      const name = line.slice(0, colon).trim().toLowerCase()
      const value = line.slice(colon + 1).trim()
      if (name === 'status') status = Number.parseInt(value, 10)
      else headers[name] = value
    }
    res.writeHead(status, headers)
    headersSent = true
    res.write(headerBuffer.subarray(end + separator.length))
  })

  const code = await new Promise<number>((resolve) =>
    child.on('close', (exit) => resolve(exit ?? 1)),
  )
  if (!headersSent) {
    status = 500
    res.writeHead(500, { 'content-type': 'text/plain' })
    res.write(Buffer.concat(stderr))
  } else if (code !== 0 && stderr.length > 0) {
    process.stderr.write(`git http-backend: ${Buffer.concat(stderr).toString()}`)
  }
  return status
}
