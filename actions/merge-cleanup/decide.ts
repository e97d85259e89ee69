// merge-cleanup's decisions, from facts alone: what to do next for one
// environment of a closed parent. merged.ts gathers the facts and executes
// the step; the landings of the whole run go out in one leased push.

/** What one environment looks like when its parent was merged. */
export interface MergedFacts {
  /** The base branch HEAD rendered (7 characters are shown). */
  drySha: string
  /** The WET branch. */
  branch: string
  /** False when the environment is gone from the base branch. */
  environmentExists: boolean
  /** The render of the base HEAD; undefined when it was not rendered. */
  render?: { status: 'rendered' | 'unchanged' | 'failed' | 'blocked'; reason?: string }
  /** A guard-blocked render whose deletions were authorized for this parent (`--allow-deletions`). */
  overridden: boolean
  child?: { number: number; state: 'open' | 'closed'; merged: boolean }
  /** The WET tip holds the render of this later base commit (never overwrite it with an older one). */
  newerRender?: string
  /** The render differs from the WET tip in its objects (provenance files alone do not count). */
  objectsChanged: boolean
  /** The environment's status on the parent head is success. */
  promoted: boolean
  mergeUnpromoted: boolean
  /** The child branch holds the render's objects (provenance files alone do not count). */
  childCurrent: boolean
}

export type MergedStep =
  /** Close the children (`why` in the log), then finish with `action`. */
  | { kind: 'close'; action: 'closed' | 'current'; why: string; detail: string }
  /** Nothing to merge or close: finish with `action`. */
  | { kind: 'finish'; action: 'merged'; detail: string }
  /** Leave the child for a human (its cluster goes back to the WET branch, the lock is released). */
  | { kind: 'leave'; reason: string }
  /** The child was merged from an older render: push the base HEAD render straight to the WET branch. */
  | { kind: 'write-wet'; detail: string }
  /**
   * Land the child: the WET branch moves, in the run's one leased push, to a
   * commit that has the child's head as parent and the render of the base
   * HEAD as tree (GitHub marks the child merged). `rerendered`: the child's
   * objects were stale (another parent merged first), the tree replaces them.
   */
  | { kind: 'land'; rerendered: boolean; detail: string }

export function nextMergedStep(f: MergedFacts): MergedStep {
  const at = f.drySha.slice(0, 7)
  if (!f.environmentExists) {
    return {
      kind: 'close',
      action: 'closed',
      why: 'its environment no longer exists on the base branch',
      detail: `environment no longer exists at ${at}; child closed`,
    }
  }
  const render = f.render
  if (!render || render.status === 'failed' || (render.status === 'blocked' && !f.overridden)) {
    return {
      kind: 'leave',
      reason: `render of ${at} ${render?.status ?? 'missing'}: ${render?.reason ?? 'it was not rendered'}`,
    }
  }
  const child = f.child
  if (f.newerRender !== undefined || !f.objectsChanged) {
    const holds = f.newerRender
      ? `${f.branch} already holds a render of the later commit ${f.newerRender.slice(0, 7)}`
      : `${f.branch} already equals the render of ${at}`
    if (child?.merged)
      return { kind: 'finish', action: 'merged', detail: `#${child.number} merged; ${holds}` }
    return {
      kind: 'close',
      action: 'current',
      why: `${holds}, so there is nothing left to merge`,
      detail: `${holds}; nothing to merge`,
    }
  }
  if (!child || child.state === 'closed') {
    if (child?.merged) {
      return {
        kind: 'write-wet',
        detail: `#${child.number} merged earlier; ${f.branch} re-rendered from ${at}`,
      }
    }
    return {
      kind: 'leave',
      reason: child
        ? `child #${child.number} was closed without merging, and the objects on ${f.branch} differ from the render of ${at}`
        : `no child PR, and the objects on ${f.branch} differ from the render of ${at}`,
    }
  }
  if (!f.mergeUnpromoted && !f.promoted) {
    return {
      kind: 'leave',
      reason: `never promoted, and merge.mergeUnpromoted is false: child #${child.number} left open`,
    }
  }
  return {
    kind: 'land',
    rerendered: !f.childCurrent,
    detail: `landed #${child.number} on ${f.branch}${f.childCurrent ? '' : ` (re-rendered from ${at}: objects changed since the child was rendered)`}`,
  }
}

export type ClosedStep =
  | { kind: 'close'; action: 'closed'; detail: string }
  | { kind: 'close'; action: 'left'; detail: string }

/** A parent closed without merging: its children close; a child merged before is a human's to undo. */
export function nextClosedStep(
  child: { number: number; merged: boolean } | undefined,
  branch: string,
): ClosedStep {
  if (child?.merged) {
    return {
      kind: 'close',
      action: 'left',
      detail: `child #${child.number} was merged into ${branch} before the parent was closed; ${branch} holds changes the base branch does not have: re-render it or revert #${child.number}`,
    }
  }
  return {
    kind: 'close',
    action: 'closed',
    detail: child ? `closed #${child.number}` : 'no open child',
  }
}
