/**
 * Argo CD REST client (the API server's grpc-gateway under /api/v1): read an
 * Application, point it at a revision, sync, and wait for Synced + Healthy.
 */

import { setTimeout as sleep } from 'node:timers/promises'

export interface ArgoCdSource {
  repoURL?: string
  path?: string
  targetRevision?: string
  chart?: string
  ref?: string
  name?: string
}

export interface ArgoCdSyncOperation {
  revision?: string
  revisions?: string[]
  prune?: boolean
  dryRun?: boolean
  source?: ArgoCdSource
  sources?: ArgoCdSource[]
}

export interface ArgoCdOperation {
  sync?: ArgoCdSyncOperation
  initiatedBy?: { username?: string; automated?: boolean }
}

export interface ArgoCdResourceStatus {
  group?: string
  version?: string
  kind?: string
  namespace?: string
  name?: string
  status?: string
  health?: { status?: string; message?: string; lastTransitionTime?: string }
}

export interface ArgoCdResourceResult {
  group?: string
  version?: string
  kind?: string
  namespace?: string
  name?: string
  status?: string
  message?: string
  hookPhase?: string
  syncPhase?: string
}

export interface ArgoCdOperationState {
  operation?: ArgoCdOperation
  phase?: string
  message?: string
  startedAt?: string
  finishedAt?: string
  syncResult?: {
    revision?: string
    revisions?: string[]
    source?: ArgoCdSource
    sources?: ArgoCdSource[]
    resources?: ArgoCdResourceResult[]
  }
}

export interface ArgoCdApplication {
  apiVersion?: string
  kind?: string
  metadata: {
    name?: string
    namespace?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
    resourceVersion?: string
    generation?: number
    uid?: string
    creationTimestamp?: string
  }
  spec: {
    project?: string
    source?: ArgoCdSource
    sources?: ArgoCdSource[]
    destination?: { server?: string; namespace?: string; name?: string }
    syncPolicy?: {
      automated?: { enabled?: boolean; prune?: boolean; selfHeal?: boolean }
      syncOptions?: string[]
    }
  }
  status?: {
    sync?: {
      status?: string
      revision?: string
      revisions?: string[]
      comparedTo?: { source?: ArgoCdSource; sources?: ArgoCdSource[] }
    }
    health?: { status?: string; message?: string; lastTransitionTime?: string }
    operationState?: ArgoCdOperationState
    resources?: ArgoCdResourceStatus[]
    conditions?: Array<{ type?: string; message?: string; lastTransitionTime?: string }>
    reconciledAt?: string
    observedAt?: string
    sourceType?: string
    sourceTypes?: string[]
    history?: Array<{
      id?: number
      revision?: string
      revisions?: string[]
      deployedAt?: string
      deployStartedAt?: string
      source?: ArgoCdSource
      sources?: ArgoCdSource[]
    }>
  }
  operation?: ArgoCdOperation
}

export interface ArgoCdApplicationList {
  metadata?: { resourceVersion?: string }
  items?: ArgoCdApplication[]
}

/** An Argo CD API failure; the message names the application and the HTTP status, never the token. */
export class ArgoCdError extends Error {
  override name = 'ArgoCdError'
  /** How many times the request was sent (retries included). */
  attempts = 1
  constructor(
    message: string,
    /** HTTP status, absent when the server could not be reached. */
    readonly status: number | undefined,
    readonly application: string | undefined,
    /** The gRPC status code from the error body, when there was one. */
    readonly grpcCode?: number,
  ) {
    super(message)
  }
}

export interface ArgoCdClientOptions {
  /** Base URL of the Argo CD server; a bare host (`argocd.example.com`) means https. */
  server: string
  token: string
  fetch?: typeof fetch
  /** Retries of a request that failed with a 5xx or a connection error (default 3). */
  retries?: number
  /** First backoff delay; it doubles per retry up to 10 s (default 500 ms). */
  retryDelayMs?: number
  /** Per-request timeout (default 30 s). */
  requestTimeoutMs?: number
  log?: (message: string) => void
}

export interface SetTargetRevisionOptions {
  /** Index into `spec.sources` of a multi-source Application. */
  sourceIndex?: number
  /** Pick the source whose repoURL matches (ignoring scheme, case, trailing `/` and `.git`). */
  sourceRepoURL?: string
  /**
   * The source's `path` with the revision (an environment's folder on a
   * shared WET branch), in the same patch; absent: the path stays as it is.
   */
  path?: string
}

export interface SetTargetRevisionResult {
  application: ArgoCdApplication
  /** False when the source already pointed at the revision (no PATCH sent). */
  changed: boolean
  previous: string | undefined
  /** The `spec.sources` index changed, for a multi-source Application. */
  sourceIndex: number | undefined
}

export interface SyncOptions {
  revision?: string
  prune?: boolean
  dryRun?: boolean
  /** Multi-source: revisions for the 1-based `sourcePositions`. */
  revisions?: string[]
  sourcePositions?: number[]
}

export interface WaitOptions {
  /** The commit SHA the Application must be synced to (`status.sync.revision` or one of `revisions`). */
  revision?: string
  timeoutMs?: number
  pollMs?: number
  now?: () => number
  sleep?: (ms: number) => Promise<void>
}

export interface WaitResult {
  ok: boolean
  sync: string
  health: string
  revision?: string
  message: string
}

export interface ArgoCdClient {
  readonly server: string
  getApplication(
    name: string,
    options?: { refresh?: 'normal' | 'hard' },
  ): Promise<ArgoCdApplication>
  listApplications(filter?: {
    selector?: string
    name?: string
    projects?: string[]
  }): Promise<ArgoCdApplication[]>
  setTargetRevision(
    name: string,
    revision: string,
    options?: SetTargetRevisionOptions,
  ): Promise<SetTargetRevisionResult>
  refresh(name: string, kind?: 'normal' | 'hard'): Promise<ArgoCdApplication>
  sync(name: string, options?: SyncOptions): Promise<ArgoCdApplication>
  waitForSyncedHealthy(name: string, options?: WaitOptions): Promise<WaitResult>
}

/** `argocd.example.com` → `https://argocd.example.com`; keeps a path prefix (`--rootpath`), drops trailing slashes. */
export function normalizeServerUrl(server: string): string {
  const trimmed = server.trim()
  if (!trimmed) throw new Error('the Argo CD server URL is empty')
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`
  let url: URL
  try {
    url = new URL(withScheme)
  } catch {
    throw new Error(`the Argo CD server "${trimmed}" is not a valid URL`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Error(`the Argo CD server URL must use https or http, not ${url.protocol}`)
  }
  if (url.username || url.password)
    throw new Error('the Argo CD server URL must not contain credentials')
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`
}

/** A repository URL reduced to host/path, so https, ssh and `.git` spellings compare equal. */
export function canonicalRepoURL(repoURL: string): string {
  return repoURL
    .trim()
    .toLowerCase()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//, '')
    .replace(/^[^@/]+@/, '')
    .replace(/^([^/:]+):(?!\d+\/)/, '$1/')
    .replace(/\/+$/, '')
    .replace(/\.git$/, '')
}

const terminalFailurePhases = new Set(['Failed', 'Error'])
const runningPhases = new Set(['Running', 'Terminating'])

function shortSha(revision: string): string {
  return /^[0-9a-f]{40}$/i.test(revision) ? revision.slice(0, 7) : revision
}

export interface Assessment {
  state: 'ok' | 'pending' | 'failed'
  sync: string
  health: string
  revision?: string
  message: string
}

/** Degraded resources and error conditions, as one line. */
export function problemDetails(app: ArgoCdApplication): string {
  const status = app.status
  const details: string[] = []
  if (status?.health?.message) details.push(status.health.message)
  for (const resource of status?.resources ?? []) {
    const health = resource.health
    if (health?.status === 'Degraded' || health?.status === 'Missing') {
      const id = [resource.kind, resource.namespace, resource.name].filter(Boolean).join('/')
      details.push(`${id} ${health.status}${health.message ? `: ${health.message}` : ''}`)
    }
  }
  for (const condition of status?.conditions ?? []) {
    if (condition.type?.endsWith('Error') && condition.message) {
      details.push(`${condition.type}: ${condition.message}`)
    }
  }
  return [...new Set(details)].join('; ')
}

function operationRevisions(state: ArgoCdOperationState): string[] {
  const result = state.syncResult
  const sync = state.operation?.sync
  const revisions = [
    result?.revision,
    ...(result?.revisions ?? []),
    sync?.revision,
    ...(sync?.revisions ?? []),
  ]
  return revisions.filter((revision): revision is string => Boolean(revision))
}

/** Whether an Application has converged on the expected revision, is still moving, or has failed. */
export function assessApplication(app: ArgoCdApplication, expectedRevision?: string): Assessment {
  const status = app.status
  const sync = status?.sync?.status ?? 'Unknown'
  const health = status?.health?.status ?? 'Unknown'
  const revisions = [status?.sync?.revision, ...(status?.sync?.revisions ?? [])].filter(
    (revision): revision is string => Boolean(revision),
  )
  const revision = revisions[0]
  const base = { sync, health, ...(revision ? { revision } : {}) }
  const expected = expectedRevision?.toLowerCase()
  const atExpected = !expected || revisions.some((r) => r.toLowerCase() === expected)
  const details = problemDetails(app)
  const withDetails = (text: string): string => (details ? `${text}: ${details}` : text)

  if (app.operation) return { ...base, state: 'pending', message: 'sync operation queued' }
  const operation = status?.operationState
  if (operation?.phase && runningPhases.has(operation.phase)) {
    const note = operation.message ? `: ${operation.message}` : ''
    return { ...base, state: 'pending', message: `sync operation ${operation.phase}${note}` }
  }
  if (operation?.phase && terminalFailurePhases.has(operation.phase)) {
    const opRevisions = operationRevisions(operation).map((r) => r.toLowerCase())
    // An old failed operation for another revision is not this deployment's verdict.
    if (!expected || opRevisions.length === 0 || opRevisions.includes(expected)) {
      const failed = (operation.syncResult?.resources ?? [])
        .filter(
          (r) => r.status === 'SyncFailed' || r.hookPhase === 'Failed' || r.hookPhase === 'Error',
        )
        .map(
          (r) =>
            `${[r.kind, r.namespace, r.name].filter(Boolean).join('/')}: ${r.message ?? r.status}`,
        )
      const reason = [operation.message, ...failed].filter(Boolean).join('; ')
      return {
        ...base,
        state: 'failed',
        message: `sync operation ${operation.phase}${reason ? `: ${reason}` : ''}`,
      }
    }
  }
  if (!atExpected) {
    const at = revision ? `at revision ${shortSha(revision)}` : 'no revision reported'
    return {
      ...base,
      state: 'pending',
      message: withDetails(`${at}, waiting for ${shortSha(expectedRevision ?? '')}`),
    }
  }
  if (sync !== 'Synced')
    return { ...base, state: 'pending', message: withDetails(`sync status ${sync}`) }
  if (health === 'Healthy') {
    const at = revision ? ` at ${shortSha(revision)}` : ''
    return { ...base, state: 'ok', message: `Synced and Healthy${at}` }
  }
  if (health === 'Degraded')
    return { ...base, state: 'failed', message: withDetails('health Degraded') }
  return { ...base, state: 'pending', message: withDetails(`health ${health}`) }
}

const retriableStatuses = new Set([500, 502, 503, 504])

interface RequestSpec {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT'
  path: string
  query?: Record<string, string | string[] | undefined>
  body?: unknown
  /** What is being done, for messages: "get", "sync", … */
  action: string
  application?: string
}

function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const cause = (error as Error & { cause?: unknown }).cause
  if (cause instanceof Error && cause.message) return `${error.message}: ${cause.message}`
  return error.message
}

/** One Argo CD server's HTTP: bearer token, JSON, retries of outages; every method goes through it. */
interface ArgoCdHttp {
  server: string
  log: (message: string) => void
  request<T>(spec: RequestSpec): Promise<{ data: T; attempts: number }>
}

export function createArgoCdClient(options: ArgoCdClientOptions): ArgoCdClient {
  const http = argoCdHttp(options)
  return {
    server: http.server,
    getApplication: (name, getOptions) => getApplication(http, name, getOptions),
    listApplications: (filter) => listApplications(http, filter),
    setTargetRevision: (name, revision, choice) => setTargetRevision(http, name, revision, choice),
    refresh: (name, kind = 'normal') => getApplication(http, name, { refresh: kind }),
    sync: (name, syncOptions) => sync(http, name, syncOptions),
    waitForSyncedHealthy: (name, waitOptions) => waitForSyncedHealthy(http, name, waitOptions),
  }
}

/** What every request of one client shares. */
interface HttpSettings {
  server: string
  token: string
  fetch: typeof globalThis.fetch
  retries: number
  retryDelayMs: number
  requestTimeoutMs: number
  log: (message: string) => void
}

function argoCdHttp(options: ArgoCdClientOptions): ArgoCdHttp {
  const server = normalizeServerUrl(options.server)
  if (!options.token) throw new Error('an Argo CD token is required')
  const settings: HttpSettings = {
    server,
    token: options.token,
    fetch: options.fetch ?? globalThis.fetch,
    retries: Math.max(0, options.retries ?? 3),
    retryDelayMs: Math.max(0, options.retryDelayMs ?? 500),
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    log: options.log ?? (() => undefined),
  }
  return { server, log: settings.log, request: (spec) => request(settings, spec) }
}

function requestUrl(server: string, spec: RequestSpec): URL {
  const url = new URL(`${server}${spec.path}`)
  for (const [key, value] of Object.entries(spec.query ?? {})) {
    for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
      url.searchParams.append(key, item)
    }
  }
  return url
}

/** One request with its retries: connection errors and 5xx are retried with backoff, refusals are final. */
async function request<T>(
  settings: HttpSettings,
  spec: RequestSpec,
): Promise<{ data: T; attempts: number }> {
  const { server, retries, log } = settings
  const url = requestUrl(server, spec)
  const headers: Record<string, string> = {
    authorization: `Bearer ${settings.token}`,
    accept: 'application/json',
  }
  if (spec.body !== undefined) headers['content-type'] = 'application/json'
  const body = spec.body === undefined ? undefined : JSON.stringify(spec.body)
  const where = `${spec.method} ${url.pathname}`
  for (let attempt = 0; ; attempt++) {
    let response: Response
    try {
      response = await settings.fetch(url, {
        method: spec.method,
        headers,
        body,
        signal: AbortSignal.timeout(settings.requestTimeoutMs),
      })
    } catch (error) {
      if (attempt < retries) {
        const delay = backoff(settings.retryDelayMs, attempt, null)
        log(
          `Argo CD ${where}: ${describeCause(error)}; retry ${attempt + 1}/${retries} in ${delay} ms`,
        )
        await sleep(delay)
        continue
      }
      throw unreachable(server, spec, error)
    }
    const text = await response.text()
    if (response.ok) {
      try {
        return { data: (text ? JSON.parse(text) : {}) as T, attempts: attempt + 1 }
      } catch {
        throw new ArgoCdError(
          `Argo CD ${where} answered HTTP ${response.status} with a body that is not JSON`,
          response.status,
          spec.application,
        )
      }
    }
    if (retriableStatuses.has(response.status) && attempt < retries) {
      const delay = backoff(settings.retryDelayMs, attempt, response.headers.get('retry-after'))
      log(
        `Argo CD ${where}: HTTP ${response.status}; retry ${attempt + 1}/${retries} in ${delay} ms`,
      )
      await sleep(delay)
      continue
    }
    const error = errorFor(spec, response.status, text)
    error.attempts = attempt + 1
    throw error
  }
}

/** The error of a request that never got an answer (DNS, refused connection, timeout). */
function unreachable(server: string, spec: RequestSpec, cause: unknown): ArgoCdError {
  const target = spec.application ? ` application "${spec.application}"` : ''
  return new ArgoCdError(
    `cannot reach Argo CD at ${server} to ${spec.action}${target} (${describeCause(cause)})`,
    undefined,
    spec.application,
  )
}

/** Retry-After when the server sends one (up to 30 s), else doubling from `retryDelayMs` up to 10 s. */
function backoff(retryDelayMs: number, attempt: number, retryAfter: string | null): number {
  const seconds = retryAfter === null ? NaN : Number(retryAfter)
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, 30_000)
  return Math.min(retryDelayMs * 2 ** attempt, 10_000)
}

/** The error a refusal becomes: what was refused, on what, and what to check. */
function errorFor(spec: RequestSpec, status: number, body: string): ArgoCdError {
  let detail = body.trim().slice(0, 300)
  let grpcCode: number | undefined
  try {
    const parsed = JSON.parse(body) as { message?: unknown; error?: unknown; code?: unknown }
    const text = parsed.message ?? parsed.error
    if (typeof text === 'string' && text) detail = text
    if (typeof parsed.code === 'number') grpcCode = parsed.code
  } catch {
    // not JSON: keep the raw text (a proxy's error page)
  }
  const suffix = detail ? `: ${detail}` : ''
  const app = spec.application
  const target = app ? `application "${app}"` : spec.path
  let message: string
  if (status === 401) {
    message = `Argo CD rejected the token (HTTP 401${suffix}) on ${spec.action} ${target}; check that the token is valid and not expired`
  } else if (status === 403) {
    message = `Argo CD denied ${spec.action} on ${target} (HTTP 403${suffix}); the token's account needs RBAC permission for it (Argo CD also answers 403 for an application it cannot see)`
  } else if (status === 404 && app) {
    message = `Argo CD application "${app}" not found (HTTP 404${suffix})`
  } else {
    message = `Argo CD ${spec.action} on ${target} failed (HTTP ${status}${suffix})`
  }
  return new ArgoCdError(message, status, app, grpcCode)
}

const appPath = (name: string): string => `/api/v1/applications/${encodeURIComponent(name)}`

async function getApplication(
  http: ArgoCdHttp,
  name: string,
  getOptions: { refresh?: 'normal' | 'hard' } = {},
): Promise<ArgoCdApplication> {
  const { data } = await http.request<ArgoCdApplication>({
    method: 'GET',
    path: appPath(name),
    query: { refresh: getOptions.refresh },
    action: getOptions.refresh ? 'refresh' : 'get',
    application: name,
  })
  return data
}

async function listApplications(
  http: ArgoCdHttp,
  filter: { selector?: string; name?: string; projects?: string[] } = {},
): Promise<ArgoCdApplication[]> {
  const { data } = await http.request<ArgoCdApplicationList>({
    method: 'GET',
    path: '/api/v1/applications',
    query: { selector: filter.selector, name: filter.name, projects: filter.projects },
    action: 'list applications',
  })
  return data.items ?? []
}

async function patch(
  http: ArgoCdHttp,
  name: string,
  patchType: 'merge' | 'json',
  body: unknown,
): Promise<ArgoCdApplication> {
  const { data } = await http.request<ArgoCdApplication>({
    method: 'PATCH',
    path: appPath(name),
    body: { name, patchType, patch: JSON.stringify(body) },
    action: 'update',
    application: name,
  })
  return data
}

/** Which of a multi-source application's sources the revision is for. */
function chooseSource(
  name: string,
  sources: ArgoCdSource[],
  choice: SetTargetRevisionOptions,
): number {
  if (choice.sourceIndex !== undefined) {
    if (
      !Number.isInteger(choice.sourceIndex) ||
      choice.sourceIndex < 0 ||
      choice.sourceIndex >= sources.length
    ) {
      throw new ArgoCdError(
        `application "${name}" has ${sources.length} sources; source index ${choice.sourceIndex} does not exist`,
        undefined,
        name,
      )
    }
    const chosen = sources[choice.sourceIndex]
    if (
      choice.sourceRepoURL &&
      canonicalRepoURL(chosen?.repoURL ?? '') !== canonicalRepoURL(choice.sourceRepoURL)
    ) {
      throw new ArgoCdError(
        `application "${name}": source ${choice.sourceIndex} is ${chosen?.repoURL ?? '(no repoURL)'}, not ${choice.sourceRepoURL}`,
        undefined,
        name,
      )
    }
    return choice.sourceIndex
  }
  if (choice.sourceRepoURL) {
    const wanted = canonicalRepoURL(choice.sourceRepoURL)
    const matches = sources.flatMap((source, index) =>
      canonicalRepoURL(source.repoURL ?? '') === wanted ? [index] : [],
    )
    if (matches.length === 1 && matches[0] !== undefined) return matches[0]
    const listed = sources.map((source) => source.repoURL ?? '(none)').join(', ')
    throw new ArgoCdError(
      matches.length === 0
        ? `application "${name}" has no source with repoURL ${choice.sourceRepoURL} (sources: ${listed})`
        : `application "${name}" has ${matches.length} sources with repoURL ${choice.sourceRepoURL}; give a source index`,
      undefined,
      name,
    )
  }
  if (sources.length === 1) return 0
  throw new ArgoCdError(
    `application "${name}" has ${sources.length} sources; say which one to point at the revision (source index or repoURL)`,
    undefined,
    name,
  )
}

async function setTargetRevision(
  http: ArgoCdHttp,
  name: string,
  revision: string,
  choice: SetTargetRevisionOptions = {},
): Promise<SetTargetRevisionResult> {
  if (!revision) throw new Error(`no target revision given for application "${name}"`)
  const current = await getApplication(http, name)
  const sources = current.spec.sources ?? []
  if (sources.length > 0) {
    const index = chooseSource(name, sources, choice)
    const source = sources[index]
    const previous = source?.targetRevision
    const path = choice.path
    if (previous === revision && (path === undefined || source?.path === path))
      return { application: current, changed: false, previous, sourceIndex: index }
    // The test op makes the patch fail instead of editing another source if the list was reordered meanwhile.
    const operations = [
      { op: 'test', path: `/spec/sources/${index}/repoURL`, value: source?.repoURL ?? '' },
      { op: 'add', path: `/spec/sources/${index}/targetRevision`, value: revision },
      ...(path === undefined
        ? []
        : [{ op: 'add', path: `/spec/sources/${index}/path`, value: path }]),
    ]
    const application = await patch(http, name, 'json', operations)
    http.log(
      `Argo CD application "${name}": source ${index} targetRevision ${previous ?? '(none)'} → ${revision}`,
    )
    return { application, changed: true, previous, sourceIndex: index }
  }
  const source = singleSource(name, current, choice)
  const previous = source.targetRevision
  const path = choice.path
  if (previous === revision && (path === undefined || source.path === path))
    return { application: current, changed: false, previous, sourceIndex: undefined }
  const application = await patch(http, name, 'merge', {
    spec: { source: { targetRevision: revision, ...(path === undefined ? {} : { path }) } },
  })
  const where = path === undefined ? '' : ` (path ${path})`
  http.log(
    `Argo CD application "${name}": targetRevision ${previous ?? '(none)'} → ${revision}${where}`,
  )
  return { application, changed: true, previous, sourceIndex: undefined }
}

/** The `spec.source` of a single-source application, refusing a choice that names another. */
function singleSource(
  name: string,
  current: ArgoCdApplication,
  choice: SetTargetRevisionOptions,
): ArgoCdSource {
  const source = current.spec.source
  if (!source) {
    throw new ArgoCdError(
      `application "${name}" has neither spec.source nor spec.sources`,
      undefined,
      name,
    )
  }
  if (choice.sourceIndex !== undefined && choice.sourceIndex !== 0) {
    throw new ArgoCdError(
      `application "${name}" has a single source; source index ${choice.sourceIndex} does not exist`,
      undefined,
      name,
    )
  }
  if (
    choice.sourceRepoURL &&
    canonicalRepoURL(source.repoURL ?? '') !== canonicalRepoURL(choice.sourceRepoURL)
  ) {
    throw new ArgoCdError(
      `application "${name}" tracks ${source.repoURL ?? '(no repoURL)'}, not ${choice.sourceRepoURL}`,
      undefined,
      name,
    )
  }
  return source
}

async function sync(
  http: ArgoCdHttp,
  name: string,
  syncOptions: SyncOptions = {},
): Promise<ArgoCdApplication> {
  const body = {
    name,
    ...(syncOptions.revision ? { revision: syncOptions.revision } : {}),
    ...(syncOptions.revisions ? { revisions: syncOptions.revisions } : {}),
    // int64 in the gateway's JSON: strings, as the swagger declares
    ...(syncOptions.sourcePositions
      ? { sourcePositions: syncOptions.sourcePositions.map(String) }
      : {}),
    ...(syncOptions.prune !== undefined ? { prune: syncOptions.prune } : {}),
    ...(syncOptions.dryRun !== undefined ? { dryRun: syncOptions.dryRun } : {}),
  }
  try {
    const { data } = await http.request<ArgoCdApplication>({
      method: 'POST',
      path: `${appPath(name)}/sync`,
      body,
      action: 'sync',
      application: name,
    })
    return data
  } catch (error) {
    // A retried POST whose first attempt went through finds its own operation running.
    if (
      error instanceof ArgoCdError &&
      error.attempts > 1 &&
      error.grpcCode === 9 &&
      /another operation is already in progress/i.test(error.message)
    ) {
      http.log(
        `Argo CD application "${name}": a sync operation is already in progress; waiting on it`,
      )
      return getApplication(http, name)
    }
    throw error
  }
}

async function waitForSyncedHealthy(
  http: ArgoCdHttp,
  name: string,
  waitOptions: WaitOptions = {},
): Promise<WaitResult> {
  const timeoutMs = waitOptions.timeoutMs ?? 300_000
  const pollMs = waitOptions.pollMs ?? 5_000
  const now = waitOptions.now ?? Date.now
  const pause = waitOptions.sleep ?? sleep
  const started = now()
  let last: Assessment | undefined
  let lastError: string | undefined
  for (;;) {
    try {
      const app = await getApplication(http, name)
      last = assessApplication(app, waitOptions.revision)
      lastError = undefined
      if (last.state !== 'pending') {
        const { state, ...result } = last
        return { ...result, ok: state === 'ok' }
      }
    } catch (error) {
      // Outages (retries exhausted) are waited out until the deadline; refusals are final.
      if (!(error instanceof ArgoCdError) || (error.status !== undefined && error.status < 500))
        throw error
      lastError = error.message
    }
    const elapsed = now() - started
    if (elapsed >= timeoutMs) {
      const seconds = Number((timeoutMs / 1000).toFixed(1))
      const lastSeen = last ? `${last.sync}/${last.health}: ${last.message}` : 'no answer'
      const message = `timed out after ${seconds} s waiting for "${name}" to be Synced and Healthy (last: ${lastError ?? lastSeen})`
      return {
        ok: false,
        sync: last?.sync ?? 'Unknown',
        health: last?.health ?? 'Unknown',
        ...(last?.revision ? { revision: last.revision } : {}),
        message,
      }
    }
    await pause(Math.min(pollMs, timeoutMs - elapsed))
  }
}
