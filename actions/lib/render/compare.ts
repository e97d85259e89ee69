// Resource-level diff between a WET branch and a new render, and the deletion
// guard (2024 Flux incident: a broken kustomization shrank the desired set and
// prune deleted the cluster's workloads).
import type { DeletionGuardConfig } from '../config/types.js'
import type { ResourceChange } from '../hydration-types.js'
import { unifiedDiff } from './line-diff.js'
import { compareObjects, objectKey, type RenderedObject } from './objects.js'

/**
 * Diff text limits: a first render of a fleet with large CRDs would otherwise
 * put hundreds of megabytes of "added" diffs into hydration.json and memory.
 */
export const DIFF_LIMITS = { perObject: 32 * 1024, perEnvironment: 256 * 1024 }

function clipDiff(diff: string, max: number): string {
  if (diff.length <= max) return diff
  const cut = diff.lastIndexOf('\n', max)
  const kept = diff.slice(0, cut + 1)
  const omitted = diff.slice(cut + 1).split('\n').length - 1
  return `${kept}… ${omitted} more diff lines omitted\n`
}

export function diffObjects(
  before: readonly RenderedObject[],
  after: readonly RenderedObject[],
  limits = DIFF_LIMITS,
): ResourceChange[] {
  const old = new Map(before.map((object) => [objectKey(object), object]))
  const now = new Map(after.map((object) => [objectKey(object), object]))
  // Diffs are computed in output order, and only while the environment's budget lasts.
  const entries: {
    object: RenderedObject
    change: ResourceChange['change']
    diff: () => string
  }[] = []
  const label = (o: RenderedObject) =>
    `${o.group ? `${o.group}/` : ''}${o.kind}/${o.namespace ? `${o.namespace}/` : ''}${o.name}`
  for (const [key, object] of now) {
    const previous = old.get(key)
    if (!previous) {
      entries.push({
        object,
        change: 'added',
        diff: () => unifiedDiff('', object.yaml, '/dev/null', `b/${label(object)}`),
      })
    } else if (previous.yaml !== object.yaml) {
      entries.push({
        object,
        change: 'changed',
        diff: () =>
          unifiedDiff(previous.yaml, object.yaml, `a/${label(previous)}`, `b/${label(object)}`),
      })
    }
  }
  for (const [key, object] of old) {
    if (!now.has(key)) {
      entries.push({
        object,
        change: 'deleted',
        diff: () => unifiedDiff(object.yaml, '', `a/${label(object)}`, '/dev/null'),
      })
    }
  }
  let budget = limits.perEnvironment
  return entries
    .sort((a, b) => compareObjects(a.object, b.object))
    .map(({ object, change, diff: text }) => {
      const diff = budget > 0 ? clipDiff(text(), Math.min(limits.perObject, budget)) : ''
      budget -= diff.length
      return {
        change,
        apiVersion: object.apiVersion,
        kind: object.kind,
        name: object.name,
        namespace: object.namespace,
        diff: diff || '… diff omitted (the environment’s diff is over its size limit)\n',
      }
    })
}

export interface GuardVerdict {
  blocked: boolean
  /** Why (≤ 140 characters), also set when an override let a blocked render through. */
  reason?: string
}

function protects(protectedKinds: readonly string[], change: ResourceChange): boolean {
  const group = change.apiVersion.includes('/')
    ? change.apiVersion.slice(0, change.apiVersion.indexOf('/'))
    : ''
  return protectedKinds.some(
    (entry) => entry === change.kind || entry === `${change.kind}.${group}`,
  )
}

export function clip(text: string, max = 140): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

/** Blocks an empty render over existing resources, too many deletions, and deleting a protected kind. */
export function guardDeletions(
  before: number,
  after: number,
  changes: readonly ResourceChange[],
  guard: DeletionGuardConfig,
  allowDeletions: boolean,
): GuardVerdict {
  const deleted = changes.filter((change) => change.change === 'deleted')
  let reason: string | undefined
  const protectedGone = deleted.filter((change) => protects(guard.protectedKinds, change))
  if (before > 0 && after === 0) {
    reason = `empty render would delete all ${before} resources`
  } else if (protectedGone.length > 0) {
    const first = protectedGone[0] as ResourceChange
    const more = protectedGone.length > 1 ? ` (+${protectedGone.length - 1} more protected)` : ''
    reason = `would delete protected ${first.kind} ${first.namespace ? `${first.namespace}/` : ''}${first.name}${more}`
  } else if (deleted.length > guard.maxDeleted) {
    reason = `would delete ${deleted.length} resources (max ${guard.maxDeleted})`
  } else if (before > 0 && (deleted.length * 100) / before > guard.maxDeletedPercent) {
    const percent = Math.round((deleted.length * 1000) / before) / 10
    reason = `would delete ${deleted.length} of ${before} resources (${percent}% > ${guard.maxDeletedPercent}%)`
  }
  if (reason === undefined) return { blocked: false }
  if (allowDeletions)
    return { blocked: false, reason: clip(`deletions allowed by override: ${reason}`) }
  return { blocked: true, reason: clip(reason) }
}
