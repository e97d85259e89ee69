// merge-cleanup's pure parts: which child speaks for an environment, and the
// parent comment / job summary.
import { describe, expect, it } from 'vitest'
import {
  primaryChild,
  renderCleanupReport,
  renderJobSummary,
  type EnvironmentCleanup,
  type MergeCleanupResult,
} from '../actions/merge-cleanup/merge-cleanup.js'
import type { ChildPr as FoundChild } from '../actions/lib/github/pulls.js'

function child(number: number, over: Partial<FoundChild> = {}): FoundChild {
  return {
    environment: 'test-a',
    parent: 1,
    number,
    url: `https://github.test/acme/fleet/pull/${number}`,
    state: 'closed',
    merged: false,
    title: '',
    body: '',
    headSha: 'a'.repeat(40),
    branch: 'fleet-promote/pr-1/test-a',
    base: 'env/test-a',
    labels: [],
    ...over,
  }
}

describe('primaryChild', () => {
  it('prefers the open child, then a merged one, then the newest', () => {
    const list = [child(9), child(7, { merged: true }), child(5, { state: 'open' })]
    expect(primaryChild(list)?.number).toBe(5)
    expect(primaryChild(list.slice(0, 2))?.number).toBe(7)
    expect(primaryChild([child(9), child(3)])?.number).toBe(9)
    expect(primaryChild([])).toBeUndefined()
  })
})

function environment(over: Partial<EnvironmentCleanup>): EnvironmentCleanup {
  return {
    environment: 'test-a',
    stage: 'testing',
    branch: 'env/test-a',
    child: { number: 4, url: 'https://github.test/acme/fleet/pull/4' },
    action: 'merged',
    detail: 'merged #4 into env/test-a (re-rendered from abc1234: same objects, new provenance)',
    rerendered: true,
    application: { name: 'test-a-addons', result: 'reset', detail: 'x → env/test-a' },
    lock: 'released',
    ...over,
  }
}

function result(over: Partial<MergeCleanupResult>): MergeCleanupResult {
  return {
    parent: 1,
    parentState: 'merged',
    drySha: 'b'.repeat(40),
    environments: [],
    merged: [],
    closed: [],
    left: [],
    locksReleased: [],
    repaired: [],
    summary: '',
    failed: false,
    ...over,
  }
}

describe('renderCleanupReport', () => {
  it('describes the end state, the same whatever this run did', () => {
    const firstRun = result({ environments: [environment({})] })
    const rerun = result({
      environments: [
        environment({
          detail: '#4 merged; env/test-a already equals the render of bbbbbbb',
          rerendered: false,
          application: { name: 'test-a-addons', result: 'unchanged', detail: 'already there' },
          lock: 'absent',
        }),
      ],
    })
    const text = renderCleanupReport(firstRun, { base: 'main' })
    expect(renderCleanupReport(rerun, { base: 'main' })).toBe(text)
    expect(text).toContain('#1 merged, children landed')
    expect(text).toContain('render of `main` at `bbbbbbb`')
    expect(text).toContain(
      '| `test-a` | testing | ✅ merged | [#4](https://github.test/acme/fleet/pull/4) |',
    )
    expect(text).toContain('✔️ `test-a-addons` on `env/test-a`')
    expect(text).toContain('No environment lock is held by #1 any more.')
    expect(text).not.toContain('Left for a human')
  })

  it('lists what is left for a human and asks for a re-run after a failure', () => {
    const text = renderCleanupReport(
      result({
        environments: [
          environment({ action: 'failed', detail: 'HTTP 500 | upstream', application: undefined }),
          environment({
            environment: 'prod-a',
            stage: 'production',
            action: 'skipped',
            detail: 'not processed',
            application: { name: 'prod-a-addons', result: 'kept', detail: 'follows another PR' },
          }),
        ],
        left: [
          { environment: 'test-a', reason: 'HTTP 500 <b>', child: 4 },
          { environment: 'prod-a', reason: 'not processed' },
        ],
        failed: true,
      }),
      { base: 'main' },
    )
    expect(text).toContain('❌ failed')
    expect(text).toContain('HTTP 500 \\| upstream')
    expect(text).toContain('↪️ `prod-a-addons` follows another PR')
    expect(text).toContain('#### Left for a human')
    expect(text).toContain('- `test-a` (#4): HTTP 500 &lt;b&gt;')
    expect(text).toContain('re-run the workflow to finish')
    expect(text).not.toContain('No environment lock is held')
  })

  it('titles a parent closed without merging', () => {
    const text = renderCleanupReport(
      result({
        parentState: 'closed',
        environments: [environment({ action: 'closed', detail: 'closed #4' })],
      }),
      { base: 'main' },
    )
    expect(text).toContain('#1 closed without merging, children closed')
    expect(text).toContain('🚫 closed')
  })
})

describe('renderJobSummary', () => {
  it('adds what this run did and the run link', () => {
    const run = result({ environments: [environment({})], locksReleased: ['prod-b'] })
    const summary = renderJobSummary(
      run,
      'REPORT\n',
      'https://github.test/acme/fleet/actions/runs/7',
    )
    expect(summary.startsWith('REPORT\n')).toBe(true)
    expect(summary).toContain('#### This run')
    expect(summary).toContain('- `test-a`: merged #4 into env/test-a')
    expect(summary).toContain('; Argo CD: x → env/test-a; lock released')
    expect(summary).toContain('- `prod-b`: lock released')
    expect(summary).toContain('[workflow run](https://github.test/acme/fleet/actions/runs/7)')
  })
})
