// The exact fields of every document kustomize decodes for us: kustomizations
// (and components) and builtin plugin configs, as kustomize v5.8.1 declares
// them (sigs.k8s.io/kustomize/api v0.21.1 `types` and `internal/builtins`).
// kustomize decodes these through Go's encoding/json, which matches field
// names case-insensitively (also `ſ` for `s`), and through a YAML 1.1 reader
// that merges `<<` keys and keeps the last of duplicate keys. So the vetting
// walk only trusts a document whose every key is exactly one of these names,
// unique, and not a merge key: then kustomize and the walk read the same thing.
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  type Document,
  type Node,
} from 'yaml'
import * as grammar from './grammar.js'

export type Shape =
  | { kind: 'string'; check?: (value: string) => string | undefined }
  | { kind: 'bool' }
  | { kind: 'int' }
  | { kind: 'list'; of: Shape }
  /** A Go struct: only these keys, exactly. */
  | { kind: 'object'; what: string; fields: Readonly<Record<string, Shape>> }
  /** A Go map: keys chosen by the author (labels, annotations), values of one shape. */
  | { kind: 'map'; of: Shape }
  /** Free-form YAML handed on as is (Helm `valuesInline`): only the YAML rules apply. */
  | { kind: 'free' }

const string: Shape = { kind: 'string' }
const checked = (check: (value: string) => string | undefined): Shape => ({ kind: 'string', check })
const path = checked(grammar.pathText)
const paths: Shape = { kind: 'list', of: path }
const bool: Shape = { kind: 'bool' }
const int: Shape = { kind: 'int' }
const strings: Shape = { kind: 'list', of: string }
const stringMap: Shape = { kind: 'map', of: string }
const object = (what: string, fields: Record<string, Shape>): Shape => ({
  kind: 'object',
  what,
  fields,
})
const list = (of: Shape): Shape => ({ kind: 'list', of })

const gvk = { group: string, version: string, kind: string }
const resId = { ...gvk, name: string, namespace: string }
const objectMeta = object('metadata', {
  name: string,
  namespace: string,
  labels: stringMap,
  annotations: stringMap,
})
const fieldSpecs = list(object('fieldSpecs entry', { ...gvk, path: string, create: bool }))
const selector = object('selector', { ...resId, annotationSelector: string, labelSelector: string })
const fieldOptions = object('options', {
  delimiter: string,
  index: int,
  encoding: string,
  create: bool,
})
const generatorOptions = object('generatorOptions', {
  labels: stringMap,
  annotations: stringMap,
  disableNameSuffixHash: bool,
  immutable: bool,
})
const generatorArgs = {
  namespace: string,
  name: string,
  behavior: string,
  literals: strings,
  files: paths,
  envs: paths,
  env: path,
  options: generatorOptions,
}
const patchFields = {
  path,
  patch: string,
  target: selector,
  options: object('patch options', { allowNameChange: bool, allowKindChange: bool }),
}
const replacement = {
  source: object('replacement source', { ...resId, fieldPath: string, options: fieldOptions }),
  targets: list(
    object('replacement target', {
      select: selector,
      reject: list(selector),
      fieldPaths: strings,
      options: fieldOptions,
    }),
  ),
  sourceValue: string,
}
const image = { name: string, newName: string, tagSuffix: string, newTag: string, digest: string }
const replica = { name: string, count: int }
const sortOptions = object('sortOptions', {
  order: string,
  legacySortOptions: object('legacySortOptions', { orderFirst: strings, orderLast: strings }),
})
const typeMeta = { apiVersion: string, kind: string }

/** A `helmCharts` entry. `nameTemplate` (a Go template with sprig's `env`) is left out on purpose. */
export const HELM_CHART_FIELDS = {
  name: checked(grammar.chartName),
  version: checked(grammar.chartVersion),
  repo: string,
  releaseName: checked(grammar.helmReleaseName),
  namespace: checked(grammar.namespaceName),
  additionalValuesFiles: paths,
  valuesFile: path,
  valuesInline: { kind: 'free' },
  valuesMerge: checked(grammar.valuesMerge),
  includeCRDs: bool,
  skipHooks: bool,
  apiVersions: { kind: 'list', of: checked(grammar.apiVersion) },
  kubeVersion: checked(grammar.kubeVersion),
  skipTests: bool,
  debug: bool,
  devel: bool,
} satisfies Record<string, Shape>

/**
 * A kustomization or component. Left out: `helmChartInflationGenerator`
 * (deprecated; `helmCharts` is the supported form), so it is refused.
 */
export const KUSTOMIZATION = object('kustomization', {
  ...typeMeta,
  metadata: objectMeta,
  openapi: object('openapi', { path, version: string }),
  namePrefix: string,
  nameSuffix: string,
  namespace: checked(grammar.namespaceName),
  commonLabels: stringMap,
  labels: list(
    object('labels entry', {
      pairs: stringMap,
      includeSelectors: bool,
      includeTemplates: bool,
      fields: fieldSpecs,
    }),
  ),
  commonAnnotations: stringMap,
  patchesStrategicMerge: strings,
  patchesJson6902: list(object('patchesJson6902 entry', patchFields)),
  patches: list(object('patches entry', patchFields)),
  images: list(object('images entry', image)),
  imageTags: list(object('imageTags entry', image)),
  replacements: list(object('replacements entry', { ...replacement, path })),
  replicas: list(object('replicas entry', replica)),
  vars: list(
    object('vars entry', {
      name: string,
      objref: object('objref', { apiVersion: string, ...resId }),
      fieldref: object('fieldref', { fieldPath: string }),
    }),
  ),
  sortOptions,
  resources: paths,
  components: paths,
  crds: paths,
  bases: paths,
  configMapGenerator: list(object('configMapGenerator entry', generatorArgs)),
  secretGenerator: list(object('secretGenerator entry', { ...generatorArgs, type: string })),
  helmGlobals: object('helmGlobals', { chartHome: path, configHome: string }),
  helmCharts: list(object('helmCharts entry', HELM_CHART_FIELDS)),
  generatorOptions,
  configurations: paths,
  generators: strings,
  transformers: strings,
  validators: strings,
  buildMetadata: strings,
})

const plugin = (kind: string, fields: Record<string, Shape>): Shape =>
  object(`${kind} config`, { ...typeMeta, metadata: objectMeta, ...fields })

/** Configs of the kustomize builtins that run in-process (`apiVersion: builtin`): no exec, no network. */
export const BUILTIN_PLUGINS: ReadonlyMap<string, Shape> = new Map([
  [
    'AnnotationsTransformer',
    plugin('AnnotationsTransformer', { annotations: stringMap, fieldSpecs }),
  ],
  ['ConfigMapGenerator', plugin('ConfigMapGenerator', generatorArgs)],
  ['HashTransformer', plugin('HashTransformer', {})],
  [
    'ImageTagTransformer',
    plugin('ImageTagTransformer', { imageTag: object('imageTag', image), fieldSpecs }),
  ],
  ['LabelTransformer', plugin('LabelTransformer', { labels: stringMap, fieldSpecs })],
  [
    'NamespaceTransformer',
    plugin('NamespaceTransformer', { fieldSpecs, unsetOnly: bool, setRoleBindingSubjects: string }),
  ],
  [
    'PatchJson6902Transformer',
    plugin('PatchJson6902Transformer', { target: selector, path, jsonOp: string }),
  ],
  [
    'PatchStrategicMergeTransformer',
    plugin('PatchStrategicMergeTransformer', { paths, patches: string }),
  ],
  ['PatchTransformer', plugin('PatchTransformer', patchFields)],
  ['PrefixTransformer', plugin('PrefixTransformer', { prefix: string, fieldSpecs })],
  ['SuffixTransformer', plugin('SuffixTransformer', { suffix: string, fieldSpecs })],
  [
    'ReplacementTransformer',
    plugin('ReplacementTransformer', {
      replacements: list(object('replacements entry', { ...replacement, path })),
    }),
  ],
  [
    'ReplicaCountTransformer',
    plugin('ReplicaCountTransformer', { replica: object('replica', replica), fieldSpecs }),
  ],
  ['SecretGenerator', plugin('SecretGenerator', { ...generatorArgs, type: string })],
  ['SortOrderTransformer', plugin('SortOrderTransformer', { sortOptions })],
  [
    'ValueAddTransformer',
    plugin('ValueAddTransformer', {
      value: string,
      targets: list(
        object('ValueAddTransformer target', {
          selector,
          fieldPath: string,
          filePathPosition: int,
        }),
      ),
      targetFilePath: string,
    }),
  ],
])

/** A document broke a field rule: the message names the key; `line` is 1-based. */
export class FieldError extends Error {
  override name = 'FieldError'
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message)
  }
}

/** How Go's strings.EqualFold sees a key, near enough for a hint (`ſ` → `s`, `K` → `k`). */
function folded(key: string): string {
  return key.normalize('NFKC').toLowerCase()
}

class ShapeChecker {
  /** The document whose anchors aliases resolve to. */
  doc: Document.Parsed | undefined

  constructor(private readonly lines: LineCounter) {}

  /** An alias is checked where it is used: its anchor may sit under another shape. */
  private resolve(node: Node): Node | null | undefined {
    let current: Node | null | undefined = node
    for (let hops = 0; current && isAlias(current); hops++) {
      if (hops > 20 || !this.doc) this.fail(node, 'aliases nest too deeply')
      current = current.resolve(this.doc)
    }
    return current
  }

  line(node: Node | null | undefined): number {
    const offset = node?.range?.[0]
    return offset === undefined ? 1 : this.lines.linePos(offset).line
  }

  fail(node: Node | null | undefined, message: string): never {
    throw new FieldError(message, this.line(node))
  }

  /** `at` names the value for messages, e.g. `helmCharts[0].releaseName`. */
  check(node: Node | null | undefined, shape: Shape, at: string): void {
    if (isAlias(node)) node = this.resolve(node)
    if (node === null || node === undefined) return
    this.tagRule(node, at)
    if (isScalar(node) && node.value === null) return
    switch (shape.kind) {
      case 'free':
        this.yamlRules(node, at)
        return
      case 'string':
      case 'bool':
      case 'int': {
        const value: unknown = isScalar(node) ? node.value : undefined
        const ok =
          shape.kind === 'string'
            ? typeof value === 'string'
            : shape.kind === 'bool'
              ? typeof value === 'boolean'
              : typeof value === 'number' && Number.isInteger(value)
        if (!ok) {
          const article = shape.kind === 'int' ? 'an integer' : `a ${shape.kind}`
          this.fail(node, `${at} must be ${article} (YAML 1.1, as kustomize reads it)`)
        }
        if (shape.kind === 'string' && shape.check) {
          const problem = shape.check(value as string)
          if (problem !== undefined) this.fail(node, `${at} ${problem}`)
        }
        return
      }
      case 'list':
        if (!isSeq(node)) this.fail(node, `${at} must be a list`)
        node.items.forEach((item, index) => {
          const itemAt = `${at}[${index}]`
          if (item === null || (isScalar(item) && item.value === null))
            this.fail(item, `${itemAt} is empty`)
          this.check(item as Node, shape.of, itemAt)
        })
        return
      case 'map':
      case 'object': {
        if (!isMap(node)) this.fail(node, `${at} must be a mapping`)
        const seen = new Set<string>()
        for (const pair of node.items) {
          const key = this.key(pair.key as Node | null, seen, at, false)
          const keyAt = at === '' ? key : `${at}.${key}`
          if (shape.kind === 'map') {
            this.check(pair.value as Node | null, shape.of, keyAt)
            continue
          }
          const field = Object.hasOwn(shape.fields, key) ? shape.fields[key] : undefined
          if (field === undefined) {
            const near = Object.keys(shape.fields).find((name) => folded(name) === folded(key))
            this.fail(
              pair.key as Node,
              near !== undefined
                ? `key "${keyAt}" is not exactly "${near}" (kustomize ignores case)`
                : `key "${keyAt}" is not a supported ${shape.what} field`,
            )
          }
          this.check(pair.value as Node | null, field, keyAt)
        }
        return
      }
    }
  }

  /** Only YAML's own tags (`!!str`…): an application tag means something only its reader knows. */
  private tagRule(node: Node, at: string): void {
    if (node.tag !== undefined && !node.tag.startsWith('tag:yaml.org,2002:'))
      this.fail(node, `${at || 'the document'} has the YAML tag ${node.tag}; tags are refused`)
  }

  /**
   * A mapping key: a string (any scalar in free-form YAML), never a merge key,
   * an alias or a duplicate.
   */
  private key(node: Node | null, seen: Set<string>, at: string, anyScalar: boolean): string {
    const where = at === '' ? 'at the top level' : `in ${at}`
    if (isAlias(node)) this.fail(node, `an alias is used as a key ${where}`)
    if (!isScalar(node)) this.fail(node, `a key ${where} is not a plain string`)
    if (node.source === '<<' || typeof node.value === 'symbol')
      this.fail(node, `YAML merge key "<<" ${where}`)
    if (typeof node.value !== 'string' && !anyScalar)
      this.fail(node, `the key ${String(node.value)} ${where} is not a string`)
    if (node.tag !== undefined && node.tag !== 'tag:yaml.org,2002:str')
      this.fail(node, `the key "${String(node.value)}" ${where} has a YAML tag`)
    const key = String(node.value)
    if (seen.has(key)) this.fail(node, `duplicate key "${key}" ${where}`)
    seen.add(key)
    return key
  }

  /** Free-form YAML: any values, but still no merge keys, duplicate keys or tags. */
  private yamlRules(node: Node | null | undefined, at: string): void {
    if (node && isAlias(node)) node = this.resolve(node)
    if (node === null || node === undefined) return
    this.tagRule(node, at)
    if (isMap(node)) {
      const seen = new Set<string>()
      for (const pair of node.items) {
        const key = this.key(pair.key as Node | null, seen, at, true)
        this.yamlRules(pair.value as Node | null, `${at}.${key}`)
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => this.yamlRules(item as Node | null, `${at}[${index}]`))
    }
  }
}

export interface ParsedDocument {
  value: unknown
  /** Reports a problem with a later check at the document's top level. */
  lineOf(path: readonly (string | number)[]): number
}

/**
 * Parses YAML as kustomize does (YAML 1.1 scalars) and checks every document
 * against a shape chosen from it (`shapeOf` gets the plain value, so it can
 * pick a plugin's shape by its exact `kind`). Throws FieldError with a line.
 */
export function parseChecked(
  text: string,
  shapeOf: (value: unknown, line: number) => Shape,
  options: { multi: boolean },
): ParsedDocument[] {
  const lines = new LineCounter()
  const docs = parseAllDocuments(text, {
    version: '1.1',
    uniqueKeys: false,
    merge: false,
    lineCounter: lines,
    prettyErrors: false,
  })
  const list = Array.isArray(docs) ? docs : [docs]
  const checker = new ShapeChecker(lines)
  if (!options.multi && list.length > 1) {
    checker.fail(list[1]?.contents, 'more than one YAML document in a kustomization file')
  }
  const parsed: ParsedDocument[] = []
  for (const doc of list) {
    const error = doc.errors[0]
    if (error) {
      const line = lines.linePos(error.pos[0]).line
      throw new FieldError(`invalid YAML (${error.message.split('\n')[0] ?? ''})`, line)
    }
    const contents = doc.contents as Node | null
    if (contents === null || (isScalar(contents) && contents.value === null)) continue
    if (!isMap(contents)) checker.fail(contents, 'the document is not a mapping')
    const value: unknown = doc.toJS({ maxAliasCount: 100 })
    checker.doc = doc
    checker.check(contents, shapeOf(value, checker.line(contents)), '')
    parsed.push({
      value,
      lineOf: (path) => {
        const node = doc.getIn(path, true) as Node | undefined
        return checker.line(node ?? contents)
      },
    })
  }
  return parsed
}
