import { createHash, randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ArgoCdOperation } from '../../../actions/lib/argocd/client.js'
import { jsonPatch, mergePatch, PatchError } from './patch.js'
import { loadSwaggerValidator } from './schema.js'
import type {
  ApplicationInput,
  ArgoCdApplication,
  ArgoCdSource,
  FaultSpec,
  HealthStatusCode,
  OperationPhase,
  RequestRecord,
  RevisionResolver,
  ScriptStep,
  SyncRecord,
  SyncStatusCode,
} from './types.js'

/** gRPC status codes the API server maps to HTTP (grpc-gateway's table). */
const grpcCodeForHttp: Record<number, number> = {
  400: 3,
  401: 16,
  403: 7,
  404: 5,
  405: 12,
  409: 10,
  429: 8,
  499: 1,
  500: 13,
  501: 12,
  503: 14,
  504: 4,
}

/** An error the handlers throw; rendered as grpc-gateway's `runtimeError` body. */
class ApiError extends Error {
  constructor(
    readonly httpStatus: number,
    message: string,
    readonly grpcCode = grpcCodeForHttp[httpStatus] ?? 2,
  ) {
    super(message)
  }
}

function errorBody(
  message: string,
  code: number,
): { error: string; code: number; message: string } {
  return { error: message, code, message }
}

/** Kubernetes metav1.Time: RFC 3339 without fractions. */
function timestamp(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z')
}

const defaultScript: ScriptStep[] = [
  { sync: 'Synced', health: 'Progressing' },
  { sync: 'Synced', health: 'Healthy' },
]

const terminalPhases = new Set<OperationPhase>(['Succeeded', 'Failed', 'Error'])

interface Run {
  steps: ScriptStep[]
  index: number
  served: number
  revisions: string[]
  operation: ArgoCdOperation
  startedAt: string
  sync: SyncStatusCode
  health: HealthStatusCode
  /** Set once the operation reached a terminal phase. */
  finished: boolean
  /** Set once the last step was applied after the operation ended: later refreshes are not overwritten. */
  settled: boolean
}

interface AppRecord {
  app: ArgoCdApplication
  /** The commits the last successful sync deployed, one per source. */
  deployed: string[]
  nextScript?: ScriptStep[]
  run?: Run
}

/** A stable fake commit SHA per source and target, for when a test does not care about real commits. */
export function fakeRevision(targetRevision: string, source: ArgoCdSource): string {
  if (/^[0-9a-f]{40}$/i.test(targetRevision)) return targetRevision.toLowerCase()
  return createHash('sha1')
    .update(`${source.repoURL ?? ''}\0${targetRevision}`)
    .digest('hex')
}

function clone<T>(value: T): T {
  return structuredClone(value)
}

function sourcesOf(app: ArgoCdApplication): ArgoCdSource[] {
  if (app.spec.sources && app.spec.sources.length > 0) return app.spec.sources
  return app.spec.source ? [app.spec.source] : []
}

function isMultiSource(app: ArgoCdApplication): boolean {
  return (app.spec.sources?.length ?? 0) > 0
}

/** Kubernetes label selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-separated (all must hold). */
function matchesSelector(labels: Record<string, string>, selector: string): boolean {
  return selector
    .split(',')
    .map((term) => term.trim())
    .filter(Boolean)
    .every((term) => {
      const inequality = /^([^!=]+)!=(.*)$/.exec(term)
      if (inequality) return labels[inequality[1]!.trim()] !== inequality[2]!.trim()
      const equality = /^([^!=]+)==?(.*)$/.exec(term)
      if (equality) return labels[equality[1]!.trim()] === equality[2]!.trim()
      if (term.startsWith('!')) return !(term.slice(1) in labels)
      return term in labels
    })
}

function notFound(name: string): ApiError {
  return new ApiError(404, `applications.argoproj.io "${name}" not found`)
}

export interface SimulatorCore {
  resolveRevision: RevisionResolver
  readonly requests: RequestRecord[]
  /** Every accepted sync in order, for asserting order and concurrency. */
  readonly syncs: SyncRecord[]
  readonly validationErrors: string[]
  addApplication(input: ApplicationInput): Promise<ArgoCdApplication>
  getApplication(name: string): ArgoCdApplication | undefined
  script(name: string, steps: ScriptStep[]): void
  addFault(fault: FaultSpec): void
  clearFaults(): void
  handle(request: IncomingMessage, response: ServerResponse): Promise<void>
}

export function createSimulatorCore(options: {
  token: string
  validate: boolean
  resolveRevision?: RevisionResolver
}): SimulatorCore {
  const apps = new Map<string, AppRecord>()
  const faults: Array<FaultSpec & { remaining: number }> = []
  const requests: RequestRecord[] = []
  const syncs: SyncRecord[] = []
  const validationErrors: string[] = []
  const validator = options.validate ? loadSwaggerValidator() : undefined
  let resourceVersion = 1000

  const core: SimulatorCore = {
    resolveRevision: options.resolveRevision ?? fakeRevision,
    requests,
    syncs,
    validationErrors,
    addApplication,
    getApplication: (name) => {
      const record = apps.get(name)
      return record ? clone(record.app) : undefined
    },
    script(name, steps) {
      const record = apps.get(name)
      if (!record) throw new Error(`no application "${name}" in the Argo CD simulator`)
      if (steps.length === 0) throw new Error('a script needs at least one step')
      record.nextScript = clone(steps)
    },
    addFault: (fault) => faults.push({ ...fault, remaining: fault.times ?? 1 }),
    clearFaults: () => faults.splice(0),
    handle,
  }

  function check(definition: string, value: unknown, what: string): string[] {
    if (!validator) return []
    const errors = validator.validate(definition, value)
    for (const error of errors) validationErrors.push(`${what} (${definition}): ${error}`)
    return errors
  }

  function nextResourceVersion(): string {
    resourceVersion += 1
    return String(resourceVersion)
  }

  async function resolveAll(
    app: ArgoCdApplication,
    overrides: Map<number, string> = new Map(),
  ): Promise<string[]> {
    const resolved: string[] = []
    for (const [index, source] of sourcesOf(app).entries()) {
      const target = overrides.get(index) ?? source.targetRevision ?? 'HEAD'
      try {
        resolved.push(await core.resolveRevision(target, source))
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error)
        throw new ApiError(400, `unable to resolve '${target}' to a commit SHA: ${reason}`, 3)
      }
    }
    return resolved
  }

  function setSyncRevisions(
    app: ArgoCdApplication,
    status: SyncStatusCode,
    revisions: string[],
  ): void {
    const multi = isMultiSource(app)
    app.status = app.status ?? {}
    app.status.sync = {
      status,
      ...(multi ? { revisions } : revisions[0] ? { revision: revisions[0] } : {}),
      comparedTo: multi
        ? { sources: clone(app.spec.sources ?? []) }
        : { source: clone(app.spec.source ?? {}) },
    }
  }

  function setHealth(app: ArgoCdApplication, health: HealthStatusCode, message?: string): void {
    app.status = app.status ?? {}
    const changed = app.status.health?.status !== health
    app.status.health = {
      status: health,
      lastTransitionTime: changed
        ? timestamp()
        : (app.status.health?.lastTransitionTime ?? timestamp()),
    }
    const name = app.metadata.name ?? ''
    app.status.resources = [
      {
        group: 'apps',
        version: 'v1',
        kind: 'Deployment',
        namespace: app.spec.destination?.namespace ?? name,
        name,
        status: app.status.sync?.status ?? 'Unknown',
        health: { status: health, ...(message ? { message } : {}) },
      },
    ]
  }

  /** What the controller would conclude on a refresh: OutOfSync when the targets moved past what is deployed. */
  async function reconcile(record: AppRecord): Promise<void> {
    const resolved = await resolveAll(record.app).catch((error: unknown) => {
      if (!(error instanceof ApiError)) throw error
      record.app.status = record.app.status ?? {}
      record.app.status.conditions = [
        { type: 'ComparisonError', message: error.message, lastTransitionTime: timestamp() },
      ]
      return undefined
    })
    record.app.status = record.app.status ?? {}
    record.app.status.reconciledAt = timestamp()
    if (!resolved) return
    delete record.app.status.conditions
    if (record.run && !record.run.finished) return
    const same =
      resolved.length === record.deployed.length &&
      resolved.every((sha, i) => sha === record.deployed[i])
    setSyncRevisions(record.app, same ? 'Synced' : 'OutOfSync', resolved)
    if (record.app.status.resources) {
      for (const resource of record.app.status.resources)
        resource.status = same ? 'Synced' : 'OutOfSync'
    }
  }

  async function addApplication(input: ApplicationInput): Promise<ArgoCdApplication> {
    const app: ArgoCdApplication = 'metadata' in input ? fromPartial(input) : fromSimple(input)
    const name = app.metadata.name ?? ''
    if (apps.has(name))
      throw new Error(`application "${name}" already exists in the Argo CD simulator`)
    const record: AppRecord = { app, deployed: [] }
    if (!('metadata' in input) || !input.status) {
      record.deployed = await resolveAll(app)
      setSyncRevisions(
        app,
        ('metadata' in input ? undefined : input.sync) ?? 'Synced',
        record.deployed,
      )
      setHealth(app, ('metadata' in input ? undefined : input.health) ?? 'Healthy')
      app.status!.reconciledAt = timestamp()
      app.status!.history = [
        {
          id: 0,
          deployedAt: timestamp(),
          ...(isMultiSource(app)
            ? { revisions: record.deployed, sources: clone(app.spec.sources ?? []) }
            : { revision: record.deployed[0] ?? '', source: clone(app.spec.source ?? {}) }),
        },
      ]
    } else {
      const sync = app.status?.sync
      record.deployed = sync?.revisions ?? (sync?.revision ? [sync.revision] : [])
    }
    check('v1alpha1Application', app, `addApplication ${name}`)
    apps.set(name, record)
    return clone(app)
  }

  function fromSimple(input: Extract<ApplicationInput, { repoURL: string }>): ArgoCdApplication {
    return {
      metadata: {
        name: input.name,
        namespace: 'argocd',
        ...(input.labels ? { labels: { ...input.labels } } : {}),
        uid: randomUUID(),
        resourceVersion: nextResourceVersion(),
        generation: 1,
        creationTimestamp: timestamp(),
      },
      spec: {
        project: input.project ?? 'default',
        destination: { server: 'https://kubernetes.default.svc', namespace: input.name },
        ...(input.multiSource
          ? { sources: input.multiSource.map((source) => ({ ...source })) }
          : {
              source: {
                repoURL: input.repoURL,
                path: input.path,
                targetRevision: input.targetRevision,
              },
            }),
        ...(input.automated ? { syncPolicy: { automated: { prune: true, selfHeal: true } } } : {}),
      },
    }
  }

  function fromPartial(
    input: Partial<ArgoCdApplication> & { metadata: { name: string } },
  ): ArgoCdApplication {
    const app = clone(input) as ArgoCdApplication
    app.metadata = {
      namespace: 'argocd',
      uid: randomUUID(),
      generation: 1,
      creationTimestamp: timestamp(),
      ...app.metadata,
      resourceVersion: nextResourceVersion(),
    }
    app.spec = app.spec ?? {}
    app.spec.project = app.spec.project ?? 'default'
    return app
  }

  function recordOf(name: string): AppRecord {
    const record = apps.get(name)
    if (!record) throw notFound(name)
    return record
  }

  /** One GET's worth of the scripted operation: apply the current step, then move on when it has lasted. */
  function advance(record: AppRecord): void {
    const run = record.run
    if (!run || run.settled) return
    const step = run.steps[run.index]!
    const last = run.index === run.steps.length - 1
    run.sync = step.sync ?? run.sync
    run.health = step.health ?? run.health
    const phase: OperationPhase =
      step.phase ?? (last ? 'Succeeded' : run.finished ? 'Succeeded' : 'Running')
    const app = record.app
    delete app.operation
    setSyncRevisions(app, run.sync, run.revisions)
    const failed = phase === 'Failed' || phase === 'Error'
    setHealth(app, run.health, failed ? undefined : step.message)
    const terminal = terminalPhases.has(phase)
    if (!run.finished) {
      const multi = isMultiSource(app)
      app.status!.operationState = {
        operation: clone(run.operation),
        phase,
        message: failed
          ? (step.message ?? 'one or more objects failed to apply')
          : terminal
            ? 'successfully synced (all tasks run)'
            : 'waiting for completion of hook and resources',
        startedAt: run.startedAt,
        ...(terminal ? { finishedAt: timestamp() } : {}),
        syncResult: multi
          ? { revisions: run.revisions, sources: clone(app.spec.sources ?? []) }
          : { revision: run.revisions[0] ?? '', source: clone(app.spec.source ?? {}) },
      }
      if (terminal) {
        run.finished = true
        if (phase === 'Succeeded') {
          record.deployed = [...run.revisions]
          const history = app.status!.history ?? []
          history.push({
            id: (history.at(-1)?.id ?? -1) + 1,
            deployStartedAt: run.startedAt,
            deployedAt: timestamp(),
            ...(multi
              ? { revisions: run.revisions, sources: clone(app.spec.sources ?? []) }
              : { revision: run.revisions[0] ?? '', source: clone(app.spec.source ?? {}) }),
          })
          app.status!.history = history
        }
      }
    }
    if (last && run.finished) run.settled = true
    run.served += 1
    if (run.served >= Math.max(1, step.polls ?? 1) && !last) {
      run.index += 1
      run.served = 0
    }
  }

  async function onSpecChanged(record: AppRecord): Promise<void> {
    record.app.metadata.generation = (record.app.metadata.generation ?? 0) + 1
    record.app.metadata.resourceVersion = nextResourceVersion()
    await reconcile(record)
  }

  /** Replace spec, labels and annotations from an edited copy, as the API server does on patch/update. */
  function adoptEdits(record: AppRecord, edited: ArgoCdApplication, what: string): void {
    const name = record.app.metadata.name ?? ''
    if (!edited || typeof edited !== 'object' || !edited.spec) {
      throw new ApiError(400, `error unmarshaling patched app: spec is missing`, 3)
    }
    if (check('v1alpha1ApplicationSpec', edited.spec, `${what} ${name} result`).length > 0) {
      throw new ApiError(
        400,
        'error unmarshaling patched app: the spec does not match the Application schema',
        3,
      )
    }
    if (sourcesOf(edited).length === 0) {
      throw new ApiError(
        400,
        'application spec for ' +
          name +
          ' is invalid: InvalidSpecError: spec.source or spec.sources is required',
        3,
      )
    }
    record.app.spec = clone(edited.spec)
    for (const key of ['labels', 'annotations'] as const) {
      const value = edited.metadata?.[key]
      if (value) record.app.metadata[key] = clone(value)
      else delete record.app.metadata[key]
    }
  }

  async function patchApplication(name: string, body: unknown): Promise<ArgoCdApplication> {
    const record = recordOf(name)
    const request = (body ?? {}) as { patch?: string; patchType?: string; name?: string }
    if (request.name && request.name !== name)
      throw new ApiError(400, `application name mismatch: ${request.name}`, 3)
    let patch: unknown
    try {
      patch = JSON.parse(request.patch ?? '')
    } catch {
      throw new ApiError(400, 'invalid patch: not JSON', 3)
    }
    let edited: unknown
    try {
      const patchType = request.patchType ?? ''
      if (patchType === 'merge') edited = mergePatch(clone(record.app), patch)
      else if (patchType === 'json' || patchType === '') edited = jsonPatch(record.app, patch)
      else throw new ApiError(400, `Patch type '${patchType}' is not supported`, 3)
    } catch (error) {
      if (error instanceof PatchError) throw new ApiError(400, error.message, 3)
      throw error
    }
    adoptEdits(record, edited as ArgoCdApplication, 'PATCH')
    await onSpecChanged(record)
    return clone(record.app)
  }

  async function updateApplication(name: string, body: unknown): Promise<ArgoCdApplication> {
    const record = recordOf(name)
    const incoming = body as ArgoCdApplication
    if (incoming.metadata?.name !== name) {
      throw new ApiError(
        400,
        `application name in the body (${incoming.metadata?.name ?? ''}) does not match ${name}`,
        3,
      )
    }
    const expected = incoming.metadata.resourceVersion
    if (expected && expected !== record.app.metadata.resourceVersion) {
      throw new ApiError(
        409,
        `Operation cannot be fulfilled on applications.argoproj.io "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        10,
      )
    }
    adoptEdits(record, incoming, 'PUT')
    await onSpecChanged(record)
    return clone(record.app)
  }

  async function syncApplication(name: string, body: unknown): Promise<ArgoCdApplication> {
    const record = recordOf(name)
    const app = record.app
    if (app.operation || (record.run && !record.run.finished)) {
      throw new ApiError(400, 'another operation is already in progress', 9)
    }
    const request = (body ?? {}) as {
      revision?: string
      revisions?: string[]
      sourcePositions?: Array<string | number>
      prune?: boolean
      dryRun?: boolean
    }
    const overrides = new Map<number, string>()
    if (isMultiSource(app)) {
      const positions = request.sourcePositions ?? []
      const revisions = request.revisions ?? []
      if (positions.length !== revisions.length) {
        throw new ApiError(
          400,
          'the number of revisions must match the number of source positions',
          3,
        )
      }
      positions.forEach((position, i) => overrides.set(Number(position) - 1, revisions[i]!))
    } else if (request.revision) {
      const automated = app.spec.syncPolicy?.automated
      const target = app.spec.source?.targetRevision ?? 'HEAD'
      if (automated && automated.enabled !== false && request.revision !== target) {
        throw new ApiError(
          400,
          `Cannot sync to ${request.revision}: auto-sync currently set to ${target}`,
          9,
        )
      }
      overrides.set(0, request.revision)
    }
    const revisions = await resolveAll(app, overrides)
    const operation: ArgoCdOperation = {
      sync: {
        ...(isMultiSource(app) ? { revisions } : { revision: revisions[0] ?? '' }),
        ...(request.prune !== undefined ? { prune: request.prune } : {}),
        ...(request.dryRun !== undefined ? { dryRun: request.dryRun } : {}),
      },
      initiatedBy: { username: 'admin' },
    }
    app.operation = clone(operation)
    record.run = {
      steps: record.nextScript ?? defaultScript,
      index: 0,
      served: 0,
      revisions,
      operation,
      startedAt: timestamp(),
      sync: 'Synced',
      health: 'Healthy',
      finished: false,
      settled: false,
    }
    delete record.nextScript
    const running = [...apps.values()].filter((r) => r.run && !r.run.finished).length
    syncs.push({
      application: name,
      targetRevision: app.spec.source?.targetRevision ?? 'HEAD',
      path: app.spec.source?.path ?? '',
      running,
    })
    return clone(app)
  }

  async function getApplication(name: string, refresh: string | null): Promise<ArgoCdApplication> {
    const record = recordOf(name)
    if (refresh === 'normal' || refresh === 'hard') await reconcile(record)
    advance(record)
    return clone(record.app)
  }

  function listApplications(query: URLSearchParams): {
    metadata: { resourceVersion: string }
    items: ArgoCdApplication[]
  } {
    const name = query.get('name')
    const selector = query.get('selector')
    const projects = [...query.getAll('projects'), ...query.getAll('project')]
    const repo = query.get('repo')
    const items = [...apps.values()]
      .map((record) => record.app)
      .filter((app) => !name || app.metadata.name === name)
      .filter((app) => !selector || matchesSelector(app.metadata.labels ?? {}, selector))
      .filter((app) => projects.length === 0 || projects.includes(app.spec.project ?? ''))
      .filter((app) => !repo || sourcesOf(app).some((source) => source.repoURL === repo))
      .map(clone)
    return { metadata: { resourceVersion: String(resourceVersion) }, items }
  }

  function authorized(request: IncomingMessage): 'ok' | 'missing' | 'invalid' {
    const header = request.headers.authorization
    const cookie = /(?:^|;\s*)argocd\.token=([^;]+)/.exec(request.headers.cookie ?? '')?.[1]
    const presented = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : cookie
    if (!presented) return 'missing'
    return presented === options.token ? 'ok' : 'invalid'
  }

  async function readBody(request: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  }

  function takeFault(
    method: string,
    path: string,
  ): (FaultSpec & { remaining: number }) | undefined {
    const fault = faults.find(
      (candidate) =>
        candidate.remaining > 0 &&
        (!candidate.method || candidate.method.toUpperCase() === method) &&
        (candidate.path === undefined ||
          (typeof candidate.path === 'string'
            ? candidate.path === path
            : candidate.path.test(path))),
    )
    if (fault) fault.remaining -= 1
    return fault
  }

  async function route(
    method: string,
    path: string,
    query: URLSearchParams,
    body: unknown,
  ): Promise<{ status: number; body: unknown; definition: string }> {
    const appMatch = /^\/api\/v1\/applications\/([^/]+)(\/sync)?$/.exec(path)
    if (path === '/api/v1/applications' && method === 'GET') {
      return { status: 200, body: listApplications(query), definition: 'v1alpha1ApplicationList' }
    }
    if (appMatch) {
      const name = decodeURIComponent(appMatch[1]!)
      if (appMatch[2] && method === 'POST') {
        check('applicationApplicationSyncRequest', body, `request POST ${path}`)
        return {
          status: 200,
          body: await syncApplication(name, body),
          definition: 'v1alpha1Application',
        }
      }
      if (!appMatch[2]) {
        if (method === 'GET') {
          return {
            status: 200,
            body: await getApplication(name, query.get('refresh')),
            definition: 'v1alpha1Application',
          }
        }
        if (method === 'PATCH') {
          check('applicationApplicationPatchRequest', body, `request PATCH ${path}`)
          return {
            status: 200,
            body: await patchApplication(name, body),
            definition: 'v1alpha1Application',
          }
        }
        if (method === 'PUT') {
          check('v1alpha1Application', body, `request PUT ${path}`)
          return {
            status: 200,
            body: await updateApplication(name, body),
            definition: 'v1alpha1Application',
          }
        }
      }
      throw new ApiError(405, 'Method Not Allowed')
    }
    if (path === '/api/v1/session/userinfo' && method === 'GET') {
      return {
        status: 200,
        body: { loggedIn: true, username: 'admin', iss: 'argocd' },
        definition: 'sessionGetUserInfoResponse',
      }
    }
    if (path === '/api/version' && method === 'GET') {
      return {
        status: 200,
        body: { Version: 'v3.5.0+simulator' },
        definition: 'versionVersionMessage',
      }
    }
    throw new ApiError(404, 'Not Found')
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://simulator')
    const method = (request.method ?? 'GET').toUpperCase()
    const path = url.pathname
    const raw = await readBody(request)
    const entry: RequestRecord = { method, path, query: url.search, status: 0 }
    requests.push(entry)
    const send = (status: number, body: unknown, definition: string): void => {
      entry.status = status
      check(definition, body, `response ${method} ${path} ${status}`)
      response.writeHead(status, { 'content-type': 'application/json' })
      response.end(JSON.stringify(body))
    }
    try {
      let body: unknown
      if (raw) {
        try {
          body = JSON.parse(raw)
          entry.body = body
        } catch {
          validationErrors.push(`request ${method} ${path}: body is not JSON`)
          throw new ApiError(400, 'invalid character in request body', 3)
        }
      }
      const fault = takeFault(method, path)
      if (fault?.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs))
      if (fault?.reset) {
        entry.status = -1
        request.socket.destroy()
        return
      }
      if (fault?.status) {
        entry.status = fault.status
        const faultBody =
          fault.body ??
          errorBody(`simulated fault (HTTP ${fault.status})`, grpcCodeForHttp[fault.status] ?? 2)
        response.writeHead(fault.status, { 'content-type': 'application/json' })
        response.end(typeof faultBody === 'string' ? faultBody : JSON.stringify(faultBody))
        return
      }
      const auth = authorized(request)
      if (auth !== 'ok' && path !== '/api/version') {
        throw new ApiError(
          401,
          auth === 'missing'
            ? 'no session information'
            : 'invalid session: token signature is invalid',
          16,
        )
      }
      const result = await route(method, path, url.searchParams, body)
      send(result.status, result.body, result.definition)
    } catch (error) {
      if (error instanceof ApiError) {
        send(error.httpStatus, errorBody(error.message, error.grpcCode), 'runtimeError')
      } else {
        const message = error instanceof Error ? error.message : String(error)
        send(500, errorBody(message, 13), 'runtimeError')
      }
    }
  }

  return core
}

export interface ServerHandle {
  url: string
  close(): Promise<void>
}

export async function listen(core: SimulatorCore): Promise<ServerHandle> {
  const server = createServer((request, response) => {
    core.handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500)
      response.end(String(error))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error ? reject(error) : resolve()))
      }),
  }
}
