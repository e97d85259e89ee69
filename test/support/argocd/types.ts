import type { ArgoCdApplication, ArgoCdSource } from '../../../actions/lib/argocd/client.js'

export type { ArgoCdApplication, ArgoCdSource }

export type SyncStatusCode = 'Synced' | 'OutOfSync' | 'Unknown'
export type HealthStatusCode =
  'Healthy' | 'Progressing' | 'Degraded' | 'Missing' | 'Suspended' | 'Unknown'
export type OperationPhase = 'Running' | 'Succeeded' | 'Failed' | 'Error' | 'Terminating'

/**
 * One state an Application goes through after a sync. Unset fields carry
 * over from the previous step (first step: Synced, Healthy).
 */
export interface ScriptStep {
  sync?: SyncStatusCode
  health?: HealthStatusCode
  /** The resource's health message; the operation message when `phase` is Failed or Error. */
  message?: string
  /** How many GETs of the Application this step lasts (default 1); the last step lasts forever. */
  polls?: number
  /** The sync operation's phase: Running until the last step, then Succeeded, unless set. */
  phase?: OperationPhase
}

/** Maps a source's targetRevision (a branch, tag or SHA) to the commit Argo CD would deploy. */
export type RevisionResolver = (
  targetRevision: string,
  source: ArgoCdSource,
) => string | Promise<string>

export interface SimpleApplicationInput {
  name: string
  project?: string
  repoURL: string
  path: string
  targetRevision: string
  /** Makes a multi-source Application (`spec.sources`); repoURL/path/targetRevision are then ignored. */
  multiSource?: Array<{ repoURL: string; path: string; targetRevision: string }>
  labels?: Record<string, string>
  /** Sets `spec.syncPolicy.automated` (the simulator does not auto-sync; it enforces the sync revision rule). */
  automated?: boolean
  /** Initial state (default Synced, Healthy at the resolved target revision). */
  sync?: SyncStatusCode
  health?: HealthStatusCode
}

/** A full Application (its `status` kept as given) or the short form. */
export type ApplicationInput =
  SimpleApplicationInput | (Partial<ArgoCdApplication> & { metadata: { name: string } })

export interface FaultSpec {
  method?: string
  /** Exact request path (no query) or a pattern tested against it. */
  path?: string | RegExp
  /** HTTP status to answer; without it the fault only delays (`delayMs`) or resets. */
  status?: number
  /** Response body (default: a gRPC-gateway error for the status). */
  body?: unknown
  /** How many matching requests it hits (default 1; Infinity for all). */
  times?: number
  delayMs?: number
  /** Destroy the connection without an answer. */
  reset?: boolean
}

/** One accepted sync: the application and how many sync operations were running, itself included. */
export interface SyncRecord {
  application: string
  /** The branch or revision the Application targeted when it was synced. */
  targetRevision: string
  /** The directory of that revision it deploys (its source path; '' for a multi-source one). */
  path: string
  running: number
}

export interface RequestRecord {
  method: string
  path: string
  query: string
  status: number
  /** The parsed JSON request body, when there was one. */
  body?: unknown
}
