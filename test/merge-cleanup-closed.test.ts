// merge-cleanup of a parent closed unmerged leaves no branch, lock, open
// child or redirected Application; with `merge.mergeUnpromoted: false`,
// children of environments never promoted stay open and are reported.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { parseConfig } from '../actions/lib/config/config.js'
import {
  cleanupComments,
  openPulls,
  settings,
  mergedChildren,
} from './fixtures/merge-cleanup/checks.js'
import { FLEET_DIR, startScenario, type Scenario } from './fixtures/merge-cleanup/scenario.js'

let s: Scenario

beforeEach(async () => {
  s = await startScenario()
})

afterEach(async () => {
  await s.stop()
})

describe('merge-cleanup of a parent closed without merging', { timeout: 300_000 }, () => {
  it('closes children, deletes branches, resets Applications and releases locks', async () => {
    const before = await s.renderMain()
    const p1 = await s.openParent('bump-app', { 'components/app/settings.yaml': settings('3') })
    expect((await s.createChildren(p1)).sort()).toEqual(['prod-a', 'prod-b', 'test-a', 'test-b'])
    await s.promote(p1, 'test-a')
    await s.lock(p1, 'prod-b')
    await s.close(p1)

    const result = await s.cleanup(p1)
    expect(result.parentState).toBe('closed')
    expect(result.closed).toEqual(['test-a', 'test-b', 'prod-a', 'prod-b'])
    expect(result.merged).toEqual([])
    expect(result.left).toEqual([])
    expect(mergedChildren(s)).toBe(0)
    // Nothing of the parent reached a WET branch; everything points at it again.
    for (const env of s.environments) {
      expect(await s.wetFiles(env.name)).toEqual(before.get(env.name))
      expect(s.applicationRevision(env.name)).toBe(env.branch)
    }
    expect(await s.branches('fleet-promote/')).toEqual([])
    expect(await s.branches('fleet-promote-lock/')).toEqual([])
    expect(openPulls(s)).toEqual([])
    expect(cleanupComments(s, p1)[0]?.body).toMatch(/closed without merging/)

    // Re-running is a no-op apart from reading.
    s.gh.resetRequests()
    const again = await s.cleanup(p1)
    expect(again.closed).toEqual(result.closed)
    expect(
      s.gh.requests.filter((r) => r.method !== 'GET' && !r.route.includes('git-upload-pack')),
    ).toEqual([])
    expect(s.gh.validationErrors).toEqual([])
  })
})

describe('merge-cleanup with merge.mergeUnpromoted: false', { timeout: 300_000 }, () => {
  it('leaves children of never-promoted environments open and says why', async () => {
    const p1 = await s.openParent('bump-app', {
      'components/app/settings.yaml': settings('4'),
      'fleet-promote.yaml': `${await configText()}merge:\n  mergeUnpromoted: false\n`,
    })
    await s.createChildren(p1)
    await s.promote(p1, 'test-a')
    await s.merge(p1)
    const result = await s.cleanup(p1)
    expect(result.merged).toEqual(['test-a'])
    expect(result.left.map((l) => l.environment).sort()).toEqual(['prod-a', 'prod-b', 'test-b'])
    expect(result.left[0]?.reason).toMatch(/never promoted, and merge\.mergeUnpromoted is false/)
    expect(
      openPulls(s)
        .map((p) => p.headRef)
        .sort(),
    ).toEqual(['prod-a', 'prod-b', 'test-b'].map((env) => `fleet-promote/pr-${p1}/${env}`))
    expect(await s.branches('fleet-promote-lock/')).toEqual([])
    expect(cleanupComments(s, p1)[0]?.body).toMatch(/Left for a human/)
  })
})

async function configText(): Promise<string> {
  const text = await readFile(join(FLEET_DIR, 'fleet-promote.yaml'), 'utf8')
  expect(parseConfig(text, 'fleet-promote.yaml').merge.mergeUnpromoted).toBe(true)
  return text
}

describe('merge-cleanup of a parent without children', { timeout: 300_000 }, () => {
  it('comments nothing and writes nothing', async () => {
    const parent = await s.openParent('docs', { 'README.md': 'Fleet docs\n' })
    await s.merge(parent)
    s.gh.resetRequests()
    const result = await s.cleanup(parent)
    expect(result).toMatchObject({ parentState: 'merged', environments: [], merged: [], left: [] })
    expect(result.summary).toMatch(/No child pull requests were found/)
    expect(result.commentUrl).toBeUndefined()
    expect(cleanupComments(s, parent)).toEqual([])
    const writes = s.gh.requests.filter(
      (r) => r.method !== 'GET' && !r.route.includes('git-upload-pack'),
    )
    expect(writes).toEqual([])
  })
})
