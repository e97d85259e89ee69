// The one reader of hydrate's output (`hydration.json`, or one per matrix
// shard): parsed, its shape checked, errors naming the file and the field.

import { existsSync } from 'node:fs'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { isValidRefPart } from './children.js'
import { invalidFolderReason } from './config/naming.js'
import { UserError, errorMessage } from './errors.js'
import type { EnvironmentHydration, HydrationResult, HydrationStatus } from './hydration-types.js'

export const HYDRATION_FILE = 'hydration.json'

const STATUSES: readonly HydrationStatus[] = ['rendered', 'unchanged', 'failed', 'blocked']
const SHA = /^[0-9a-f]{40}$/

/**
 * Reads `<dir>/hydration.json`, or, when hydrate ran as a matrix and each
 * shard's artifact landed in its own subdirectory, merges `<dir>/<shard>/hydration.json`.
 */
export async function loadHydration(dir: string): Promise<HydrationResult> {
  if (existsSync(join(dir, HYDRATION_FILE))) return readHydrationFile(dir, '')
  let entries
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch {
    throw new UserError(`rendered-dir ${dir} does not exist (download hydrate's output first)`)
  }
  const shards = entries
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, HYDRATION_FILE)))
    .map((e) => e.name)
    .sort()
  if (shards.length === 0)
    throw new UserError(`no ${HYDRATION_FILE} found in ${dir} or its subdirectories`)
  const parts = await Promise.all(shards.map((shard) => readHydrationFile(dir, shard)))
  const first = parts[0] as HydrationResult
  const merged: HydrationResult = { ...first, environments: [] }
  for (const part of parts) {
    if (part.drySha !== first.drySha) {
      throw new UserError(
        `hydration shards rendered different DRY commits (${first.drySha} and ${part.drySha})`,
      )
    }
    merged.environments.push(...part.environments)
  }
  assertUniqueNames(merged.environments, dir)
  return merged
}

/** `<dir>/<shard>/hydration.json` (shard '' for `<dir>` itself), validated. */
export async function readHydrationFile(dir: string, shard = ''): Promise<HydrationResult> {
  const file = join(dir, shard, HYDRATION_FILE)
  let value: unknown
  try {
    value = JSON.parse(await readFile(file, 'utf8'))
  } catch (error) {
    throw new UserError(`${file} is not valid JSON: ${errorMessage(error)}`, { file })
  }
  const result = validateHydration(value, file)
  if (shard) {
    for (const env of result.environments) env.outputDir = join(shard, env.outputDir)
  }
  return result
}

/** Checks the shape of a hydration result; the error names the file and the field. */
export function validateHydration(value: unknown, file: string): HydrationResult {
  const fail = (what: string): never => {
    throw new UserError(`${file}: ${what}`, { file })
  }
  if (typeof value !== 'object' || value === null) return fail('not a JSON object')
  const v = value as Record<string, unknown>
  if (v.version !== 1) fail(`unsupported version ${JSON.stringify(v.version)} (expected 1)`)
  if (typeof v.drySha !== 'string' || !SHA.test(v.drySha)) fail('drySha must be a full commit SHA')
  if (!Array.isArray(v.environments)) return fail('environments must be a list')
  const environments = (v.environments as unknown[]).map((raw, i) => {
    const at = `environments[${i}]`
    if (typeof raw !== 'object' || raw === null) return fail(`${at} is not an object`)
    const env = raw as Record<string, unknown>
    for (const key of ['name', 'path', 'stage', 'branch', 'outputDir', 'baseSha'] as const) {
      if (typeof env[key] !== 'string') fail(`${at}.${key} must be a string`)
    }
    const name = env.name as string
    if (!isValidRefPart(name)) fail(`${at}.name "${name}" cannot be used in a branch name`)
    if (!isValidRefPart(env.branch as string))
      fail(`${at}.branch "${String(env.branch)}" is not a valid branch`)
    if (env.folder !== undefined) {
      const problem =
        typeof env.folder === 'string' ? invalidFolderReason(env.folder) : 'is not a string'
      if (problem) fail(`${at}.folder ${problem}`)
    }
    if (!STATUSES.includes(env.status as HydrationStatus)) {
      fail(`${at}.status must be one of ${STATUSES.join(', ')}`)
    }
    if (env.baseSha !== '' && !SHA.test(env.baseSha as string))
      fail(`${at}.baseSha must be '' or a SHA`)
    if (!Array.isArray(env.files) || !env.files.every((f) => typeof f === 'string')) {
      fail(`${at}.files must be a list of paths`)
    }
    if (!Array.isArray(env.changes)) fail(`${at}.changes must be a list`)
    const counts = (key: string, fields: string[]) => {
      const obj = env[key] as Record<string, unknown> | undefined
      if (
        typeof obj !== 'object' ||
        obj === null ||
        !fields.every((f) => Number.isInteger(obj[f]))
      ) {
        fail(`${at}.${key} must have whole numbers ${fields.join(', ')}`)
      }
    }
    counts('resources', ['before', 'after'])
    counts('diff', ['added', 'changed', 'deleted'])
    return raw as EnvironmentHydration
  })
  assertUniqueNames(environments, file)
  return { ...(v as unknown as HydrationResult), environments }
}

function assertUniqueNames(environments: readonly EnvironmentHydration[], where: string): void {
  const seen = new Set<string>()
  for (const env of environments) {
    if (seen.has(env.name)) throw new UserError(`${where}: environment ${env.name} appears twice`)
    seen.add(env.name)
  }
}
