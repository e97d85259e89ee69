import { describe, expect, it } from 'vitest'
import { diffObjects } from '../actions/lib/render/compare.js'
import { unifiedDiff } from '../actions/lib/render/line-diff.js'
import { parseChartLock } from '../actions/lib/render/sources.js'
import {
  manifestText,
  ObjectParser,
  parseObjects,
  perResourceFiles,
} from '../actions/lib/render/objects.js'

const lines = (n: number, change?: number) =>
  Array.from({ length: n }, (_, i) => (i === change ? `changed ${i}` : `line ${i}`)).join('\n') +
  '\n'

describe('unifiedDiff', () => {
  it('gives GNU-style hunks with three lines of context', () => {
    expect(
      unifiedDiff(
        'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n',
        'a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\n',
        'a/x',
        'b/x',
      ),
    ).toBe(
      [
        '--- a/x',
        '+++ b/x',
        '@@ -1,5 +1,5 @@',
        ' a',
        '-b',
        '+B',
        ' c',
        ' d',
        ' e',
        '@@ -9,3 +9,4 @@',
        ' i',
        ' j',
        ' k',
        '+l',
        '',
      ].join('\n'),
    )
    expect(unifiedDiff('same\n', 'same\n', 'a', 'b')).toBe('')
    expect(unifiedDiff('', 'x\n', '/dev/null', 'b/x')).toBe(
      '--- /dev/null\n+++ b/x\n@@ -0,0 +1,1 @@\n+x\n',
    )
  })

  it('joins changes closer than twice the context into one hunk, and stays minimal', () => {
    const diff = unifiedDiff(lines(20, 5), lines(20, 10), 'a', 'b')
    expect(diff.match(/^@@/gm)).toHaveLength(1)
    expect(diff.split('\n').filter((l) => /^[-+][^-+]/.test(l))).toEqual([
      '-changed 5',
      '+line 5',
      '-line 10',
      '+changed 10',
    ])
    expect(diff).toContain('@@ -3,12 +3,12 @@')
  })

  it('reports a replacement when the edit distance exceeds the limit', () => {
    const diff = unifiedDiff('a\nb\nc\n', 'x\ny\nz\n', 'a', 'b', 3, 2)
    expect(diff).toBe('--- a\n+++ b\n@@ -1,3 +1,3 @@\n-a\n-b\n-c\n+x\n+y\n+z\n')
  })
})

describe('canonical objects', () => {
  const stream = [
    'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: b\nspec:\n  replicas: 0x10\n',
    'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n',
    '# a comment\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: b\ndata:\n  big: 123456789012345678901234567890\n',
    'apiVersion: example.com/v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: b\n',
  ].join('---\n')

  it('sorts by kind priority, group, kind, namespace, name and keeps scalars exact', () => {
    const objects = parseObjects(stream, 'test')
    expect(objects.map((o) => `${o.group}/${o.kind}/${o.name}`)).toEqual([
      '/Namespace/b',
      '/ConfigMap/web',
      'apps/Deployment/web',
      'example.com/ConfigMap/web',
    ])
    const text = manifestText(objects)
    expect(text).toContain('replicas: 0x10')
    expect(text).toContain('big: 123456789012345678901234567890')
    expect(text).not.toContain('# a comment')
    expect(manifestText(parseObjects(text, 'again'))).toBe(text)
  })

  it('names per-resource files, adding the group only when two objects would collide', () => {
    expect([...perResourceFiles(parseObjects(stream, 'test')).keys()]).toEqual([
      '_cluster/namespace-b.yaml',
      'b/configmap.core-web.yaml',
      'b/configmap.example.com-web.yaml',
      'b/deployment-web.yaml',
    ])
  })

  it('reads a stream the same in chunks and whole, and remembers documents per parser', () => {
    const plain = parseObjects(stream, 'plain')
    // A marker with a comment, a document end and a directive make the stream parse whole.
    const unusual = `${stream.replace('---\n', '--- # next\n')}...\n%YAML 1.2\n---\n`
    expect(parseObjects(unusual, 'unusual')).toEqual(plain)
    const parser = new ObjectParser()
    expect(parser.parse(stream, 'first')).toEqual(plain)
    expect(parser.parse(stream, 'second')).toEqual(plain)
    const broken = `${stream}---\nkind: [\n`
    expect(() => parser.parse(broken, 'one')).toThrow(/^one: invalid YAML/)
    expect(() => parser.parse(broken, 'two')).toThrow(/^two: invalid YAML/)
  })

  it('refuses documents that are not Kubernetes objects', () => {
    expect(() => parseObjects('- a\n- b\n', 'x')).toThrow(
      'x: a document is not a Kubernetes object',
    )
    expect(() => parseObjects('kind: ConfigMap\nmetadata: {name: a}\n', 'x')).toThrow(
      'lacks apiVersion',
    )
  })
})

describe('diffObjects', () => {
  const cm = (name: string, value: string) =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  v: ${JSON.stringify(value)}\n`

  it('keys objects by group/kind/namespace/name and clips diff text to the limits', () => {
    const before = parseObjects(
      [cm('a', '1'), cm('b', '1'), cm('gone', '1')].join('---\n'),
      'before',
    )
    const after = parseObjects(
      [cm('a', '2'), cm('b', '1'), cm('new', lines(40))].join('---\n'),
      'after',
    )
    const changes = diffObjects(before, after, { perObject: 200, perEnvironment: 260 })
    expect(changes.map((c) => `${c.change} ${c.name}`)).toEqual([
      'changed a',
      'deleted gone',
      'added new',
    ])
    expect(changes[0]?.diff).toContain('-  v: "1"\n+  v: "2"\n')
    expect(changes[2]?.diff).toMatch(/… \d+ more diff lines omitted\n$|diff omitted/)
    expect(changes.reduce((sum, c) => sum + c.diff.length, 0)).toBeLessThan(600)
  })
})

describe('parseChartLock', () => {
  it('reads chart, version and sha256 digest, and rejects anything else', () => {
    const digest = `sha256:${'ab'.repeat(32)}`
    expect(
      parseChartLock(
        `charts:\n  - {chart: a, version: 1.0.0, digest: "${digest.toUpperCase().replace('SHA256', 'sha256')}"}\n  - {repo: "oci://r.example.com/c", chart: b, version: "2", digest: "${digest}"}\n`,
        'lock.yaml',
      ),
    ).toEqual([
      { chart: 'a', version: '1.0.0', digest },
      { repo: 'oci://r.example.com/c', chart: 'b', version: '2', digest },
    ])
    expect(() =>
      parseChartLock('charts:\n  - {chart: a, version: 1, digest: md5:00}\n', 'lock.yaml'),
    ).toThrow('lock.yaml: charts[0] needs chart, version and digest "sha256:<64 hex>"')
    expect(() => parseChartLock('{}', 'lock.yaml')).toThrow('lock.yaml: expected a "charts" list')
  })
})
