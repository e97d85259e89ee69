// Child pull requests: their branch names and the hidden marker in their
// bodies. The branch name is the key (only writers can create branches in the
// repository); the marker only carries metadata and is never trusted alone.

import { invalidFolderReason } from './config/naming.js'

/** Every child branch starts with this; the rest is `<parent>/<environment>`. */
export const CHILD_BRANCH_PREFIX = 'fleet-promote/pr-'

const MARKER_PREFIX = '<!-- fleet-promote:child '
const MARKER_SUFFIX = ' -->'
const MARKER_PATTERN = /<!-- fleet-promote:child (\{[^\n]*?\}) -->/g

/** What a child PR's marker records about how it was made. */
export interface ChildMarker {
  version: 1
  parent: number
  environment: string
  stage: string
  /** The environment's WET branch (the child PR's base). */
  branch: string
  /** The DRY commit rendered onto the child branch. */
  drySha: string
  /** The parent PR head that DRY commit was rendered from. */
  headSha: string
  /**
   * The WET branch tip the child commit is built on ('' for a new branch).
   * When the WET branch moved since (another parent landed), the child lacks
   * that change and must be re-rendered before it is deployed.
   */
  wetSha?: string
  /** The DRY base commit the render was made against (the test merge's first parent). */
  dryBase?: string
  /**
   * The base branch tip when the child was built, present only when it was no
   * longer `dryBase` (GitHub had not rebuilt the test merge yet): the WET tips
   * it was built on may then hold merged changes its render lacks.
   */
  baseMovedTo?: string
  /**
   * Present when the deletion guard blocked this render: the child exists so
   * an authorized `--allow-deletions` can deploy it, and nothing else may.
   */
  guard?: { reason: string; deleted: number }
  /**
   * A child of a shared WET branch (then `environment` is the branch's unit,
   * see childUnit): the environments whose folders it holds.
   */
  environments?: string[]
  /**
   * With `environments`: each one's folder on the branch, where its Argo CD
   * Application's source path points.
   */
  folders?: Record<string, string>
}

/**
 * Whether `name` is usable as one or more ref components (a subset of
 * `git check-ref-format`), so environment names cannot smuggle odd refs.
 */
export function isValidRefPart(name: string): boolean {
  if (name.length === 0 || name.length > 200) return false
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return false
  if (name.includes('..') || name.includes('@{') || name.includes('//')) return false
  if (name.startsWith('/') || name.endsWith('/') || name.endsWith('.') || name === '@') return false
  return name.split('/').every((part) => !part.startsWith('.') && !part.endsWith('.lock'))
}

/**
 * What a child branch is named after: the environment, or for an environment
 * with a folder on its WET branch the branch itself ("/" → "-"), so a parent
 * has one child per shared WET branch holding every impacted folder.
 */
export function childUnit(env: { name: string; branch: string; folder?: string }): string {
  return env.folder === undefined ? env.name : env.branch.replaceAll('/', '-')
}

/** `fleet-promote/pr-<parent>/<environment or unit>` */
export function childBranch(parent: number, environment: string): string {
  if (!Number.isSafeInteger(parent) || parent < 1)
    throw new Error(`invalid parent PR number ${parent}`)
  if (!isValidRefPart(environment)) {
    throw new Error(`environment name "${environment}" cannot be used in a branch name`)
  }
  return `${CHILD_BRANCH_PREFIX}${parent}/${environment}`
}

/** The parent and environment a child branch encodes, or undefined for any other branch. */
export function parseChildBranch(ref: string): { parent: number; environment: string } | undefined {
  const branch = ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : ref
  const match = /^fleet-promote\/pr-([1-9]\d{0,15})\/(.+)$/.exec(branch)
  if (!match?.[1] || !match[2] || !isValidRefPart(match[2])) return undefined
  const parent = Number(match[1])
  return Number.isSafeInteger(parent) ? { parent, environment: match[2] } : undefined
}

/** The hidden marker line. `<` and `>` are escaped so the JSON can never close the comment. */
export function encodeMarker(marker: ChildMarker): string {
  const json = JSON.stringify(marker).replace(/</g, '\\u003c').replace(/>/g, '\\u003e')
  return `${MARKER_PREFIX}${json}${MARKER_SUFFIX}`
}

/**
 * The marker in a PR body, or undefined when there is none, it is malformed,
 * or the body holds several that disagree (someone edited the body).
 */
export function parseMarker(body: string | null | undefined): ChildMarker | undefined {
  if (!body) return undefined
  const found: ChildMarker[] = []
  for (const match of body.matchAll(MARKER_PATTERN)) {
    const marker = toMarker(match[1] ?? '')
    if (!marker) return undefined
    found.push(marker)
  }
  const [first, ...rest] = found
  if (!first) return undefined
  const key = JSON.stringify(first)
  return rest.every((marker) => JSON.stringify(marker) === key) ? first : undefined
}

function toMarker(json: string): ChildMarker | undefined {
  let value: unknown
  try {
    value = JSON.parse(json)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const v = value as Record<string, unknown>
  const strings = ['environment', 'stage', 'branch', 'drySha', 'headSha'] as const
  if (v.version !== 1 || !Number.isSafeInteger(v.parent) || (v.parent as number) < 1)
    return undefined
  if (!strings.every((key) => typeof v[key] === 'string')) return undefined
  const guard = toGuard(v.guard)
  if (guard === null) return undefined
  const optional = ['wetSha', 'dryBase', 'baseMovedTo'] as const
  if (optional.some((key) => v[key] !== undefined && typeof v[key] !== 'string')) return undefined
  const environments = v.environments
  if (
    environments !== undefined &&
    !(
      Array.isArray(environments) &&
      environments.every((name) => typeof name === 'string' && isValidRefPart(name))
    )
  )
    return undefined
  const folders = toFolders(v.folders, environments)
  if (folders === null) return undefined
  return {
    version: 1,
    parent: v.parent as number,
    environment: v.environment as string,
    stage: v.stage as string,
    branch: v.branch as string,
    drySha: v.drySha as string,
    headSha: v.headSha as string,
    ...(typeof v.wetSha === 'string' ? { wetSha: v.wetSha } : {}),
    ...(typeof v.dryBase === 'string' ? { dryBase: v.dryBase } : {}),
    ...(typeof v.baseMovedTo === 'string' ? { baseMovedTo: v.baseMovedTo } : {}),
    ...(guard ? { guard } : {}),
    ...(environments !== undefined ? { environments: environments as string[] } : {}),
    ...(folders ? { folders } : {}),
  }
}

/** The marker's folders: undefined when absent, null when malformed (a folder for no environment, an unsafe path). */
function toFolders(
  value: unknown,
  environments: unknown,
): Record<string, string> | null | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || !Array.isArray(environments)) return null
  const entries = Object.entries(value as Record<string, unknown>)
  const ok = entries.every(
    ([name, folder]) =>
      environments.includes(name) &&
      typeof folder === 'string' &&
      invalidFolderReason(folder) === undefined,
  )
  return ok ? Object.fromEntries(entries as [string, string][]) : null
}

/** The marker's guard verdict: undefined when absent, null when malformed. */
function toGuard(value: unknown): ChildMarker['guard'] | null {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null) return null
  const { reason, deleted } = value as Record<string, unknown>
  if (typeof reason !== 'string' || !Number.isSafeInteger(deleted)) return null
  return { reason, deleted: deleted as number }
}

/** The fields of a pull request this module looks at (a subset of GitHub's pull object). */
export interface PullLike {
  number: number
  body?: string | null
  head: { ref: string; repo: { full_name: string } | null }
  base: { ref: string }
}

export interface ChildPull {
  environment: string
  parent: number
  /** Present only when the body's marker agrees with the branch and base. */
  marker?: ChildMarker
}

/**
 * Recognizes a child PR of `repo`: its head branch must be a child branch in
 * the same repository (forks cannot create it). The marker is kept only when
 * it names the same parent, environment and base branch.
 */
export function identifyChild(pull: PullLike, repo: string): ChildPull | undefined {
  if (pull.head.repo?.full_name.toLowerCase() !== repo.toLowerCase()) return undefined
  const parsed = parseChildBranch(pull.head.ref)
  if (!parsed) return undefined
  const marker = parseMarker(pull.body)
  const agrees =
    marker !== undefined &&
    marker.parent === parsed.parent &&
    marker.environment === parsed.environment &&
    marker.branch === pull.base.ref
  return { ...parsed, ...(agrees ? { marker } : {}) }
}

/** GitHub limits titles to 256 characters. */
export function childTitle(parent: number, environment: string, parentTitle: string): string {
  const head = `[${environment}] `
  const tail = ` (#${parent})`
  const room = 256 - head.length - tail.length
  const title = parentTitle.trim().replace(/\s+/g, ' ')
  const fitted = title.length > room ? `${title.slice(0, Math.max(0, room - 1))}…` : title
  return `${head}${fitted}${tail}`
}
