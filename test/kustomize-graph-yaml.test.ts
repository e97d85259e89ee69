// The fast block-YAML reader must agree with the `yaml` package whenever it
// answers (it may always decline): checked on the fixtures, on generated
// fleets, on hand-picked edge cases and on random documents.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import { parseBlockYaml } from '../actions/lib/kustomize/block-yaml.js'
import { generateFleet, seededRandom } from './support/fleet-gen.js'

const fixtures = fileURLToPath(new URL('./fixtures/fleets', import.meta.url))

function agrees(text: string): 'fast' | 'declined' {
  const fast = parseBlockYaml(text)
  if (fast === undefined) return 'declined'
  expect(fast, text).toEqual(parse(text))
  return 'fast'
}

describe('parseBlockYaml', () => {
  it('agrees with the yaml package on every fixture YAML file, and reads all fixture kustomizations', () => {
    const files = readdirSync(fixtures, { recursive: true, withFileTypes: true })
      .filter(
        (entry) =>
          entry.isFile() && /\.ya?ml$/.test(entry.name) && !entry.parentPath.includes('templates'),
      )
      .map((entry) => join(entry.parentPath, entry.name))
    expect(files.length).toBeGreaterThan(40)
    for (const file of files) {
      const result = agrees(readFileSync(file, 'utf8'))
      if (file.endsWith('kustomization.yaml')) expect(result, file).toBe('fast')
    }
  })

  it('reads generated fleet kustomizations on the fast path, and agrees on the other files', () => {
    const fleet = generateFleet({ clusters: 5, components: 6 })
    for (const [path, text] of Object.entries(fleet)) {
      if (path.endsWith('kustomization.yaml') && text !== null)
        expect(agrees(text), path).toBe('fast')
      else if (path.endsWith('.yaml') && text !== null) agrees(text)
    }
  })

  it.each([
    ['empty', ''],
    ['comments only', '# nothing\n'],
    ['document start', '---\nresources:\n  - a.yaml\n'],
    ['sequence at the key indentation', 'resources:\n- a.yaml\n- b.yaml\nnamePrefix: x-\n'],
    [
      'compact nested mapping',
      'patches:\n  - path: p.yaml\n    target:\n      kind: Deployment\n  - path: q.yaml\n',
    ],
    [
      'flow collections',
      'resources: [a.yaml, "b.yaml", \'c d.yaml\']\ntarget: {kind: Deployment, name: x}\nempty: []\n',
    ],
    [
      'scalars',
      'a: 1\nb: -2\nc: 1.5\nd: true\ne: False\nf: ~\ng: null\nh: "01"\ni: 0123\nj: a#b\nk: v # comment\nl: -x\nm: 1e3\n',
    ],
    [
      'literal blocks',
      'patchesStrategicMerge:\n  - |-\n    apiVersion: v1\n    # a comment line inside\n\n    kind: ConfigMap\n  - b.yaml\nnote: |\n  text\n    more\n',
    ],
    [
      'urls',
      'resources:\n  - https://github.com/org/repo//base?ref=v1.0.0\n  - git@github.com:org/repo.git\n',
    ],
  ])('%s', (_name, text) => {
    expect(agrees(text)).toBe('fast')
  })

  it.each([
    ['anchors and aliases', 'a: &x 1\nb: *x\n'],
    ['multi-line plain scalar', 'resources:\n  - a\n    b\n'],
    ['tabs in indentation', 'resources:\n\t- a\n'],
    ['folded block', 'a: >\n  text\n'],
    ['nested flow', 'a: [[1, 2]]\n'],
    ['escapes', 'a: "x\\ty"\n'],
    ['duplicate keys', 'a: 1\na: 2\n'],
    ['quoted key', '"a b": 1\n'],
    ['two documents', 'a: 1\n---\nb: 2\n'],
    ['tag', 'a: !!str 1\n'],
    ['complex key', '? a\n: 1\n'],
    ['value with colon and space', 'a: b: c\n'],
    ['multi-line flow', 'a: [1,\n  2]\n'],
  ])('declines %s', (_name, text) => {
    expect(parseBlockYaml(text)).toBeUndefined()
  })

  it('agrees with the yaml package on random documents', () => {
    const random = seededRandom(7)
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!
    const words = [
      'a',
      'b.yaml',
      '../base',
      'x: y',
      'a #b',
      '#c',
      "it's",
      '"q"',
      '- d',
      'true',
      'null',
      '1.0',
      '007',
      '-1',
      ' lead',
      'trail ',
      'ü',
      'k=v',
      '',
      'a,b',
      '[x]',
      '{y}',
      '*z',
      '&w',
      'line\nbreak',
      '~',
      'yes',
    ]
    const value = (depth: number): unknown => {
      const roll = random()
      if (depth > 2 || roll < 0.4) return pick<unknown>([...words, 1, -2, 3.5, true, false, null])
      if (roll < 0.7)
        return Array.from({ length: 1 + Math.floor(random() * 3) }, () => value(depth + 1))
      const map: Record<string, unknown> = {}
      for (let i = 0; i < 1 + Math.floor(random() * 3); i++)
        map[pick(['resources', 'path', 'kind', 'name', 'a.b/c', 'x_1', 'files'])] = value(depth + 1)
      return map
    }
    let fast = 0
    for (let i = 0; i < 400; i++) {
      const doc = value(0)
      const text = stringify(doc, {
        collectionStyle: random() < 0.2 ? 'flow' : 'block',
        indentSeq: random() < 0.5,
      })
      if (agrees(text) === 'fast') fast++
    }
    // Enough documents take the fast path for the comparison to mean something.
    expect(fast).toBeGreaterThan(100)
  })
})
