/** The HTTP front: authentication, faults, rate-limit headers, routing, validation and the request log. */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { secondaryRateLimitBody, type Faults } from './faults.js'
import { matchGitRoute, serveGit } from './git-http.js'
import { answerGraphql, GRAPHQL_PATH } from './graphql.js'
import { HttpError, notFound, type ApiRequest, type ApiResponse, type SimContext } from './http.js'
import { checkResponse } from './openapi.js'
import { matchRoute } from './router.js'
import type { RateLimiter } from './rate-limits.js'
import { roleAtLeast } from './store.js'
import type { RequestLogEntry, SimUser } from './types.js'

const API_PREFIX = '/api/v3'
const RATE_LIMIT = 5000

export interface ServerDeps {
  ctx: SimContext
  faults: Faults
  requests: RequestLogEntry[]
  validationErrors: string[]
  validate: boolean
  gitRoot: string
  /** GitHub's rate limits, when the simulator enforces them. */
  limiter?: RateLimiter
}

type Credentials = { kind: 'none' } | { kind: 'user'; user: SimUser } | { kind: 'bad' }

function credentials(req: IncomingMessage, deps: ServerDeps): Credentials {
  const header = req.headers.authorization
  if (!header) return { kind: 'none' }
  const [scheme = '', value = ''] = header.split(/\s+/, 2)
  let token = value
  if (/^basic$/i.test(scheme)) {
    const decoded = Buffer.from(value, 'base64').toString('utf8')
    token = decoded.slice(decoded.indexOf(':') + 1)
  } else if (!/^(token|bearer)$/i.test(scheme)) {
    return { kind: 'bad' }
  }
  const user = deps.ctx.store.userByToken(token)
  return user ? { kind: 'user', user } : { kind: 'bad' }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** x-ratelimit-* as GitHub sends them, counted per token holder (anonymous callers share one count). */
function rateHeaders(deps: ServerDeps, who: string): Record<string, string> {
  const store = deps.ctx.store
  const now = Math.floor(Date.now() / 1000)
  if (now >= store.rateReset) {
    store.rateUsed.clear()
    store.rateReset = now + 3600
  }
  const used = (store.rateUsed.get(who) ?? 0) + 1
  store.rateUsed.set(who, used)
  return {
    'x-ratelimit-limit': String(RATE_LIMIT),
    'x-ratelimit-remaining': String(Math.max(RATE_LIMIT - used, 0)),
    'x-ratelimit-reset': String(store.rateReset),
    'x-ratelimit-used': String(used),
    'x-ratelimit-resource': 'core',
  }
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: unknown) {
  if (body === undefined || status === 204 || status === 304) {
    res.writeHead(status, headers)
    res.end()
    return
  }
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  })
  res.end(text)
}

/** Repository routes: the repository must exist and be visible; the route's access level must be met. */
function authorize(apiReq: ApiRequest, access: string, deps: ServerDeps) {
  const { owner, repo: name } = apiReq.params
  if (access === 'auth' && !apiReq.user) throw new HttpError(401, 'Requires authentication')
  if (owner === undefined || name === undefined) return
  const repo = deps.ctx.store.repos.get(`${owner}/${name}`)
  const role = repo ? deps.ctx.store.roleOf(repo, apiReq.user?.login) : undefined
  if (!repo || !role) throw notFound()
  apiReq.repo = repo
  apiReq.role = role
  if (access === 'none' || access === 'auth') return
  if (access !== 'read' && !apiReq.user) throw new HttpError(401, 'Requires authentication')
  if (access === 'read' && apiReq.method !== 'GET' && !apiReq.user)
    throw new HttpError(401, 'Requires authentication')
  if (!roleAtLeast(role, access as 'read'))
    throw new HttpError(403, 'Resource not accessible by integration')
}

async function handleApi(
  deps: ServerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  user: SimUser | undefined,
  entry: RequestLogEntry,
  baseHeaders: Record<string, string>,
) {
  const method = req.method ?? 'GET'
  const path = url.pathname.slice(API_PREFIX.length) || '/'
  const match = matchRoute(method, path)
  const template =
    match.kind === 'found'
      ? match.def.template
      : match.kind === 'method-not-allowed'
        ? match.template
        : path
  entry.route = `${method} ${template}`

  const limited = deps.limiter && {
    method,
    route: entry.route,
    user,
    repo:
      match.kind === 'found' && match.params.owner !== undefined && match.params.repo !== undefined
        ? `${match.params.owner}/${match.params.repo}`
        : undefined,
  }
  if (deps.limiter && limited) {
    const { headers, refusal } = deps.limiter.admit(limited)
    Object.assign(baseHeaders, headers)
    if (refusal) {
      validate(deps, method, template, refusal.status, refusal.body, match.kind === 'found')
      entry.status = refusal.status
      send(res, refusal.status, { ...baseHeaders, ...refusal.headers }, refusal.body)
      return
    }
  }
  try {
    const fault = deps.faults.take(method, template, path)
    if (fault?.delayMs) await sleep(fault.delayMs)
    if (fault?.reset) {
      entry.status = 0
      req.socket.destroy()
      return
    }
    if (fault?.secondaryRateLimit || fault?.status !== undefined) {
      const status = fault.secondaryRateLimit ? 403 : (fault.status ?? 500)
      const headers = {
        ...baseHeaders,
        ...(fault.secondaryRateLimit
          ? { 'retry-after': String(fault.secondaryRateLimit.retryAfter) }
          : {}),
        ...fault.headers,
      }
      const body =
        fault.body ??
        (fault.secondaryRateLimit
          ? secondaryRateLimitBody()
          : { message: 'Simulated failure', status: String(status) })
      entry.status = status
      send(res, status, headers, body)
      return
    }
    await respond(deps, req, res, {
      url,
      user,
      entry,
      baseHeaders,
      method,
      template,
      match,
      dropAnswer: fault?.dropAnswer === true,
    })
  } finally {
    if (deps.limiter && limited) deps.limiter.finish(limited)
  }
}

interface Routed {
  url: URL
  user: SimUser | undefined
  entry: RequestLogEntry
  baseHeaders: Record<string, string>
  method: string
  template: string
  match: ReturnType<typeof matchRoute>
  /** Carry the request out, then drop the connection instead of answering. */
  dropAnswer: boolean
}

/** Authorizes, runs the route's handler, validates and sends its response. */
async function respond(
  deps: ServerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  routed: Routed,
) {
  const { url, user, entry, baseHeaders, method, template, match, dropAnswer } = routed
  let response: ApiResponse
  try {
    if (match.kind !== 'found') throw notFound()
    const raw = await readBody(req)
    let body: Record<string, unknown> = {}
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>
      } catch {
        throw new HttpError(400, 'Problems parsing JSON')
      }
    }
    const apiReq: ApiRequest = {
      method,
      template,
      params: match.params,
      query: url.searchParams,
      body,
      user,
      url,
    }
    authorize(apiReq, match.def.access, deps)
    response = await match.def.handler(apiReq, deps.ctx)
  } catch (error) {
    if (error instanceof HttpError) response = { status: error.status, body: error.body }
    else {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
      process.stderr.write(`github simulator: ${method} ${url.pathname}: ${message}\n`)
      response = { status: 500, body: { message: 'Server Error', status: '500' } }
    }
  }
  // Only what the simulator itself produces is checked; injected faults are the test's business.
  validate(deps, method, template, response.status, response.body, match.kind === 'found')
  if (dropAnswer) {
    entry.status = 0
    req.socket.destroy()
    return
  }
  entry.status = response.status
  send(res, response.status, { ...baseHeaders, ...response.headers }, response.body)
}

function validate(
  deps: ServerDeps,
  method: string,
  template: string,
  status: number,
  body: unknown,
  routed: boolean,
) {
  if (!deps.validate || !routed || body === undefined) return
  const check = checkResponse(method, template, status, JSON.parse(JSON.stringify(body)))
  if (check.kind === 'invalid')
    deps.validationErrors.push(`${method} ${template} → ${status}: ${check.message}`)
  if (check.kind === 'undocumented' && status < 300) {
    deps.validationErrors.push(`${method} ${template} → ${status}: status not documented`)
  }
}

export async function startServer(deps: ServerDeps): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const method = req.method ?? 'GET'
    const auth = credentials(req, deps)
    const user = auth.kind === 'user' ? auth.user : undefined
    const entry: RequestLogEntry = {
      method,
      path: `${url.pathname}${url.search}`,
      route: `${method} ${url.pathname}`,
      status: 0,
      ...(user ? { user: user.login } : {}),
      at: Date.now(),
    }
    deps.requests.push(entry)
    const baseHeaders = {
      'x-github-request-id': randomBytes(8).toString('hex').toUpperCase(),
      'x-github-media-type': 'github.v3; format=json',
      // With rate limits on, the API front counts the request against them instead.
      ...(deps.limiter ? {} : rateHeaders(deps, user?.login ?? '')),
    }

    const work = async () => {
      const git = matchGitRoute(url)
      if (git) {
        entry.route = `${method} ${git.template}`
        const fault = deps.faults.take(method, git.template, url.pathname)
        if (fault?.delayMs) await sleep(fault.delayMs)
        if (fault?.reset) {
          req.socket.destroy()
          return
        }
        if (fault?.status !== undefined) {
          entry.status = fault.status
          send(res, fault.status, { ...fault.headers }, fault.body)
          return
        }
        if (auth.kind === 'bad') {
          entry.status = 401
          res.writeHead(401, { 'www-authenticate': 'Basic realm="GitHub"' })
          res.end('Invalid username or token.\n')
          return
        }
        entry.status = await serveGit(
          { store: deps.ctx.store, refs: deps.ctx.refs, root: deps.gitRoot },
          git,
          user,
          req,
          res,
          url,
        )
        return
      }
      if (url.pathname === GRAPHQL_PATH && method === 'POST') {
        entry.route = `POST ${GRAPHQL_PATH}`
        const raw = await readBody(req)
        let body: unknown
        try {
          body = JSON.parse(raw.toString('utf8'))
        } catch {
          body = undefined
        }
        const answer =
          auth.kind === 'bad'
            ? { status: 401, body: { message: 'Bad credentials', status: '401' } }
            : answerGraphql(body, user)
        entry.status = answer.status
        send(res, answer.status, baseHeaders, answer.body)
        return
      }
      if (url.pathname === API_PREFIX || url.pathname.startsWith(`${API_PREFIX}/`)) {
        if (auth.kind === 'bad') {
          entry.status = 401
          send(res, 401, baseHeaders, {
            message: 'Bad credentials',
            documentation_url: 'https://docs.github.com/rest',
            status: '401',
          })
          return
        }
        await handleApi(deps, req, res, url, user, entry, baseHeaders)
        return
      }
      entry.status = 404
      send(res, 404, baseHeaders, { message: 'Not Found', status: '404' })
    }
    work().catch((error: unknown) => {
      process.stderr.write(`github simulator: ${String(error)}\n`)
      if (!res.headersSent) send(res, 500, {}, { message: 'Server Error' })
      else res.destroy()
    })
  })
  server.keepAliveTimeout = 1000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as AddressInfo).port }
}
