// Putting a cluster back on its WET branch: what every action does when the
// child branch an Argo CD Application runs is about to go away (a child
// closed, an environment dropped, a lock released, a parent merged). Reset
// the source to the WET branch, sync, wait for Synced and Healthy at the tip.
//
// Which Applications a caller may move is its own rule (`mayMove`): its own
// child branch, or a branch that no longer exists (a repair). Another open
// parent's child, a human's pin or a commit a deploy system set stay.

import {
  ArgoCdError,
  canonicalRepoURL,
  type ArgoCdApplication,
  type ArgoCdClient,
} from './client.js'

export type RestoreOutcome =
  /** Pointed back at the WET branch, synced and healthy at its tip. */
  | 'reset'
  /** It tracked the WET branch already; synced to its tip now. */
  | 'synced'
  /** On the WET branch and synced at its tip: nothing to do. */
  | 'unchanged'
  /** It follows something that is not the caller's to undo: left alone. */
  | 'kept'
  /** Argo CD refused, failed or timed out: the cluster may still run the child. */
  | 'failed'

export interface RestoreResult {
  application: string
  result: RestoreOutcome
  /** One sentence for comments and logs. */
  detail: string
  /** What it targeted before. */
  previous?: string
}

export interface RestoreRequest {
  application: string
  wetBranch: string
  /** The environment's folder on a shared WET branch: the source path it must track there. */
  path?: string
  /** The WET branch tip the Application must end up synced to. */
  wetTip: string
  /** The DRY repository URL, to pick the source of a multi-source Application. */
  repoURL: string
  /** Whether the caller may move the Application off `target` (never asked for the WET branch). */
  mayMove: (target: string) => boolean | Promise<boolean>
  timeoutMs: number
  pollMs: number
}

/** What the Application looks like, reduced to what the decision needs. */
export interface ApplicationFacts {
  /** The targetRevision of the source tracking the DRY repository; undefined when it has none. */
  target: string | undefined
  /** That source's path. */
  path: string | undefined
  multiSource: boolean
  synced: boolean
  /** The revisions it is synced to. */
  revisions: readonly string[]
}

export type RestoreStep = 'none' | 'keep' | 'sync' | 'move'

export function applicationFacts(app: ArgoCdApplication, repoURL: string): ApplicationFacts {
  const sources = app.spec.sources ?? []
  const multiSource = sources.length > 0
  const index = multiSource
    ? sources.findIndex((s) => canonicalRepoURL(s.repoURL ?? '') === canonicalRepoURL(repoURL))
    : 0
  const sync = app.status?.sync
  return {
    target: multiSource ? sources[index]?.targetRevision : app.spec.source?.targetRevision,
    path: multiSource ? sources[index]?.path : app.spec.source?.path,
    multiSource,
    synced: sync?.status === 'Synced',
    revisions: [sync?.revision, ...(sync?.revisions ?? [])].filter((r): r is string => Boolean(r)),
  }
}

/**
 * The next step, from the facts alone. On its WET branch but at another path
 * than its folder (it ran the child's folder elsewhere, or the branch root):
 * back to the folder, which is the caller's to set.
 */
export function restoreStep(
  facts: ApplicationFacts,
  request: Pick<RestoreRequest, 'wetBranch' | 'wetTip' | 'path'>,
  mayMove: boolean,
): RestoreStep {
  if (facts.target !== request.wetBranch) return mayMove ? 'move' : 'keep'
  if (request.path !== undefined && facts.path !== request.path) return 'move'
  const atTip = facts.synced && facts.revisions.includes(request.wetTip)
  return atTip ? 'none' : 'sync'
}

export async function restoreApplication(
  client: ArgoCdClient,
  request: RestoreRequest,
): Promise<RestoreResult> {
  const name = request.application
  let previous: string | undefined
  try {
    const facts = applicationFacts(await client.getApplication(name), request.repoURL)
    previous = facts.target
    const mayMove =
      previous !== undefined && previous !== request.wetBranch && (await request.mayMove(previous))
    const step = restoreStep(facts, request, mayMove)
    const base = { application: name, ...(previous !== undefined ? { previous } : {}) }
    if (step === 'none')
      return { ...base, result: 'unchanged', detail: `${name} runs ${request.wetBranch} already` }
    if (step === 'keep')
      return {
        ...base,
        result: 'kept',
        detail: `${name} follows ${previous ?? '(nothing)'}: left alone`,
      }
    if (step === 'move') {
      await client.setTargetRevision(name, request.wetBranch, {
        sourceRepoURL: request.repoURL,
        ...(request.path === undefined ? {} : { path: request.path }),
      })
    }
    // A multi-source sync syncs every source at its spec revision; a single source can name it.
    await client.sync(name, facts.multiSource ? {} : { revision: request.wetBranch })
    const waited = await client.waitForSyncedHealthy(name, {
      ...(request.wetTip ? { revision: request.wetTip } : {}),
      timeoutMs: request.timeoutMs,
      pollMs: request.pollMs,
    })
    const wet =
      request.path === undefined ? request.wetBranch : `${request.wetBranch}:${request.path}`
    const what = step === 'move' ? `${previous ?? '(none)'} → ${wet}` : wet
    if (!waited.ok)
      return { ...base, result: 'failed', detail: `${name}: ${what}, but ${waited.message}` }
    return {
      ...base,
      result: step === 'move' ? 'reset' : 'synced',
      detail: `${name}: ${what}, Synced and Healthy at ${request.wetTip.slice(0, 7) || 'its tip'}`,
    }
  } catch (error) {
    if (!(error instanceof ArgoCdError)) throw error
    const runs = previous === undefined ? '' : `${name} still runs ${previous}: `
    return {
      application: name,
      result: 'failed',
      detail: `${runs}${error.message}`,
      ...(previous !== undefined ? { previous } : {}),
    }
  }
}
