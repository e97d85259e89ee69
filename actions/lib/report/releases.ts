// Semantic-version arithmetic for the report, with the `semver` package:
// the newest patch of a deployed minor (where security fixes land), the
// newest minor of its major, the newest release, and minimum versions.
// Versions keep their spelling (`v1.16.2` stays `v1.16.2`); pre-releases
// never count as newer.
import { compare, parse, type SemVer } from 'semver'
import type { NewestVersions } from './types.js'

function stable(versions: readonly string[]): Array<{ text: string; version: SemVer }> {
  return versions.flatMap((text) => {
    const version = parse(text)
    return version && version.prerelease.length === 0 ? [{ text, version }] : []
  })
}

function newest(
  candidates: ReadonlyArray<{ text: string; version: SemVer }>,
  keep: (version: SemVer) => boolean,
): string | undefined {
  let best: { text: string; version: SemVer } | undefined
  for (const candidate of candidates) {
    if (!keep(candidate.version)) continue
    if (!best || compare(candidate.version, best.version) > 0) best = candidate
  }
  return best?.text
}

/** The newest releases relative to a deployed version; empty when it is not a semantic version. */
export function newestVersions(deployed: string, available: readonly string[]): NewestVersions {
  const current = parse(deployed)
  const releases = stable(available)
  const major = newest(releases, () => true)
  if (!current) return major ? { major } : {}
  const minor = newest(releases, (v) => v.major === current.major)
  const patch = newest(releases, (v) => v.major === current.major && v.minor === current.minor)
  return {
    ...(patch ? { patch } : {}),
    ...(minor ? { minor } : {}),
    ...(major ? { major } : {}),
  }
}

/** `a` is a lower version than `b`; undefined when either is not a semantic version. */
export function isOlder(a: string, b: string): boolean | undefined {
  const left = parse(a)
  const right = parse(b)
  return left && right ? compare(left, right) < 0 : undefined
}

/** Newest first; versions that are not semantic versions last, in text order. */
export function compareVersionsDescending(a: string, b: string): number {
  const left = parse(a)
  const right = parse(b)
  if (left && right) return compare(right, left) || (a < b ? -1 : a > b ? 1 : 0)
  if (left) return -1
  if (right) return 1
  return a < b ? -1 : a > b ? 1 : 0
}
