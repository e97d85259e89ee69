import { describe, expect, it } from 'vitest'
import {
  childBranch,
  childTitle,
  encodeMarker,
  identifyChild,
  isValidRefPart,
  parseChildBranch,
  parseMarker,
  type ChildMarker,
} from '../actions/lib/children.js'

const marker: ChildMarker = {
  version: 1,
  parent: 42,
  environment: 'prod-eu-1',
  stage: 'production',
  branch: 'env/prod-eu-1',
  drySha: 'a'.repeat(40),
  headSha: 'b'.repeat(40),
}

describe('child branches', () => {
  it('round-trips parent and environment', () => {
    const branch = childBranch(42, 'prod-eu-1')
    expect(branch).toBe('fleet-promote/pr-42/prod-eu-1')
    expect(parseChildBranch(branch)).toEqual({ parent: 42, environment: 'prod-eu-1' })
    expect(parseChildBranch(`refs/heads/${branch}`)).toEqual({
      parent: 42,
      environment: 'prod-eu-1',
    })
    expect(parseChildBranch(childBranch(7, 'group/cluster'))).toEqual({
      parent: 7,
      environment: 'group/cluster',
    })
  })

  it('rejects other branches and bad names', () => {
    for (const ref of [
      'main',
      'fleet-promote/pr-0/x',
      'fleet-promote/pr-01/x',
      'fleet-promote/pr-5/',
      'fleet-promote/pr-x/y',
      'fleet-promote/pr-5/a..b',
      'other/fleet-promote/pr-5/x',
    ]) {
      expect(parseChildBranch(ref), ref).toBeUndefined()
    }
    expect(() => childBranch(0, 'x')).toThrow(/parent/)
    expect(() => childBranch(1, 'a b')).toThrow(/branch name/)
    expect(() => childBranch(1, '../x')).toThrow(/branch name/)
  })

  it.each([
    ['cluster-a', true],
    ['group/cluster', true],
    ['a..b', false],
    ['.hidden', false],
    ['x.lock', false],
    ['a:b', false],
    ['a@{1}', false],
    ['-', true],
    ['ends.', false],
    ['a//b', false],
    ['', false],
  ])('isValidRefPart(%j) = %s', (name, ok) => {
    expect(isValidRefPart(name)).toBe(ok)
  })
})

describe('marker', () => {
  it('round-trips and hides inside an HTML comment', () => {
    const text = encodeMarker(marker)
    expect(text.startsWith('<!-- fleet-promote:child {')).toBe(true)
    expect(parseMarker(`Some body\n\n${text}\n`)).toEqual(marker)
  })

  it('keeps the DRY base and the moved base tip, and drops a marker whose SHAs are not strings', () => {
    const based = { ...marker, dryBase: 'a'.repeat(40), baseMovedTo: 'b'.repeat(40) }
    expect(parseMarker(encodeMarker(based))).toEqual(based)
    const text = encodeMarker(marker).replace('{', '{"baseMovedTo":7,')
    expect(parseMarker(text)).toBeUndefined()
  })

  it("keeps a shared branch's folders, and drops a marker with a folder for no environment or an unsafe one", () => {
    const shared = {
      ...marker,
      environments: ['a', 'b'],
      folders: { a: 'clusters/a', b: 'b' },
    }
    expect(parseMarker(encodeMarker(shared))).toEqual(shared)
    for (const folders of [{ c: 'c' }, { a: '../a' }, { a: '.git' }, { a: 7 }, ['a']]) {
      const text = encodeMarker(shared).replace(
        /"folders":\{[^}]*\}/,
        `"folders":${JSON.stringify(folders)}`,
      )
      expect(parseMarker(text), JSON.stringify(folders)).toBeUndefined()
    }
    expect(parseMarker(encodeMarker({ ...marker, folders: { a: 'a' } }))).toBeUndefined()
  })

  it('escapes values so they cannot close the comment', () => {
    const hostile = { ...marker, stage: 'x --> <script>' }
    const text = encodeMarker(hostile)
    expect(text.indexOf('-->')).toBe(text.length - 3)
    expect(parseMarker(text)).toEqual(hostile)
  })

  it('ignores missing, malformed, wrong-shape and conflicting markers', () => {
    expect(parseMarker(null)).toBeUndefined()
    expect(parseMarker('no marker')).toBeUndefined()
    expect(parseMarker('<!-- fleet-promote:child {not json} -->')).toBeUndefined()
    expect(parseMarker('<!-- fleet-promote:child {"version":2} -->')).toBeUndefined()
    expect(parseMarker(encodeMarker({ ...marker, parent: -1 }))).toBeUndefined()
    const other = encodeMarker({ ...marker, environment: 'other' })
    expect(parseMarker(`${encodeMarker(marker)}\n${other}`)).toBeUndefined()
    expect(parseMarker(`${encodeMarker(marker)}\n${encodeMarker(marker)}`)).toEqual(marker)
  })
})

describe('identifyChild', () => {
  const pull = (
    over: Partial<{ ref: string; repo: string | null; base: string; body: string }>,
  ) => ({
    number: 9,
    body: over.body ?? encodeMarker(marker),
    head: {
      ref: over.ref ?? 'fleet-promote/pr-42/prod-eu-1',
      repo: over.repo === null ? null : { full_name: over.repo ?? 'acme/fleet' },
    },
    base: { ref: over.base ?? 'env/prod-eu-1' },
  })

  it('trusts the branch name in the same repository and keeps an agreeing marker', () => {
    expect(identifyChild(pull({}), 'Acme/Fleet')).toEqual({
      parent: 42,
      environment: 'prod-eu-1',
      marker,
    })
  })

  it('drops a marker that disagrees with branch or base, but keeps the child', () => {
    expect(identifyChild(pull({ base: 'env/other' }), 'acme/fleet')).toEqual({
      parent: 42,
      environment: 'prod-eu-1',
    })
    expect(
      identifyChild(pull({ body: encodeMarker({ ...marker, parent: 1 }) }), 'acme/fleet'),
    ).toEqual({
      parent: 42,
      environment: 'prod-eu-1',
    })
  })

  it('rejects forks, deleted head repositories and foreign branches even with a marker', () => {
    expect(identifyChild(pull({ repo: 'mallory/fleet' }), 'acme/fleet')).toBeUndefined()
    expect(identifyChild(pull({ repo: null }), 'acme/fleet')).toBeUndefined()
    expect(identifyChild(pull({ ref: 'feature' }), 'acme/fleet')).toBeUndefined()
  })
})

describe('childTitle', () => {
  it('names environment and parent and fits 256 characters', () => {
    expect(childTitle(5, 'test-a', 'Bump  cert-manager\n to 1.15')).toBe(
      '[test-a] Bump cert-manager to 1.15 (#5)',
    )
    const long = childTitle(5, 'test-a', 'x'.repeat(400))
    expect(long.length).toBe(256)
    expect(long).toMatch(/^\[test-a\] x+… \(#5\)$/)
  })
})
