// Writes one rendered environment as a commit on top of its WET branch tip,
// with git plumbing and a private index: the work tree and the workspace's
// index are never touched. The commit is deterministic (identity and dates
// come from the DRY commit), so a re-run yields the same SHA and pushes nothing.

import { lstat, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { isAbsolute, join, posix, resolve, sep } from 'node:path'
import { UserError } from '../errors.js'
import { Git } from './git.js'
import type { EnvironmentHydration } from '../hydration-types.js'
import { METADATA_FILE } from '../render/output.js'

/**
 * The list of files the suite wrote on a WET branch, one path per line. A
 * later render removes the listed files it no longer produces and leaves
 * every other file (e.g. `.github/`) alone. No `.yaml`/`.json` suffix, so
 * Argo CD never tries to apply it.
 */
export const MANAGED_LIST = '.fleet-promote/managed-files'

/** Committer of every WET commit. */
export const BOT_IDENTITY = {
  name: 'github-actions[bot]',
  email: '41898282+github-actions[bot]@users.noreply.github.com',
}

export interface DryCommit {
  sha: string
  authorName: string
  authorEmail: string
  /** ISO 8601 with offset. */
  authorDate: string
  committerDate: string
  parents: string[]
}

/** The DRY commit's identity and parents, or undefined when it is not in the repository. */
export async function readDryCommit(git: Git, sha: string): Promise<DryCommit | undefined> {
  const result = await git.raw([
    'show',
    '-s',
    '--format=%H%x00%an%x00%ae%x00%aI%x00%cI',
    '--end-of-options',
    `${sha}^{commit}`,
  ])
  if (result.code !== 0) return undefined
  const [full, authorName, authorEmail, authorDate, committerDate] = result.stdout
    .trim()
    .split('\0')
  if (!full || authorName === undefined || !authorDate || !committerDate) return undefined
  // Parents from the raw object: in a shallow clone `%P` hides them at the boundary.
  const raw = await git.run(['cat-file', 'commit', full])
  const header = raw.slice(0, raw.indexOf('\n\n'))
  const parents = [...header.matchAll(/^parent ([0-9a-f]{40})$/gm)].map((m) => m[1] as string)
  return {
    sha: full,
    authorName,
    authorEmail: authorEmail ?? '',
    authorDate,
    committerDate,
    parents,
  }
}

export interface WetCommitInput {
  environment: EnvironmentHydration
  /** The directory holding hydration.json; `environment.outputDir` is relative to it. */
  renderedDir: string
  /** The parent pull request; absent for a render pushed straight to the WET branch (drift repair). */
  parent?: number
  dry: DryCommit
}

/** Several environments of one shared WET branch, each into its folder, as one commit. */
export interface BranchCommitInput extends Omit<WetCommitInput, 'environment'> {
  environments: readonly EnvironmentHydration[]
}

export interface BranchCommit {
  /** The environments the commit holds, in the order given. */
  environments: string[]
  /** The WET branch (without refs/heads/). */
  branch: string
  /** The WET tip the commit builds on ('' when the branch does not exist yet). */
  baseSha: string
  /** When the WET branch does not exist: the empty root commit that creates it. */
  rootSha?: string
  /** The commit for the child branch. */
  sha: string
  /** False when the render equals the WET tip (no child branch needed). */
  changed: boolean
}

export interface WetCommit extends Omit<BranchCommit, 'environments'> {
  environment: string
}

/** Who writes WET commits, dated by the DRY commit so the same render yields the same SHA. */
export function wetCommitIdentity(dry: DryCommit): Record<string, string> {
  return {
    GIT_AUTHOR_NAME: dry.authorName,
    GIT_AUTHOR_EMAIL: dry.authorEmail,
    GIT_AUTHOR_DATE: dry.authorDate,
    GIT_COMMITTER_NAME: BOT_IDENTITY.name,
    GIT_COMMITTER_EMAIL: BOT_IDENTITY.email,
    GIT_COMMITTER_DATE: dry.committerDate,
  }
}

/** Builds (but does not push) the child commit of one environment. */
export async function buildWetCommit(git: Git, input: WetCommitInput): Promise<WetCommit> {
  const { environments, ...commit } = await buildBranchCommit(git, {
    ...input,
    environments: [input.environment],
  })
  return { environment: environments[0] ?? input.environment.name, ...commit }
}

/**
 * One environment's files in place of what it wrote before: at the branch
 * root (`prefix` '') or below its folder on a shared branch.
 */
interface Placement {
  env: EnvironmentHydration
  sourceDir: string
  files: string[]
  prefix: string
}

/**
 * Builds (but does not push) one commit on a WET branch holding the renders
 * of `environments`, each in its folder; the other folders of a shared
 * branch, and files the suite does not manage, stay as they are.
 */
export async function buildBranchCommit(git: Git, input: BranchCommitInput): Promise<BranchCommit> {
  const placements = planPlacements(input)
  const env = (placements[0] as Placement).env
  const scratch = await mkdtemp(join(tmpdir(), 'fleet-promote-index-'))
  const plumbing = new Git(git.dir, {
    env: { ...wetCommitIdentity(input.dry), GIT_INDEX_FILE: join(scratch, 'index') },
  })
  const shape = { environments: placements.map((p) => p.env.name), branch: env.branch }
  try {
    const { base, rootSha } = await wetBase(git, plumbing, env)
    const tree = await writeWetTree(git, plumbing, base, placements, scratch)
    const baseTree = (await plumbing.run(['rev-parse', '--verify', `${base}^{tree}`])).trim()
    if (tree === baseTree && !rootSha) {
      return { ...shape, baseSha: env.baseSha, sha: base, changed: false }
    }
    const message = commitMessage({ ...input, environments: placements.map((p) => p.env) })
    const sha = (await plumbing.run(['commit-tree', tree, '-p', base, '-m', message], '')).trim()
    return { ...shape, baseSha: env.baseSha, ...(rootSha ? { rootSha } : {}), sha, changed: true }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

/** Where each environment's files go; every environment must be of the same branch and tip. */
function planPlacements(input: BranchCommitInput): Placement[] {
  const [first] = input.environments
  if (!first) throw new UserError('a WET commit needs at least one environment')
  const folders = new Set<string>()
  return input.environments.map((env) => {
    if (env.branch !== first.branch || env.baseSha !== first.baseSha) {
      throw new UserError(
        `hydration.json: ${env.name} (${env.branch} at ${env.baseSha || 'none'}) and ${first.name} (${first.branch} at ${first.baseSha || 'none'}) cannot share one WET commit`,
      )
    }
    const folder = env.folder
    if (input.environments.length > 1 && folder === undefined) {
      throw new UserError(
        `hydration.json: environment ${env.name} shares the WET branch ${env.branch} but has no folder on it`,
      )
    }
    if (folder !== undefined && (!isSafeRelativePath(folder) || folders.has(folder))) {
      throw new UserError(
        `hydration.json: environment ${env.name} has an unsafe or repeated folder "${folder}"`,
      )
    }
    if (folder !== undefined) folders.add(folder)
    return {
      env,
      files: validateFiles(env),
      sourceDir: resolveInside(input.renderedDir, env.outputDir, `outputDir of ${env.name}`),
      prefix: folder === undefined ? '' : `${folder}/`,
    }
  })
}

/** The commit the child commit goes on: the WET tip, or a new branch's empty root commit. */
async function wetBase(
  git: Git,
  plumbing: Git,
  env: EnvironmentHydration,
): Promise<{ base: string; rootSha?: string }> {
  if (env.baseSha === '') {
    // A new WET branch starts with an empty root commit, so the child PR shows the whole render.
    const emptyTree = (await plumbing.run(['mktree'], '')).trim()
    const rootSha = (
      await plumbing.run(
        ['commit-tree', emptyTree, '-m', `fleet-promote: create WET branch ${env.branch}`],
        '',
      )
    ).trim()
    return { base: rootSha, rootSha }
  }
  if (!(await git.tryRevParse(env.baseSha))) {
    throw new UserError(
      `WET branch ${env.branch} tip ${env.baseSha} (from hydration.json) is not in the repository; fetch it first`,
    )
  }
  return { base: env.baseSha }
}

/**
 * The tree of `base` with each placement's rendered files in place of the
 * ones the suite wrote there before (its managed list says which), in the
 * scratch index of `plumbing`. On a shared branch the root also gets the
 * render's `hydrator.metadata` (the source hydrator's layout: one at the
 * root for the newest render, one in each folder). A few git processes for
 * all placements, not a few each: a shared branch holds hundreds of folders.
 */
async function writeWetTree(
  git: Git,
  plumbing: Git,
  base: string,
  placements: readonly Placement[],
  scratch: string,
): Promise<string> {
  await plumbing.run(['read-tree', '--end-of-options', `${base}^{tree}`])
  const previous = await managedFiles(
    git,
    base,
    placements.map((p) => p.prefix),
  )
  const zero = '0'.repeat(40)
  const entries: string[] = []
  // Every rendered file and every new managed list, hashed by one process in this order.
  const paths: string[] = []
  const targets: string[] = []
  for (const [index, { sourceDir, files, prefix }] of placements.entries()) {
    const keep = new Set(files)
    const stale = (previous[index] ?? []).filter((path) => !keep.has(path))
    entries.push(...stale.map((path) => `0 ${zero}\t${prefix}${path}`))
    const realSource = await realpath(sourceDir)
    for (const path of files) {
      const file = join(sourceDir, ...path.split('/'))
      await assertRegularFile(realSource, file, path)
      paths.push(file)
      targets.push(`${prefix}${path}`)
    }
    const listing = join(scratch, `managed-${index}`)
    await writeFile(listing, `${[...files].sort().join('\n')}\n`)
    paths.push(listing)
    targets.push(`${prefix}${MANAGED_LIST}`)
  }
  const shared = placements.find((p) => p.prefix !== '' && p.files.includes(METADATA_FILE))
  if (shared) {
    paths.push(join(shared.sourceDir, METADATA_FILE))
    targets.push(METADATA_FILE)
  }
  const blobs = (
    await plumbing.run(
      ['hash-object', '-w', '--no-filters', '--stdin-paths'],
      `${paths.join('\n')}\n`,
    )
  )
    .trim()
    .split('\n')
  entries.push(...targets.map((target, i) => `100644 ${blobs[i] ?? ''}\t${target}`))
  await plumbing.run(['update-index', '--index-info'], `${entries.join('\n')}\n`)
  return (await plumbing.run(['write-tree'])).trim()
}

export function commitMessage(
  input: Omit<BranchCommitInput, 'renderedDir'> | Omit<WetCommitInput, 'renderedDir'>,
): string {
  const environments = 'environments' in input ? input.environments : [input.environment]
  const [first] = environments as [EnvironmentHydration]
  const what =
    environments.length === 1
      ? first.name
      : `${environments.length} environments of ${first.branch}`
  const parent = input.parent === undefined ? '' : ` for #${input.parent}`
  return [
    `fleet-promote: render ${what}${parent}`,
    '',
    ...environments.flatMap((env) => [
      `Rendered ${env.name} (stage ${env.stage}${env.folder === undefined ? '' : `, folder ${env.folder}`}) from DRY commit ${input.dry.sha}:`,
      `${env.resources.before} → ${env.resources.after} objects, +${env.diff.added} ~${env.diff.changed} -${env.diff.deleted}.`,
    ]),
    '',
    ...(input.parent === undefined ? [] : [`Fleet-Promote-Parent: #${input.parent}`]),
    `Fleet-Promote-Dry-Sha: ${input.dry.sha}`,
    ...environments.map((env) => `Fleet-Promote-Environment: ${env.name}`),
    '',
  ].join('\n')
}

/**
 * The files an earlier render wrote in each place of the WET branch, relative
 * to it (empty where it has no list), read by two git processes for all.
 */
async function managedFiles(
  git: Git,
  rev: string,
  prefixes: readonly string[],
): Promise<string[][]> {
  const ids = await git.blobIds(prefixes.map((prefix) => `${rev}:${prefix}${MANAGED_LIST}`))
  const texts = await git.readBlobs(ids.filter((id): id is string => id !== undefined))
  return ids.map((id) =>
    (id === undefined ? '' : (texts.get(id) ?? ''))
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && isSafeRelativePath(line) && line !== MANAGED_LIST),
  )
}

function validateFiles(env: EnvironmentHydration): string[] {
  const seen = new Set<string>()
  for (const path of env.files) {
    if (!isSafeRelativePath(path) || path === MANAGED_LIST) {
      throw new UserError(
        `hydration.json: environment ${env.name} lists an unsafe file path "${path}"`,
      )
    }
    if (seen.has(path)) {
      throw new UserError(`hydration.json: environment ${env.name} lists "${path}" twice`)
    }
    seen.add(path)
  }
  return [...seen]
}

/** A normalized, relative, forward-slash path with no `..`, `.git` or empty parts. */
export function isSafeRelativePath(path: string): boolean {
  if (path === '' || path.includes('\\') || path.includes('\0') || path.includes('\n')) return false
  if (posix.isAbsolute(path) || posix.normalize(path) !== path) return false
  return path
    .split('/')
    .every((part) => part !== '' && part !== '.' && part !== '..' && part.toLowerCase() !== '.git')
}

function resolveInside(root: string, relative: string, what: string): string {
  const rootAbs = resolve(root)
  const full = resolve(rootAbs, relative)
  if (isAbsolute(relative) || (full !== rootAbs && !full.startsWith(rootAbs + sep))) {
    throw new UserError(`hydration.json: ${what} "${relative}" leaves the rendered directory`)
  }
  return full
}

/** The file must be a regular file whose real path stays inside the rendered tree. */
async function assertRegularFile(realRoot: string, file: string, path: string): Promise<void> {
  let stats
  let real
  try {
    stats = await lstat(file)
    real = await realpath(file)
  } catch {
    throw new UserError(`rendered file ${path} is listed in hydration.json but missing`)
  }
  if (!stats.isFile() || !real.startsWith(realRoot + sep)) {
    throw new UserError(
      `rendered file ${path} is not a regular file inside the rendered tree (symlinks are refused)`,
    )
  }
}
