/**
 * Validation against GitHub's published descriptions: REST responses against
 * @octokit/openapi, webhook payloads against @octokit/openapi-webhooks.
 *
 * The documents are large, so each is parsed once per process (lazily), only
 * the schemas reachable from what is actually validated are converted, and
 * compiled validators are cached in module scope.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { Ajv, type ValidateFunction } from 'ajv'

type Json = Record<string, unknown>

interface Spec {
  doc: Json
  ajv: Ajv
  /** Component schemas already converted and registered. */
  registered: Set<string>
  validators: Map<string, ValidateFunction | null>
}

const require = createRequire(import.meta.url)
const specs = new Map<string, Spec>()

const FORMATS: Record<string, RegExp> = {
  'date-time': /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/,
  // GitHub sends "" for unset URLs (e.g. a deployment status without log_url) where the description says uri.
  uri: /^(?:[a-z][a-z0-9+.-]*:[^\s]*)?$/i,
  email: /^[^\s@]+@[^\s@]+$/,
}

function loadSpec(module: string): Spec {
  let spec = specs.get(module)
  if (!spec) {
    const doc = JSON.parse(readFileSync(require.resolve(module), 'utf8')) as Json
    const ajv = new Ajv({ strict: false, allErrors: true, logger: false, validateFormats: true })
    for (const [name, pattern] of Object.entries(FORMATS)) ajv.addFormat(name, pattern)
    spec = { doc, ajv, registered: new Set(), validators: new Map() }
    specs.set(module, spec)
  }
  return spec
}

const SCHEMA_REF = '#/components/schemas/'

/**
 * OpenAPI 3.0 → JSON Schema: `nullable` becomes a null alternative, and
 * `oneOf` becomes `anyOf` (GitHub's alternatives overlap, e.g. a user also
 * matches a loose object). References are rewritten to registered schema ids
 * and collected so they get registered too.
 */
function convert(node: unknown, refs: Set<string>): unknown {
  if (Array.isArray(node)) return node.map((item) => convert(item, refs))
  if (node === null || typeof node !== 'object') return node
  const source = node as Json
  const out: Json = {}
  for (const [key, value] of Object.entries(source)) {
    if (key === 'nullable' || key === 'discriminator' || key === 'example' || key === 'examples')
      continue
    if (key === '$ref' && typeof value === 'string' && value.startsWith(SCHEMA_REF)) {
      const name = value.slice(SCHEMA_REF.length)
      refs.add(name)
      out.$ref = `schema:${name}`
      continue
    }
    out[key === 'oneOf' ? 'anyOf' : key] =
      key === 'properties' ? mapValues(value as Json, refs) : convert(value, refs)
  }
  if (source.nullable !== true) return out
  if (typeof out.type === 'string') {
    out.type = [out.type, 'null']
    if (Array.isArray(out.enum) && !out.enum.includes(null))
      out.enum = [...(out.enum as unknown[]), null]
    return out
  }
  return { anyOf: [{ type: 'null' }, out] }
}

function mapValues(properties: Json, refs: Set<string>): Json {
  return Object.fromEntries(
    Object.entries(properties).map(([key, value]) => [key, convert(value, refs)]),
  )
}

/** Registers a component schema and everything it references (once per process). */
function register(spec: Spec, names: Iterable<string>) {
  const schemas = (spec.doc.components as Json).schemas as Json
  const queue = [...names]
  while (queue.length > 0) {
    const name = queue.pop() as string
    if (spec.registered.has(name)) continue
    spec.registered.add(name)
    const refs = new Set<string>()
    const schema = convert(schemas[name], refs) as Json
    spec.ajv.addSchema({ ...schema, $id: `schema:${name}` })
    queue.push(...refs)
  }
}

function compile(spec: Spec, key: string, raw: unknown): ValidateFunction | null {
  if (spec.validators.has(key)) return spec.validators.get(key) ?? null
  let validate: ValidateFunction | null = null
  if (raw !== undefined) {
    const refs = new Set<string>()
    const schema = convert(raw, refs)
    register(spec, refs)
    validate = spec.ajv.compile(schema as Json)
  }
  spec.validators.set(key, validate)
  return validate
}

function describe(validate: ValidateFunction): string {
  return (validate.errors ?? [])
    .slice(0, 8)
    .map(
      (error) =>
        `${error.instancePath || '/'} ${error.message ?? ''} ${JSON.stringify(error.params)}`,
    )
    .join('; ')
}

const REST_MODULE = '@octokit/openapi/generated/api.github.com.json'
const WEBHOOKS_MODULE = '@octokit/openapi-webhooks/generated/api.github.com.json'

function resolveResponse(doc: Json, response: Json | undefined): Json | undefined {
  const ref = response?.$ref
  if (typeof ref === 'string') {
    const name = ref.replace('#/components/responses/', '')
    return ((doc.components as Json).responses as Json)[name] as Json
  }
  return response
}

export type ResponseCheck =
  { kind: 'ok' } | { kind: 'undocumented' } | { kind: 'invalid'; message: string }

/** Checks a JSON response body against the operation's documented response for that status. */
export function checkResponse(
  method: string,
  template: string,
  status: number,
  body: unknown,
): ResponseCheck {
  const spec = loadSpec(REST_MODULE)
  const key = `${method} ${template} ${status}`
  let validate = spec.validators.get(key)
  if (validate === undefined) {
    const operation = ((spec.doc.paths as Json)[template] as Json | undefined)?.[
      method.toLowerCase()
    ] as Json | undefined
    if (!operation) return { kind: 'undocumented' }
    const responses = operation.responses as Json
    const response = resolveResponse(
      spec.doc,
      (responses[String(status)] ?? responses.default) as Json | undefined,
    )
    if (!response) {
      spec.validators.set(key, null)
      return { kind: 'undocumented' }
    }
    // A documented status without a JSON schema (GitHub still sends a message body there) is not checkable.
    const schema = (
      (response.content as Json | undefined)?.['application/json'] as Json | undefined
    )?.schema
    validate = compile(spec, key, schema ?? {})
  }
  if (validate === null) return { kind: 'undocumented' }
  return validate(body) ? { kind: 'ok' } : { kind: 'invalid', message: describe(validate) }
}

/** Whether the REST description documents this operation at all. */
export function hasOperation(method: string, template: string): boolean {
  const paths = loadSpec(REST_MODULE).doc.paths as Json
  return Boolean((paths[template] as Json | undefined)?.[method.toLowerCase()])
}

/** Checks a webhook payload against a schema like `webhook-pull-request-opened`. Returns an error message or undefined. */
export function checkWebhook(schemaName: string, payload: unknown): string | undefined {
  const spec = loadSpec(WEBHOOKS_MODULE)
  const schemas = (spec.doc.components as Json).schemas as Json
  if (!(schemaName in schemas)) return `no webhook schema ${schemaName}`
  const validate = compile(spec, schemaName, { $ref: `${SCHEMA_REF}${schemaName}` })
  if (!validate) return `no webhook schema ${schemaName}`
  return validate(payload) ? undefined : describe(validate)
}
