/** Request/response shapes shared by the router and the handlers, and GitHub's error and pagination conventions. */
import type { Renderer } from './render.js'
import type { PullRefs } from './pull-refs.js'
import type { Store } from './store.js'
import type { Role, SimRepo, SimUser } from './types.js'

export interface Urls {
  serverUrl: string
  apiUrl: string
}

/** What every handler can reach. */
export interface SimContext {
  store: Store
  urls: Urls
  render: Renderer
  refs: PullRefs
}

export interface ApiRequest {
  method: string
  /** The OpenAPI path template that matched. */
  template: string
  params: Record<string, string>
  query: URLSearchParams
  body: Record<string, unknown>
  user?: SimUser
  /** Set for `/repos/{owner}/{repo}/…` routes once access is checked. */
  repo?: SimRepo
  role?: Role
  url: URL
}

export interface ApiResponse {
  status: number
  body?: unknown
  headers?: Record<string, string>
}

export type Handler = (req: ApiRequest, ctx: SimContext) => ApiResponse | Promise<ApiResponse>

/** `none`: anyone; `auth`: any authenticated user; otherwise the role needed on the repository. */
export type Access = 'none' | 'auth' | Role

export interface RouteDef {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'
  template: string
  access: Access
  handler: Handler
}

const DOCS = 'https://docs.github.com/rest'

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message)
  }

  get body(): Record<string, unknown> {
    return {
      message: this.message,
      ...this.extra,
      documentation_url: DOCS,
      status: String(this.status),
    }
  }
}

export const notFound = () => new HttpError(404, 'Not Found')

/** GitHub's 422 with one `errors` entry. */
export function validationFailed(
  resource: string,
  field: string,
  message: string,
  code = 'custom',
) {
  return new HttpError(422, 'Validation Failed', {
    errors: [{ resource, code, field, message }],
  })
}

export function requireRepo(req: ApiRequest): SimRepo {
  if (!req.repo) throw new Error(`route ${req.template} has no repository`)
  return req.repo
}

export function requireUser(req: ApiRequest) {
  if (!req.user) throw new HttpError(401, 'Requires authentication')
  return req.user
}

export function intParam(req: ApiRequest, name: string): number {
  const value = Number(req.params[name])
  if (!Number.isInteger(value) || value <= 0) throw notFound()
  return value
}

export function stringField(req: ApiRequest, name: string, required = false): string | undefined {
  const value = req.body[name]
  if (value === undefined || value === null) {
    if (required)
      throw validationFailed('Request', name, `${name} wasn't supplied.`, 'missing_field')
    return undefined
  }
  if (typeof value !== 'string') {
    throw new HttpError(
      422,
      `Invalid request.\n\nFor '${name}', ${JSON.stringify(value)} is not a string.`,
    )
  }
  return value
}

/**
 * One page of `items` with GitHub's `Link` header: per_page ≤ 100 (default
 * 30), 1-based page, rels in GitHub's order prev, next, last, first.
 */
export function paginate<T>(
  req: ApiRequest,
  ctx: SimContext,
  items: T[],
  wrap?: (page: T[]) => unknown,
): ApiResponse {
  const perPage = Math.min(Math.max(Number(req.query.get('per_page') ?? 30) || 30, 1), 100)
  const page = Math.max(Number(req.query.get('page') ?? 1) || 1, 1)
  const lastPage = Math.max(Math.ceil(items.length / perPage), 1)
  const slice = items.slice((page - 1) * perPage, page * perPage)
  const link = (target: number, rel: string) => {
    const url = new URL(`${ctx.urls.apiUrl}${req.url.pathname.replace(/^\/api\/v3/, '')}`)
    const query = new URLSearchParams(req.query)
    query.set('page', String(target))
    url.search = query.toString()
    return `<${url.toString()}>; rel="${rel}"`
  }
  const links: string[] = []
  if (page > 1) links.push(link(Math.min(page - 1, lastPage), 'prev'))
  if (page < lastPage) links.push(link(page + 1, 'next'), link(lastPage, 'last'))
  if (page > 1) links.push(link(1, 'first'))
  return {
    status: 200,
    body: wrap ? wrap(slice) : slice,
    headers: links.length > 0 ? { link: links.join(', ') } : {},
  }
}
