import { describe, expect, it } from 'vitest'
import {
  isRemoteReference,
  issuesError,
  KustomizationCache,
  lineAt,
  parseKustomization,
  RevisionGraph,
  RevisionTree,
} from '../actions/lib/kustomize/graph.js'

/** A graph over an in-memory tree: blob ids are the paths themselves. */
async function graphOf(files: Record<string, string>, roots: string[]) {
  const tree = new RevisionTree(
    'test',
    new Map(Object.keys(files).map((path) => [path, `oid:${path}`])),
  )
  const cache = new KustomizationCache((oids) =>
    Promise.resolve(new Map(oids.map((oid) => [oid, files[oid.slice(4)] ?? '']))),
  )
  await cache.preload(tree.kustomizationBlobIds())
  const graph = new RevisionGraph(tree, cache)
  graph.addRoots(roots)
  return graph
}

const YAML_RESOURCE = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n'

describe('parseKustomization', () => {
  it('collects a reference from every field that names a file or directory', () => {
    const text = `
resources: [a.yaml, ../base]
bases: [../legacy]
components: [../feature]
crds: [crds/thing.json]
configurations: [config/names.yaml]
patchesStrategicMerge:
  - psm.yaml
  - |-
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: inline}
patches:
  - path: p.yaml
  - patch: |-
      - op: add
        path: /x
        value: 1
patchesJson6902:
  - path: json.yaml
    target: {kind: Deployment}
replacements:
  - path: repl.yaml
  - source: {kind: ConfigMap}
configMapGenerator:
  - name: c
    files: [files/a.conf, key=files/b.conf]
    envs: [env/one.env]
    env: env/legacy.env
secretGenerator:
  - name: s
    files: [secret/token.txt]
openapi:
  path: schema.json
transformers: [transformer.yaml, ../plugin-dir]
generators: [generator.yaml]
validators: [validator.yaml]
helmGlobals:
  chartHome: ../charts
helmCharts:
  - name: web
    valuesFile: values.yaml
    additionalValuesFiles: [values/extra.yaml]
  - name: remote
    repo: https://charts.example.com
    version: 1.0.0
helmChartInflationGenerator:
  - chartName: old
    chartHome: legacy-charts
    values: old-values.yaml
`
    const parsed = parseKustomization(text)
    expect('references' in parsed).toBe(true)
    if (!('references' in parsed)) return
    const summary = parsed.references.map((r) => `${r.kind}:${r.field}:${r.value}`)
    expect(summary).toEqual([
      'resource:resources:a.yaml',
      'resource:resources:../base',
      'resource:bases:../legacy',
      'component:components:../feature',
      'file:crds:crds/thing.json',
      'file:configurations:config/names.yaml',
      'file:patchesStrategicMerge:psm.yaml',
      'file:patches.path:p.yaml',
      'file:patchesJson6902.path:json.yaml',
      'file:replacements.path:repl.yaml',
      'file:configMapGenerator.files:files/a.conf',
      'file:configMapGenerator.files:files/b.conf',
      'file:configMapGenerator.envs:env/one.env',
      'file:configMapGenerator.env:env/legacy.env',
      'file:secretGenerator.files:secret/token.txt',
      'file:openapi.path:schema.json',
      'plugin:transformers:transformer.yaml',
      'plugin:transformers:../plugin-dir',
      'plugin:generators:generator.yaml',
      'plugin:validators:validator.yaml',
      'file:helmCharts.valuesFile:values.yaml',
      'file:helmCharts.additionalValuesFiles:values/extra.yaml',
      'chart:helmCharts:../charts/web',
      'chart:helmCharts:../charts/remote',
      'file:helmChartInflationGenerator.values:old-values.yaml',
      'chart:helmChartInflationGenerator:legacy-charts/old',
    ])
    expect(lineAt(text, parsed.references.find((r) => r.value === 'psm.yaml')!.path)).toBe(8)
    expect(lineAt(text, parsed.references.find((r) => r.value === 'files/b.conf')!.path)).toBe(27)
  })

  it('reports malformed YAML and wrong shapes with a line', () => {
    expect(parseKustomization('resources:\n  - a.yaml\n bad: [\n')).toEqual({
      error: 'invalid YAML: All mapping items must start at the same column',
      line: 3,
    })
    expect(parseKustomization('- a\n- b\n')).toEqual({
      error: 'a kustomization must be a YAML mapping',
      path: [],
    })
    const wrongShape = 'namePrefix: x\nresources: a.yaml\n'
    expect(parseKustomization(wrongShape)).toEqual({
      error: '"resources" must be a list',
      path: ['resources'],
    })
    expect(lineAt(wrongShape, ['resources'])).toBe(2)
    expect(parseKustomization('')).toEqual({ references: [] })
  })
})

describe('isRemoteReference', () => {
  it.each([
    'https://github.com/org/repo//deploy?ref=v1.0.0',
    'http://example.com/base.yaml',
    'git::https://example.com/org/repo.git//base?ref=main',
    'github.com/org/repo/base?ref=v1',
    'ssh://git@example.com/org/repo.git',
    'git@github.com:org/repo.git//base',
    'oci://registry.example.com/chart',
    'example.com/org/repo//base?ref=abc',
  ])('%s is remote', (value) => expect(isRemoteReference(value)).toBe(true))
  it.each(['../base', 'deployment.yaml', 'github-base/kustomization', 'a/ref=b.yaml'])(
    '%s is local',
    (value) => expect(isRemoteReference(value)).toBe(false),
  )
})

describe('RevisionGraph', () => {
  it('follows resources, bases, components, files and chart directories transitively', async () => {
    const graph = await graphOf(
      {
        'clusters/a/kustomization.yaml':
          'resources: [../../base, local.yaml]\ncomponents: [../../features/ha]\n',
        'clusters/a/local.yaml': YAML_RESOURCE,
        'clusters/a/README.md': 'notes',
        'base/kustomization.yml':
          'bases: [../legacy]\nconfigMapGenerator:\n  - name: c\n    files: [k=conf/app.conf]\nhelmGlobals: {chartHome: ../charts}\nhelmCharts:\n  - name: web\n    valuesFile: values.yaml\n',
        'base/conf/app.conf': 'x=1',
        'base/values.yaml': 'replicas: 1',
        'legacy/Kustomization': 'resources: [cm.yaml]\n',
        'legacy/cm.yaml': YAML_RESOURCE,
        'features/ha/kustomization.yaml': 'kind: Component\npatches:\n  - path: ha.yaml\n',
        'features/ha/ha.yaml': YAML_RESOURCE,
        'charts/web/Chart.yaml': 'name: web',
        'charts/web/templates/d.yaml': 'kind: Deployment',
        'charts/other/Chart.yaml': 'name: other',
        'unrelated/kustomization.yaml': 'resources: [x.yaml]\n',
      },
      ['clusters/a'],
    )
    expect(graph.issues).toEqual([])
    expect(graph.closureOf('clusters/a')).toEqual({
      files: [
        'base/conf/app.conf',
        'base/kustomization.yml',
        'base/values.yaml',
        'clusters/a/kustomization.yaml',
        'clusters/a/local.yaml',
        'features/ha/ha.yaml',
        'features/ha/kustomization.yaml',
        'legacy/Kustomization',
        'legacy/cm.yaml',
      ],
      trees: ['charts/web'],
      kustomizations: ['base', 'clusters/a', 'features/ha', 'legacy'],
    })
    const reach = (path: string) =>
      [...graph.nodesTouching(path)].flatMap((node) => [...graph.rootsReaching(node)])
    expect(reach('charts/web/templates/d.yaml')).toEqual(['clusters/a'])
    expect(reach('charts/other/Chart.yaml')).toEqual([])
    expect(reach('legacy/cm.yaml')).toEqual(['clusters/a'])
    // A file nobody references still belongs to the nearest kustomization directory above it.
    expect(reach('features/ha/new-patch.yaml')).toEqual(['clusters/a'])
    expect(reach('clusters/a/README.md')).toEqual(['clusters/a'])
    expect(reach('unrelated/x.yaml')).toEqual([])
  })

  it('treats transformer/generator/validator entries as files or kustomization directories', async () => {
    const graph = await graphOf(
      {
        'env/kustomization.yaml':
          'transformers: [labels.yaml, ../plugins]\ngenerators: [gen.yaml]\nvalidators: [val.yaml]\n',
        'env/labels.yaml': 'kind: LabelTransformer',
        'env/gen.yaml': 'kind: ConfigMapGenerator',
        'env/val.yaml': 'kind: Validator',
        'plugins/kustomization.yaml': 'resources: [prefix.yaml]\n',
        'plugins/prefix.yaml': 'kind: PrefixTransformer',
      },
      ['env'],
    )
    expect(graph.issues).toEqual([])
    expect(graph.closureOf('env').files).toContain('plugins/prefix.yaml')
    expect(graph.closureOf('env').files).toContain('env/val.yaml')
  })

  it('treats a directory without a kustomization as a plain-YAML environment', async () => {
    const graph = await graphOf(
      { 'plain/a.yaml': YAML_RESOURCE, 'plain/sub/b.yaml': YAML_RESOURCE },
      ['plain'],
    )
    expect(graph.closureOf('plain').trees).toEqual(['plain'])
    expect([...graph.nodesTouching('plain/sub/c.yaml')]).toEqual(['plain'])
  })

  it('records remote references as external dependencies', async () => {
    const graph = await graphOf(
      {
        'env/kustomization.yaml':
          'resources:\n  - https://github.com/org/repo//base?ref=v1\n  - github.com/org/other/deploy?ref=abc\ncomponents: [git@github.com:org/c.git//x]\nhelmCharts:\n  - name: cert-manager\n    repo: https://charts.jetstack.io\n    version: v1.15.0\n',
      },
      ['env'],
    )
    expect(graph.issues).toEqual([])
    expect(
      graph.externalOf('env').map((ref) => `${ref.kind} ${ref.reference} ${ref.file}:${ref.line}`),
    ).toEqual([
      'kustomize https://github.com/org/repo//base?ref=v1 env/kustomization.yaml:2',
      'kustomize github.com/org/other/deploy?ref=abc env/kustomization.yaml:3',
      'kustomize git@github.com:org/c.git//x env/kustomization.yaml:4',
      'helm https://charts.jetstack.io cert-manager@v1.15.0 env/kustomization.yaml:6',
    ])
    // A chart pulled at render time may be vendored later: its directories are still dependencies.
    expect(graph.closureOf('env').trees).toEqual([
      'env/charts/cert-manager',
      'env/charts/cert-manager-v1.15.0',
    ])
  })

  it('reports missing paths, cycles, paths leaving the repository and duplicate kustomization files', async () => {
    const graph = await graphOf(
      {
        'a/kustomization.yaml': 'resources:\n  - ../b\n  - missing.yaml\n  - ../../outside\n',
        'b/kustomization.yaml': 'resources: [../a]\n',
        'c/kustomization.yaml': 'resources: []\n',
        'c/kustomization.yml': 'resources: []\n',
        'd/kustomization.yaml': 'components: [../nodir]\nhelmCharts:\n  - name: local-missing\n',
      },
      ['a', 'c', 'd'],
    )
    expect(
      graph.issues.map((issue) => `${issue.file}:${issue.line ?? '-'} ${issue.message}`),
    ).toEqual([
      'b/kustomization.yaml:1 reference cycle: a -> b -> a',
      'a/kustomization.yaml:3 resources entry "missing.yaml" does not exist (a/missing.yaml)',
      'a/kustomization.yaml:4 resources entry "../../outside" points outside the repository',
      'c/kustomization.yaml:- found more than one kustomization file in "c": c/kustomization.yaml, c/kustomization.yml',
      'd/kustomization.yaml:1 components entry "../nodir" does not exist (nodir)',
      'd/kustomization.yaml:3 Helm chart "local-missing" has no repo and no local chart directory (d/charts/local-missing)',
    ])
    // The missing path is still a dependency: adding it impacts the environment.
    expect([...graph.nodesTouching('a/missing.yaml')]).toContain('a')
    const error = issuesError(graph.issues, 'head (abc)')
    expect(error.message).toMatch(
      /^kustomize dependency graph at head \(abc\) has 6 problems:\n {2}b\/kustomization.yaml:1: reference cycle/,
    )
    expect(error.location).toEqual({ file: 'b/kustomization.yaml', line: 1 })
  })

  it('reports malformed kustomization YAML with its line', async () => {
    const graph = await graphOf(
      { 'env/kustomization.yaml': 'resources:\n  - a.yaml\n  bad: [\n' },
      ['env'],
    )
    expect(graph.issues).toHaveLength(1)
    expect(graph.issues[0]?.file).toBe('env/kustomization.yaml')
    expect(graph.issues[0]?.message).toContain('invalid YAML')
    expect(graph.issues[0]?.line).toBeGreaterThanOrEqual(2)
  })

  it('shares nodes between environments and answers reverse reachability', async () => {
    const files: Record<string, string> = {
      'components/shared/kustomization.yaml': 'resources: [cm.yaml]\n',
      'components/shared/cm.yaml': YAML_RESOURCE,
    }
    for (let i = 0; i < 5; i++) {
      files[`clusters/c${i}/kustomization.yaml`] =
        i % 2 === 0 ? 'resources: [../../components/shared]\n' : 'resources: [own.yaml]\n'
      files[`clusters/c${i}/own.yaml`] = YAML_RESOURCE
    }
    const graph = await graphOf(
      files,
      [0, 1, 2, 3, 4].map((i) => `clusters/c${i}`),
    )
    expect([...graph.rootsReaching('components/shared')].sort()).toEqual([
      'clusters/c0',
      'clusters/c2',
      'clusters/c4',
    ])
    expect(graph.nodes.size).toBe(6)
  })
})
