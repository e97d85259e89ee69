// Environment names: what makes one valid (a branch component and a status
// context: letters, digits, ".", "_", "-", at most 100 characters), and the
// valid name derived from a directory that does not give one, so one odd
// directory (a ":" in it, a 150-character path) does not stop a whole run.
import { createHash } from 'node:crypto'

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
const MAX_NAME_LENGTH = 100
/** Hex digits of the sha256 suffix that keeps shortened names apart. */
const HASH_LENGTH = 8

/** Why a name cannot be an environment name (branch component, status context), or undefined. */
export function unsafeNameReason(name: string): string | undefined {
  if (name === '') return 'is empty'
  if (name.length > MAX_NAME_LENGTH) return `is longer than ${MAX_NAME_LENGTH} characters`
  if (!SAFE_NAME.test(name)) {
    return `gives "${name}": names may only contain letters, digits, ".", "_" and "-", and must start with a letter or digit`
  }
  if (name.includes('..') || name.endsWith('.') || name.endsWith('.lock')) {
    return `gives "${name}": names may not contain "..", or end with "." or ".lock"`
  }
  return undefined
}

/** Without the endings a name may not have ("." and ".lock"), repeatedly. */
function trimEnd(name: string): string {
  let trimmed = name
  while (/(\.|\.lock|-)$/.test(trimmed)) trimmed = trimmed.replace(/(\.|\.lock|-)$/, '')
  return trimmed
}

/**
 * `raw` when it is a valid name; otherwise a valid one: each run of other
 * characters becomes "-", ".." becomes ".", a leading non-alphanumeric and a
 * trailing "." or ".lock" go, and a name still over 100 characters is cut and
 * given a short hash of `raw`, so two long directories stay apart. `note` says
 * what was done, for a warning.
 */
export function derivedEnvironmentName(raw: string): { name: string; note?: string } {
  const reason = unsafeNameReason(raw)
  if (!reason) return { name: raw }
  const hash = createHash('sha256').update(raw).digest('hex').slice(0, HASH_LENGTH)
  let name = trimEnd(
    raw
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/\.{2,}/g, '.')
      .replace(/^[^A-Za-z0-9]+/, ''),
  )
  if (name.length > MAX_NAME_LENGTH)
    name = `${trimEnd(name.slice(0, MAX_NAME_LENGTH - HASH_LENGTH - 1))}-${hash}`
  if (name === '') name = `env-${hash}`
  const why =
    raw.length > MAX_NAME_LENGTH ? 'over 100 characters' : 'characters a name may not have'
  return { name, note: `"${raw}" is no valid environment name (${why}); named "${name}"` }
}

const FOLDER_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

/**
 * Why a WET folder (an environment's place on a shared branch, an Argo CD
 * source path) is not valid, or undefined: relative, "/"-separated segments
 * that each start with a letter or digit, so no folder is hidden, `.git` or
 * the suite's own `.fleet-promote/`, and none climbs out with "..".
 */
export function invalidFolderReason(folder: string): string | undefined {
  const quoted = JSON.stringify(folder)
  if (folder.length > 200) return `${quoted}, which is longer than 200 characters`
  if (!folder.split('/').every((segment) => FOLDER_SEGMENT.test(segment))) {
    return `${quoted}: each "/"-separated segment must consist of letters, digits, ".", "_" and "-" and start with a letter or digit`
  }
  return undefined
}
