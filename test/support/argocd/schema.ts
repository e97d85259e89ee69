/**
 * The Argo CD API contract (argocd-api.schema.json, derived from Argo CD's
 * published swagger) as JSON Schema, for validating what the simulator sends
 * and what clients send to it.
 */
import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import type { ValidateFunction } from 'ajv'
import { CONTRACT_FILE } from './contract.js'

type JsonObject = Record<string, unknown>

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Swagger 2.0 → JSON Schema: `#/definitions/x` refs point into one schema's
 * `definitions`, and objects that list their properties refuse unknown ones,
 * so a misspelt or invented field fails validation instead of passing silently.
 */
function toJsonSchema(node: unknown, openObjects: ReadonlySet<string>, name?: string): unknown {
  if (Array.isArray(node)) return node.map((item) => toJsonSchema(item, openObjects))
  if (!isObject(node)) return node
  const out: JsonObject = {}
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties' && isObject(value)) {
      out[key] = Object.fromEntries(
        Object.entries(value).map(([prop, schema]) => [prop, toJsonSchema(schema, openObjects)]),
      )
    } else {
      out[key] = toJsonSchema(value, openObjects)
    }
  }
  if (
    out.type === 'object' &&
    isObject(out.properties) &&
    !('additionalProperties' in out) &&
    !(name && openObjects.has(name))
  ) {
    out.additionalProperties = false
  }
  return out
}

export interface SwaggerValidator {
  /** Error lines for `value` checked against `#/definitions/<definition>`; empty when valid. */
  validate(definition: string, value: unknown): string[]
}

let cached: SwaggerValidator | undefined

export function loadSwaggerValidator(): SwaggerValidator {
  if (cached) return cached
  const contract = JSON.parse(readFileSync(CONTRACT_FILE, 'utf8')) as { definitions: JsonObject }
  const definitions: JsonObject = {}
  // A RawExtension holds arbitrary JSON (Helm `valuesObject`), not the `{raw}` wrapper it declares.
  const openObjects = new Set(['runtimeRawExtension'])
  for (const [name, schema] of Object.entries(contract.definitions)) {
    definitions[name] = toJsonSchema(schema, openObjects, name)
  }
  // Kubernetes objects carry an inline TypeMeta the generated definition leaves out.
  const application = definitions.v1alpha1Application
  if (isObject(application) && isObject(application.properties)) {
    application.properties.apiVersion = { type: 'string' }
    application.properties.kind = { type: 'string' }
  }
  const ajv = new Ajv({
    strict: false,
    allErrors: true,
    formats: {
      'date-time': /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/,
      byte: /^[A-Za-z0-9+/]*={0,2}$/,
      int32: {
        type: 'number',
        validate: (n: number) => Number.isInteger(n) && Math.abs(n) < 2 ** 31,
      },
      int64: { type: 'number', validate: (n: number) => Number.isSafeInteger(n) },
    },
  })
  ajv.addSchema({ $id: 'argocd', definitions })
  const compiled = new Map<string, ValidateFunction>()
  cached = {
    validate(definition, value) {
      if (!(definition in definitions))
        return [`no definition ${definition} in the Argo CD contract (${CONTRACT_FILE})`]
      let check = compiled.get(definition)
      if (!check) {
        check = ajv.compile({ $ref: `argocd#/definitions/${definition}` })
        compiled.set(definition, check)
      }
      if (check(value)) return []
      return (check.errors ?? []).map((error) => {
        const extra = isObject(error.params) && 'additionalProperty' in error.params
        const detail = extra ? ` (${String(error.params.additionalProperty)})` : ''
        return `${error.instancePath || '/'} ${error.message ?? 'is invalid'}${detail}`
      })
    },
  }
  return cached
}
