// merge-cleanup's decisions as tables: facts in, the next step out, in
// milliseconds (the simulator tests keep a few of these end to end).
import { describe, expect, it } from 'vitest'
import {
  nextClosedStep,
  nextMergedStep,
  type MergedFacts,
  type MergedStep,
} from '../actions/merge-cleanup/decide.js'
import { restoreStep, type ApplicationFacts } from '../actions/lib/argocd/restore.js'

const DRY = 'd'.repeat(40)

function facts(over: Partial<MergedFacts> = {}): MergedFacts {
  return {
    drySha: DRY,
    branch: 'env/test-a',
    environmentExists: true,
    render: { status: 'rendered' },
    overridden: false,
    child: { number: 7, state: 'open', merged: false },
    objectsChanged: true,
    promoted: true,
    mergeUnpromoted: true,
    childCurrent: true,
    ...over,
  }
}

const open = { number: 7, state: 'open', merged: false } as const
const merged = { number: 7, state: 'closed', merged: true } as const
const closed = { number: 7, state: 'closed', merged: false } as const

describe('nextMergedStep', () => {
  const cases: [string, Partial<MergedFacts>, MergedStep['kind'], RegExp?][] = [
    ['the child holds the render: land it as it is', {}, 'land', /"rerendered":false/],
    [
      'the child holds older objects: land the render of the base HEAD on it',
      { childCurrent: false },
      'land',
      /"rerendered":true.*re-rendered from ddddddd: objects changed/,
    ],
    ['the environment is gone', { environmentExists: false }, 'close', /no longer exists/],
    [
      'the render failed',
      { render: { status: 'failed', reason: 'boom' } },
      'leave',
      /failed: boom/,
    ],
    ['not rendered at all', { render: undefined }, 'leave', /missing: it was not rendered/],
    [
      'the guard blocked it',
      { render: { status: 'blocked', reason: 'deletes a Namespace' } },
      'leave',
      /blocked: deletes a Namespace/,
    ],
    [
      'the guard blocked it, but --allow-deletions deployed it',
      { render: { status: 'blocked' }, overridden: true },
      'land',
    ],
    [
      'the WET branch holds the same objects (provenance differs)',
      { objectsChanged: false },
      'close',
      /already equals the render/,
    ],
    [
      'a later render is on the WET branch',
      { newerRender: 'e'.repeat(40) },
      'close',
      /later commit eeeeeee/,
    ],
    [
      'merged before, WET current',
      { child: merged, objectsChanged: false },
      'finish',
      /#7 merged; /,
    ],
    ['merged before from an older render', { child: merged }, 'write-wet', /merged earlier/],
    [
      'closed child, objects differ',
      { child: closed },
      'leave',
      /closed without merging, and the objects/,
    ],
    [
      'closed child, only provenance differs (a dropped environment)',
      { child: closed, objectsChanged: false },
      'close',
      /nothing to merge/,
    ],
    ['no child, objects differ', { child: undefined }, 'leave', /no child PR/],
    [
      'never promoted and mergeUnpromoted off',
      { promoted: false, mergeUnpromoted: false },
      'leave',
      /never promoted/,
    ],
    ['never promoted, mergeUnpromoted on', { promoted: false }, 'land'],
  ]
  it.each(cases)('%s', (_, over, kind, detail) => {
    const step = nextMergedStep(facts(over))
    expect(step.kind).toBe(kind)
    if (detail) expect(JSON.stringify(step)).toMatch(detail)
  })

  it('keeps an open child unmerged when its environment vanished, and says at which commit', () => {
    expect(nextMergedStep(facts({ environmentExists: false, child: open }))).toEqual({
      kind: 'close',
      action: 'closed',
      why: 'its environment no longer exists on the base branch',
      detail: 'environment no longer exists at ddddddd; child closed',
    })
  })
})

describe('nextClosedStep', () => {
  it('closes an open child, and leaves a merged one for a human', () => {
    expect(nextClosedStep({ number: 3, merged: false }, 'env/a')).toMatchObject({
      action: 'closed',
      detail: 'closed #3',
    })
    expect(nextClosedStep(undefined, 'env/a')).toMatchObject({
      action: 'closed',
      detail: 'no open child',
    })
    expect(nextClosedStep({ number: 3, merged: true }, 'env/a').detail).toMatch(/revert #3/)
  })
})

describe('restoreStep', () => {
  const app = (over: Partial<ApplicationFacts>): ApplicationFacts => ({
    target: 'env/a',
    path: '.',
    multiSource: false,
    synced: true,
    revisions: ['t'.repeat(40)],
    ...over,
  })
  const request = { wetBranch: 'env/a', wetTip: 't'.repeat(40) }
  it.each([
    ['on the WET branch at its tip', app({}), false, 'none'],
    ['on the WET branch, behind its tip', app({ revisions: ['o'.repeat(40)] }), false, 'sync'],
    ['on the WET branch, OutOfSync', app({ synced: false }), false, 'sync'],
    ['on our child branch', app({ target: 'fleet-promote/pr-1/a' }), true, 'move'],
    ["on another parent's child branch", app({ target: 'fleet-promote/pr-2/a' }), false, 'keep'],
    ['without a source for this repository', app({ target: undefined }), false, 'keep'],
  ] as const)('%s → %s', (_, facts, mayMove, step) => {
    expect(restoreStep(facts, request, mayMove)).toBe(step)
  })
  // A shared WET branch: the Application belongs at its environment's folder there.
  const folder = { ...request, path: 'a' }
  it.each([
    ['on the WET branch at its folder and tip', app({ path: 'a' }), false, 'none'],
    ['on the WET branch at its folder, behind', app({ path: 'a', synced: false }), false, 'sync'],
    ['on the WET branch root', app({}), false, 'move'],
    ['on our child branch', app({ target: 'fleet-promote/pr-1/env-a', path: 'a' }), true, 'move'],
    ["on another parent's child", app({ target: 'fleet-promote/pr-2/env-a' }), false, 'keep'],
  ] as const)('shared: %s → %s', (_, facts, mayMove, step) => {
    expect(restoreStep(facts, folder, mayMove)).toBe(step)
  })
})
