/**
 * The Argo CD API contract the simulator and client are checked against: the
 * definitions of Argo CD's published swagger that the suite uses, and every
 * definition they refer to, keeping only structure (names, types, formats,
 * required, enums). Committed as argocd-api.schema.json so no test needs the
 * full description; scripts/derive-argocd-schema.ts regenerates it and
 * test/argocd-contract.test.ts checks it is not stale.
 */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

export const CONTRACT_FILE = resolve(here, 'argocd-api.schema.json')

/** The objects and requests the simulator validates: Application and its parts, list, patch, sync, errors. */
export const CONTRACT_ROOTS = [
  'v1alpha1Application',
  'v1alpha1ApplicationList',
  'applicationApplicationPatchRequest',
  'applicationApplicationSyncRequest',
  'sessionGetUserInfoResponse',
  'versionVersionMessage',
  'runtimeError',
] as const

/** Where the source description came from; written into the contract. */
export interface ContractSource {
  repository: string
  path: string
  commit: string
  version: string
}

export const REGENERATE =
  'npm run argocd-schema -- <argo-cd assets/swagger.json> [--commit <sha> --version <version>]'

export interface ArgoCdContract {
  $comment: string
  source: ContractSource & { sha256: string }
  definitions: Record<string, unknown>
}

type JsonObject = Record<string, unknown>

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The schema keywords that carry structure; titles and descriptions are dropped. */
const STRUCTURAL = new Set([
  'type',
  'format',
  'items',
  'properties',
  'additionalProperties',
  'required',
  'enum',
  'allOf',
  '$ref',
])

function structure(node: unknown, refs: Set<string>): unknown {
  if (Array.isArray(node)) return node.map((item) => structure(item, refs))
  if (!isObject(node)) return node
  const out: JsonObject = {}
  for (const key of Object.keys(node).sort()) {
    const value = node[key]
    if (!STRUCTURAL.has(key)) continue
    if (key === '$ref' && typeof value === 'string') {
      const name = value.replace(/^#\/definitions\//, '')
      if (name === value) throw new Error(`unsupported $ref ${value}`)
      refs.add(name)
      out[key] = value
    } else if (key === 'properties' && isObject(value)) {
      out[key] = Object.fromEntries(
        Object.keys(value)
          .sort()
          .map((prop) => [prop, structure(value[prop], refs)]),
      )
    } else {
      out[key] = structure(value, refs)
    }
  }
  return out
}

/** The contract from the full swagger text: the roots and everything they reach, sorted by name. */
export function deriveArgoCdContract(swaggerText: string, source: ContractSource): ArgoCdContract {
  const swagger: unknown = JSON.parse(swaggerText)
  if (!isObject(swagger) || !isObject(swagger.definitions)) {
    throw new Error('not a Swagger 2.0 description: it has no "definitions"')
  }
  const all = swagger.definitions
  const picked: Record<string, unknown> = {}
  const pending: string[] = [...CONTRACT_ROOTS]
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (name in picked) continue
    if (!(name in all)) throw new Error(`the swagger has no definition ${name}`)
    const refs = new Set<string>()
    picked[name] = structure(all[name], refs)
    pending.push(...refs)
  }
  const definitions = Object.fromEntries(
    Object.keys(picked)
      .sort()
      .map((name) => [name, picked[name]]),
  )
  return {
    $comment: `Derived from Argo CD's swagger by scripts/derive-argocd-schema.ts; do not edit. Regenerate: ${REGENERATE}`,
    source: { ...source, sha256: createHash('sha256').update(swaggerText).digest('hex') },
    definitions,
  }
}

/** The file as committed: two-space JSON with a final newline. */
export function formatContract(contract: ArgoCdContract): string {
  return `${JSON.stringify(contract, null, 2)}\n`
}

/**
 * The full description to re-derive from, if one is named by
 * FLEET_PROMOTE_ARGOCD_SWAGGER (nothing outside the repository is looked up by
 * itself: a fresh clone has only the committed contract).
 */
export function findFullSwagger(): string | undefined {
  const fromEnv = process.env.FLEET_PROMOTE_ARGOCD_SWAGGER
  if (fromEnv) {
    if (!existsSync(fromEnv)) {
      throw new Error(`FLEET_PROMOTE_ARGOCD_SWAGGER=${fromEnv}: no such file`)
    }
    return fromEnv
  }
  return undefined
}

export async function readCommittedContract(): Promise<ArgoCdContract> {
  return JSON.parse(await readFile(CONTRACT_FILE, 'utf8')) as ArgoCdContract
}
