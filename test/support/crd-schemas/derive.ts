/**
 * CustomResourceDefinition → JSON Schema (draft 2020-12) for validating
 * manifests the way the Kubernetes API server would accept them.
 *
 * A CRD's structural schema prunes (or, with kubectl's default strict field
 * validation, rejects) every field it does not declare, so each object that
 * lists its properties gets `additionalProperties: false` unless it says
 * `x-kubernetes-preserve-unknown-fields`. Fields with a `default` are not
 * required (the server fills them in before validating). Of the CEL rules
 * (`x-kubernetes-validations`) the "one of these fields" forms translate to
 * JSON Schema; the others are returned as unchecked so the provenance lists
 * them. `status` is left out: a manifest does not set it.
 */

type Json = Record<string, unknown>

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export interface CrdVersion {
  group: string
  kind: string
  version: string
  /** The version's `schema.openAPIV3Schema`. */
  schema: Json
}

/** The served versions of a CRD document. */
export function crdVersions(crd: unknown, file: string): CrdVersion[] {
  const spec = isObject(crd) && isObject(crd.spec) ? crd.spec : undefined
  const names = spec && isObject(spec.names) ? spec.names : undefined
  if (!spec || !names || typeof spec.group !== 'string' || typeof names.kind !== 'string') {
    throw new Error(`${file}: not a CustomResourceDefinition (spec.group, spec.names.kind)`)
  }
  const versions = Array.isArray(spec.versions) ? spec.versions : []
  return versions.flatMap((version: unknown): CrdVersion[] => {
    if (!isObject(version) || version.served !== true || typeof version.name !== 'string') return []
    const schema = isObject(version.schema) ? version.schema.openAPIV3Schema : undefined
    if (!isObject(schema))
      throw new Error(`${file}: version ${version.name} has no openAPIV3Schema`)
    return [
      { group: spec.group as string, kind: names.kind as string, version: version.name, schema },
    ]
  })
}

/** A CEL rule as JSON Schema, for the forms that are only about which fields are present. */
export function celToJsonSchema(rule: string): Json | undefined {
  const field = String.raw`self\.([A-Za-z_]\w*)`
  const compact = rule.replace(/\s+/g, ' ').trim()
  const exactlyOne = new RegExp(
    String.raw`^\(?has\(${field}\) \? !has\(${field}\) : has\(${field}\)\)?$`,
  ).exec(compact)
  if (exactlyOne && exactlyOne[2] === exactlyOne[3]) {
    const [a, b] = [exactlyOne[1] as string, exactlyOne[2] as string]
    return {
      oneOf: [
        { required: [a], not: { required: [b] } },
        { required: [b], not: { required: [a] } },
      ],
    }
  }
  const oneNotOther = new RegExp(String.raw`^has\(${field}\) && !has\(${field}\)$`).exec(compact)
  if (oneNotOther) {
    return { required: [oneNotOther[1]], not: { required: [oneNotOther[2]] } }
  }
  const notBoth = new RegExp(String.raw`^!has\(${field}\) \|\| !has\(${field}\)$`).exec(compact)
  if (notBoth) return { not: { required: [notBoth[1], notBoth[2]] } }
  const either = new RegExp(String.raw`^has\(${field}\) \|\| has\(${field}\)$`).exec(compact)
  if (either) return { anyOf: [{ required: [either[1]] }, { required: [either[2]] }] }
  return undefined
}

export interface Converted {
  schema: Json
  /** CEL rules not translated, as `<path>: <message>`. */
  unchecked: string[]
}

/** One OpenAPI v3 structural schema node → JSON Schema. */
export function convertNode(node: unknown, path: string, unchecked: string[]): Json {
  if (!isObject(node)) return {}
  const out: Json = {}
  const preserve = node['x-kubernetes-preserve-unknown-fields'] === true
  for (const [key, value] of Object.entries(node)) {
    switch (key) {
      case 'properties':
        out.properties = Object.fromEntries(
          Object.entries(isObject(value) ? value : {}).map(([name, child]) => [
            name,
            convertNode(child, path ? `${path}.${name}` : name, unchecked),
          ]),
        )
        break
      case 'items':
        out.items = convertNode(value, `${path}[]`, unchecked)
        break
      case 'additionalProperties':
        out.additionalProperties = isObject(value)
          ? convertNode(value, `${path}.*`, unchecked)
          : value
        break
      case 'x-kubernetes-validations':
        for (const rule of Array.isArray(value) ? (value as unknown[]) : []) {
          const fields = isObject(rule) ? rule : {}
          const text = typeof fields.rule === 'string' ? fields.rule : ''
          const translated = celToJsonSchema(text)
          if (translated) {
            out.allOf = [...((out.allOf as Json[] | undefined) ?? []), translated]
          } else {
            const message = typeof fields.message === 'string' ? fields.message : text
            unchecked.push(`${path || '(root)'}: ${message}`)
          }
        }
        break
      case 'x-kubernetes-list-type':
        // A `set` holds no duplicates; `map` lists are unique by their keys (not checked).
        if (value === 'set') out.uniqueItems = true
        break
      case 'x-kubernetes-int-or-string':
        if (value === true) out.type = ['integer', 'string']
        break
      // Documentation, formats (date-time, int64, …) and merge hints do not decide acceptance here.
      case 'description':
      case 'format':
      case 'nullable':
      case 'x-kubernetes-preserve-unknown-fields':
      case 'x-kubernetes-list-map-keys':
      case 'x-kubernetes-map-type':
      case 'x-kubernetes-embedded-resource':
        break
      default:
        out[key] = value
    }
  }
  if (node.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null']
  const properties = isObject(out.properties) ? out.properties : undefined
  if (Array.isArray(out.required) && properties) {
    const withDefault = (name: string) => {
      const property = properties[name]
      return isObject(property) && 'default' in property
    }
    const required = (out.required as string[]).filter((name) => !withDefault(name))
    if (required.length > 0) out.required = required
    else delete out.required
  }
  if (out.type === 'object' && !preserve && !('additionalProperties' in out)) {
    out.additionalProperties = false
  }
  return out
}

/**
 * The ObjectMeta fields a manifest sets. The API server validates metadata
 * itself (the CRD only says `type: object`); this subset is written by hand
 * from the Kubernetes API reference, not derived.
 */
export const OBJECT_META: Json = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 253 },
    generateName: { type: 'string' },
    namespace: { type: 'string', minLength: 1, maxLength: 63 },
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
    finalizers: { type: 'array', items: { type: 'string' } },
  },
  additionalProperties: false,
}

/**
 * Where a CRD leaves a field open (`x-kubernetes-preserve-unknown-fields`) and
 * the controller validates it with a schema of its own: the dotted path of the
 * open node, and the schema to apply there.
 */
export interface Closure {
  path: string[]
  schema: Json
}

/** The whole-object schema of one CRD version: apiVersion and kind fixed, metadata, spec. */
export function manifestSchema(version: CrdVersion, closures: readonly Closure[] = []): Converted {
  const unchecked: string[] = []
  const root = convertNode(version.schema, '', unchecked)
  const properties = { ...(isObject(root.properties) ? root.properties : {}) }
  delete properties.status
  properties.apiVersion = { const: `${version.group}/${version.version}` }
  properties.kind = { const: version.kind }
  properties.metadata = {
    ...OBJECT_META,
    required: ['name'],
  }
  const schema: Json = {
    ...root,
    type: 'object',
    properties,
    required: [
      ...new Set(['apiVersion', 'kind', 'metadata', ...((root.required as string[]) ?? [])]),
    ],
    additionalProperties: false,
  }
  for (const closure of closures) close(schema, closure, version.kind)
  return { schema, unchecked }
}

function close(schema: Json, closure: Closure, kind: string): void {
  let node: Json = schema
  for (const segment of closure.path) {
    const next = segment === '[]' ? node.items : (node.properties as Json | undefined)?.[segment]
    if (!isObject(next)) throw new Error(`${kind}: no schema node at ${closure.path.join('.')}`)
    node = next
  }
  const { allOf, ...rest } = closure.schema
  Object.assign(node, rest)
  if (Array.isArray(allOf)) {
    node.allOf = [...((node.allOf as Json[] | undefined) ?? []), ...(allOf as Json[])]
  }
}

/** `steps[]` of a promotion template: each built-in step's config must match its published schema. */
export function stepConfigRules(stepSchemaIds: Record<string, string>): Json {
  return {
    allOf: Object.entries(stepSchemaIds).map(([step, id]) => ({
      if: { properties: { uses: { const: step } }, required: ['uses'] },
      then: { properties: { config: { $ref: id } } },
    })),
  }
}

/** Adds `$id` to a published JSON Schema file, keeping everything else as Kargo wrote it. */
export function withId(schema: unknown, id: string): Json {
  if (!isObject(schema)) throw new Error(`${id}: not a JSON Schema object`)
  return { $id: id, ...schema }
}
