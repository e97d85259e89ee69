// One parse that agrees with kustomize: what the pinned kustomize really builds
// from keys an exact-name reading would skip (Go's encoding/json matches field
// names case-insensitively, the YAML 1.1 reader merges "<<" and keeps the last
// duplicate), and that the field check refuses each of them with its line.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runProcess } from '../actions/lib/process.js'
import {
  BUILTIN_PLUGINS,
  FieldError,
  KUSTOMIZATION,
  parseChecked,
  type Shape,
} from '../actions/lib/render/kustomize-fields.js'

const configMap = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n`

function refusal(text: string, shapeOf: () => Shape = () => KUSTOMIZATION, multi = false) {
  try {
    parseChecked(text, shapeOf, { multi })
  } catch (error) {
    if (error instanceof FieldError) return { message: error.message, line: error.line }
    throw error
  }
  return undefined
}

describe('what kustomize v5.8.1 builds from keys an exact reading skips', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fleet-promote-fields-'))
    await writeFile(join(dir, 'plain.yaml'), configMap('plain'))
    await writeFile(join(dir, 'sneaky.yaml'), configMap('sneaky'))
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  const build = async (kustomization: string) => {
    await writeFile(join(dir, 'kustomization.yaml'), kustomization)
    return runProcess('kustomize', ['build', dir], { timeoutMs: 60_000 })
  }

  it.each([
    [
      'another casing',
      'RESOURCES: [sneaky.yaml]\n',
      'key "RESOURCES" is not exactly "resources" (kustomize ignores case)',
      1,
    ],
    [
      'a Unicode case fold (ſ is s to Go)',
      'resources: [plain.yaml]\nreſources: [sneaky.yaml]\n',
      'key "reſources" is not exactly "resources" (kustomize ignores case)',
      2,
    ],
    [
      'a YAML merge key',
      'resources: [plain.yaml]\n<<: {resources: [sneaky.yaml]}\n',
      'YAML merge key "<<" at the top level',
      2,
    ],
    [
      'a duplicate key (the last one wins)',
      'resources: [plain.yaml]\nresources: [sneaky.yaml]\n',
      'duplicate key "resources" at the top level',
      2,
    ],
  ])('%s: kustomize builds it, the check refuses it', async (_what, text, message, line) => {
    const run = await build(text)
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain('name: sneaky')
    expect(refusal(text)).toEqual({ message, line })
  })

  it('a field of a nested object is matched case-insensitively too', async () => {
    const text =
      'resources: [plain.yaml]\nconfigMapGenerator:\n  - name: generated\n    LITERALS: [key=value]\n'
    const run = await build(text)
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain('key: value')
    expect(refusal(text)).toEqual({
      message:
        'key "configMapGenerator[0].LITERALS" is not exactly "literals" (kustomize ignores case)',
      line: 4,
    })
  })

  it('kustomize reads scalars as YAML 1.1 (yes is a boolean), and so does the check', async () => {
    const text = 'namespace: yes\nresources: [plain.yaml]\n'
    const run = await build(text)
    expect(run.code).not.toBe(0)
    expect(run.stderr).toContain('cannot unmarshal bool')
    expect(refusal(text)).toEqual({
      message: 'namespace must be a string (YAML 1.1, as kustomize reads it)',
      line: 1,
    })
  })

  it('kustomize refuses an unknown field; the check names it and its line', async () => {
    const text = 'resources: [plain.yaml]\nresourcez: [sneaky.yaml]\n'
    expect((await build(text)).stderr).toContain('unknown field "resourcez"')
    expect(refusal(text)).toEqual({
      message: 'key "resourcez" is not a supported kustomization field',
      line: 2,
    })
  })
})

describe('the field check', () => {
  it('accepts every supported field exactly as declared, with anchors and aliases', () => {
    const text = [
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      'namespace: web',
      'resources: &list [a.yaml]',
      'crds: *list',
      'labels:',
      '  - pairs: {app: web}',
      '    includeSelectors: true',
      'helmCharts:',
      '  - name: alpha',
      '    version: 1.2.3',
      '    releaseName: alpha.web',
      '    namespace: web',
      '    valuesInline: {Any: {Keys: [here]}, 80: port}',
      '    apiVersions: [monitoring.coreos.com/v1, v1]',
      '    kubeVersion: "1.31"',
      '    includeCRDs: true',
      'replicas: [{name: web, count: 2}]',
      '',
    ].join('\n')
    expect(parseChecked(text, () => KUSTOMIZATION, { multi: false })[0]?.value).toMatchObject({
      crds: ['a.yaml'],
      helmCharts: [{ releaseName: 'alpha.web' }],
    })
  })

  it.each([
    [
      'an application tag',
      'resources: !include [a.yaml]\n',
      'resources has the YAML tag !include; tags are refused',
      1,
    ],
    [
      'a merge key in free-form values',
      'helmCharts:\n  - name: a\n    valuesInline:\n      <<: {x: 1}\n',
      'YAML merge key "<<" in helmCharts[0].valuesInline',
      4,
    ],
    [
      'a duplicate in free-form values',
      'helmCharts:\n  - name: a\n    valuesInline: {x: 1, x: 2}\n',
      'duplicate key "x" in helmCharts[0].valuesInline',
      3,
    ],
    [
      'an alias whose anchor sits under another shape',
      'commonAnnotations: &a {Resources: x}\nlabels: [*a]\n',
      'key "labels[0].Resources" is not a supported labels entry field',
      1,
    ],
    [
      'an alias as a key',
      'namespace: &k resources\n*k : [a.yaml]\n',
      'an alias is used as a key at the top level',
      2,
    ],
    ['an empty list entry', 'resources:\n  -\n  - a.yaml\n', 'resources[0] is empty', 2],
    ['a value of the wrong type', 'resources: a.yaml\n', 'resources must be a list', 1],
    [
      'a second document',
      'resources: [a.yaml]\n---\nresources: [b.yaml]\n',
      'more than one YAML document in a kustomization file',
      3,
    ],
    [
      'a release name Helm refuses',
      'helmCharts:\n  - name: a\n    releaseName: Web_1\n',
      'helmCharts[0].releaseName is not a Helm release name (DNS-1123): "Web_1"',
      3,
    ],
    [
      'a release name over 53 characters',
      `helmCharts:\n  - name: a\n    releaseName: ${'a'.repeat(54)}\n`,
      'helmCharts[0].releaseName is longer than 53 characters (a Helm release name (DNS-1123))',
      3,
    ],
    [
      'a chart name that is a path',
      'helmCharts:\n  - name: ../x\n',
      'helmCharts[0].name is not a chart name: "../x"',
      2,
    ],
    [
      'a version that is a flag',
      'helmCharts:\n  - name: a\n    version: --devel\n',
      'helmCharts[0].version starts with "-": "--devel"',
      3,
    ],
    [
      'a namespace that is not a label',
      'namespace: kube.system\n',
      'namespace is not a namespace (DNS-1123 label): "kube.system"',
      1,
    ],
    [
      'an unknown valuesMerge',
      'helmCharts:\n  - name: a\n    valuesMerge: deep\n',
      'helmCharts[0].valuesMerge must be one of merge, override, replace',
      3,
    ],
    [
      'a path with a newline',
      'resources: ["a\\nb"]\n',
      'resources[0] holds a control character',
      1,
    ],
  ])('refuses %s', (_what, text, message, line) => {
    expect(refusal(text)).toEqual({ message, line })
  })

  it('checks plugin configs against their builtin kind', () => {
    const shape = BUILTIN_PLUGINS.get('PrefixTransformer') as Shape
    const good = 'apiVersion: builtin\nkind: PrefixTransformer\nmetadata: {name: p}\nprefix: a-\n'
    expect(parseChecked(good, () => shape, { multi: true })).toHaveLength(1)
    expect(refusal(`${good}Prefix: b-\n`, () => shape, true)).toEqual({
      message: 'key "Prefix" is not exactly "prefix" (kustomize ignores case)',
      line: 5,
    })
  })
})
