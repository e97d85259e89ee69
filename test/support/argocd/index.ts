/**
 * Argo CD simulator for tests: the API server's Application endpoints
 * (list, get with refresh, patch, update, sync) over HTTP on 127.0.0.1, with
 * bearer-token auth, scripted sync/health transitions after a sync, fault
 * injection, a request log, and validation of every request and response
 * body against Argo CD's swagger.
 *
 * ```ts
 * const argocd = await startArgoCdSimulator()
 * await argocd.addApplication({ name: 'addons-dev', repoURL, path: 'env/dev', targetRevision: 'env/dev' })
 * argocd.script('addons-dev', [{ health: 'Progressing', polls: 2 }, { health: 'Degraded', message: 'CrashLoopBackOff' }])
 * const client = createArgoCdClient({ server: argocd.url, token: argocd.token })
 * // … then:
 * expect(argocd.validationErrors).toEqual([])
 * await argocd.stop()
 * ```
 */
import { createSimulatorCore, listen } from './simulator.js'
import type {
  ApplicationInput,
  ArgoCdApplication,
  FaultSpec,
  RequestRecord,
  RevisionResolver,
  ScriptStep,
  SyncRecord,
} from './types.js'

export type * from './types.js'
export { fakeRevision } from './simulator.js'

export interface ArgoCdSimulatorOptions {
  /** The bearer token the server accepts (default: a fixed test token). */
  token?: string
  /** Validate request and response bodies against the swagger (default true). */
  validate?: boolean
  /** Target revision → commit SHA (default: a stable fake SHA per repo and revision; SHAs map to themselves). */
  resolveRevision?: RevisionResolver
}

export interface ArgoCdSimulator {
  readonly url: string
  readonly token: string
  /** Replaceable at any time, e.g. with `git rev-parse` on the GitHub simulator's bare repository. */
  resolveRevision: RevisionResolver
  /** Adds an Application, Synced and Healthy at its resolved target revision unless said otherwise. */
  addApplication(input: ApplicationInput): Promise<ArgoCdApplication>
  /** A copy of the Application's current state (no polling side effects), or undefined. */
  getApplication(name: string): ArgoCdApplication | undefined
  /** What the Application goes through after its next sync (later syncs go Progressing → Healthy again). */
  script(name: string, steps: ScriptStep[]): void
  readonly faults: { add(fault: FaultSpec): void; clear(): void }
  /** Every request, in order (status -1: connection reset by a fault). */
  readonly requests: RequestRecord[]
  /** Every accepted sync in order, with the operations running at that moment. */
  readonly syncs: SyncRecord[]
  /** Every request or response body that did not match the swagger. */
  readonly validationErrors: string[]
  stop(): Promise<void>
}

export async function startArgoCdSimulator(
  options: ArgoCdSimulatorOptions = {},
): Promise<ArgoCdSimulator> {
  const token = options.token ?? 'argocd-simulator-token'
  const core = createSimulatorCore({
    token,
    validate: options.validate ?? true,
    ...(options.resolveRevision ? { resolveRevision: options.resolveRevision } : {}),
  })
  const server = await listen(core)
  return {
    url: server.url,
    token,
    get resolveRevision() {
      return core.resolveRevision
    },
    set resolveRevision(resolver: RevisionResolver) {
      core.resolveRevision = resolver
    },
    addApplication: (input) => core.addApplication(input),
    getApplication: (name) => core.getApplication(name),
    script: (name, steps) => core.script(name, steps),
    faults: { add: (fault) => core.addFault(fault), clear: () => core.clearFaults() },
    requests: core.requests,
    syncs: core.syncs,
    validationErrors: core.validationErrors,
    stop: () => server.close(),
  }
}
