/**
 * Validates Kubernetes manifests (multi-document YAML) against the committed
 * CRD schemas in test/fixtures/crd-schemas/ (scripts/derive-crd-schemas.ts),
 * with no network. Each problem names the file, the line, the object and the
 * field.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js'
import { isMap, isNode, isScalar, isSeq, LineCounter, parseAllDocuments, type Node } from 'yaml'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
export const SCHEMA_DIR = join(ROOT, 'test', 'fixtures', 'crd-schemas')
/** The `$id` prefix scripts/derive-crd-schemas.ts gives every schema. */
export const SCHEMA_BASE = 'https://fleet-promote.invalid/crd-schemas/'

function jsonFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return jsonFiles(path)
    return entry.name.endsWith('.json') && entry.name !== 'provenance.json' ? [path] : []
  })
}

export interface ManifestValidator {
  /** `group/version Kind` of every kind there is a schema for. */
  readonly kinds: string[]
  /** Problems in one YAML text (empty: every document is valid). */
  validate(text: string, file: string): string[]
}

const loaded = new Map<string, Ajv2020>()

/** One Ajv holding every schema of a directory, compiled once per process. */
function schemaSet(dir: string): Ajv2020 {
  let ajv = loaded.get(dir)
  if (!ajv) {
    // Formats (date-time, …) are not checked: the derivation drops them from the CRDs too.
    ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: false })
    for (const file of jsonFiles(dir))
      ajv.addSchema(JSON.parse(readFileSync(file, 'utf8')) as object)
    loaded.set(dir, ajv)
  }
  return ajv
}

/** The published config schema of a Kargo built-in step, as the controller checks a rendered config. */
export function stepConfigValidator(step: string, dir = SCHEMA_DIR): ValidateFunction {
  const id = `${SCHEMA_BASE}kargo/steps/${step}-config.json`
  const check = schemaSet(dir).getSchema(id)
  if (!check) throw new Error(`no config schema for the Kargo step ${step} (${id})`)
  return check
}

export function loadManifestValidator(dir = SCHEMA_DIR): ManifestValidator {
  const ajv = schemaSet(dir)
  const byKind = new Map<string, ValidateFunction>()
  for (const [id, entry] of Object.entries(ajv.schemas)) {
    const schema = entry?.schema as Record<string, unknown> | undefined
    const properties = schema?.properties as Record<string, { const?: string }> | undefined
    const apiVersion = properties?.apiVersion?.const
    const kind = properties?.kind?.const
    if (apiVersion && kind)
      byKind.set(`${apiVersion} ${kind}`, ajv.getSchema(id) as ValidateFunction)
  }
  return {
    kinds: [...byKind.keys()].sort(),
    validate(text, file) {
      const lines = new LineCounter()
      const problems: string[] = []
      const at = (node: Node | undefined | null) => {
        const offset = node?.range?.[0]
        return offset === undefined ? file : `${file}:${lines.linePos(offset).line}`
      }
      for (const document of parseAllDocuments(text, { lineCounter: lines })) {
        if (document.errors.length > 0) {
          problems.push(...document.errors.map((error) => `${file}: ${error.message}`))
          continue
        }
        const manifest = document.toJS({ maxAliasCount: 100 }) as unknown
        if (manifest === null || manifest === undefined) continue
        const object = manifest as { apiVersion?: unknown; kind?: unknown; metadata?: unknown }
        const key = `${String(object.apiVersion)} ${String(object.kind)}`
        const name = (object.metadata as { name?: unknown } | undefined)?.name
        const what = `${String(object.kind)} ${typeof name === 'string' ? name : '(no name)'}`
        const check = byKind.get(key)
        if (!check) {
          problems.push(
            `${at(document.contents)}: ${what}: no schema for ${key} (known: ${[...byKind.keys()].join(', ')})`,
          )
          continue
        }
        if (check(manifest)) continue
        for (const error of relevant(check.errors ?? [])) {
          const path = pointer(error.instancePath)
          const field =
            error.keyword === 'additionalProperties'
              ? [
                  ...path,
                  String((error.params as { additionalProperty: string }).additionalProperty),
                ]
              : path
          problems.push(
            `${at(located(document.contents, field))}: ${what}: ${describe(error, field)}`,
          )
        }
      }
      return problems
    },
  }
}

/** Validates every `*.yaml` below `dir`; problems carry paths relative to the repository. */
export function validateManifestTree(validator: ManifestValidator, dir: string): string[] {
  const files = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort()
  if (files.length === 0) return [`${relative(ROOT, dir)}: no manifests`]
  return files.flatMap((file) =>
    validator.validate(readFileSync(file, 'utf8'), relative(ROOT, file)),
  )
}

function pointer(instancePath: string): (string | number)[] {
  return instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part))
}

/**
 * Where a field is written: its key in the mapping that holds it, or the
 * deepest node on the path that exists (for a missing field: its parent).
 */
function located(root: unknown, path: readonly (string | number)[]): Node | undefined {
  let node: unknown = root
  let found: Node | undefined = isNode(root) ? root : undefined
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && item.key.value === segment)
      if (!pair) break
      if (isNode(pair.key)) found = pair.key
      node = pair.value
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment]
      if (isNode(node)) found = node
    } else break
  }
  return found
}

function dotted(path: readonly (string | number)[]): string {
  return path.reduce<string>(
    (text, segment) =>
      typeof segment === 'number' ? `${text}[${segment}]` : text ? `${text}.${segment}` : segment,
    '',
  )
}

function describe(error: ErrorObject, field: readonly (string | number)[]): string {
  const where = dotted(field) || '(the object)'
  switch (error.keyword) {
    case 'additionalProperties':
      return `unknown field ${where}`
    case 'required':
      return `${where}: missing required field ${(error.params as { missingProperty: string }).missingProperty}`
    case 'enum':
      return `${where} must be one of ${JSON.stringify((error.params as { allowedValues: unknown }).allowedValues)}`
    default:
      return `${where} ${error.message ?? error.keyword}`
  }
}

/**
 * The errors a person acts on: the branches of `oneOf`/`if` explain
 * themselves through their own errors, so their summaries are left out, as
 * are duplicates.
 */
function relevant(errors: readonly ErrorObject[]): ErrorObject[] {
  const summaries = new Set(['oneOf', 'anyOf', 'if', 'allOf', 'not'])
  const specific = errors.filter((error) => !summaries.has(error.keyword))
  const chosen = specific.length > 0 ? specific : [...errors]
  const seen = new Set<string>()
  return chosen.filter((error) => {
    const key = `${error.instancePath} ${error.keyword} ${JSON.stringify(error.params)}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}
