// Writes one rendered environment as a commit on top of its WET branch tip,
// with git plumbing and a private index: the work tree and the workspace's
// index are never touched. The commit is deterministic (identity and dates
// come from the DRY commit), so a re-run yields the same SHA and pushes nothing.

import { lstat, mkdtemp, realpath, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { isAbsolute, join, posix, resolve, sep } from 'node:path'
import { UserError } from '../errors.js'
import { Git } from './git.js'
import type { EnvironmentHydration } from '../hydration-types.js'

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

export interface WetCommit {
  environment: string
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
  const env = input.environment
  const files = validateFiles(env)
  const sourceDir = resolveInside(input.renderedDir, env.outputDir, `outputDir of ${env.name}`)
  const scratch = await mkdtemp(join(tmpdir(), 'fleet-promote-index-'))
  const plumbing = new Git(git.dir, {
    env: { ...wetCommitIdentity(input.dry), GIT_INDEX_FILE: join(scratch, 'index') },
  })
  try {
    const { base, rootSha } = await wetBase(git, plumbing, env)
    const tree = await writeWetTree(git, plumbing, base, sourceDir, files)
    const baseTree = (await plumbing.run(['rev-parse', '--verify', `${base}^{tree}`])).trim()
    if (tree === baseTree && !rootSha) {
      return {
        environment: env.name,
        branch: env.branch,
        baseSha: env.baseSha,
        sha: base,
        changed: false,
      }
    }
    const sha = (
      await plumbing.run(['commit-tree', tree, '-p', base, '-m', commitMessage(input)], '')
    ).trim()
    return {
      environment: env.name,
      branch: env.branch,
      baseSha: env.baseSha,
      ...(rootSha ? { rootSha } : {}),
      sha,
      changed: true,
    }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

/** The commit the child commit goes on: the WET tip, or a new branch's empty root commit. */
async function wetBase(
  git: Git,
  plumbing: Git,
  env: WetCommitInput['environment'],
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
 * The tree of `base` with the rendered files in place of the ones the suite
 * wrote before (the managed list says which), in the scratch index of `plumbing`.
 */
async function writeWetTree(
  git: Git,
  plumbing: Git,
  base: string,
  sourceDir: string,
  files: string[],
): Promise<string> {
  await plumbing.run(['read-tree', '--end-of-options', `${base}^{tree}`])
  const previous = await managedFiles(git, base)
  const keep = new Set(files)
  const stale = previous.filter((path) => !keep.has(path))

  const realSource = await realpath(sourceDir)
  for (const path of files) {
    await assertRegularFile(realSource, join(sourceDir, ...path.split('/')), path)
  }
  const listing = `${[...files].sort().join('\n')}\n`
  const blobs = files.length
    ? (
        await plumbing.run(
          ['hash-object', '-w', '--no-filters', '--stdin-paths'],
          files.map((path) => join(sourceDir, ...path.split('/'))).join('\n') + '\n',
        )
      )
        .trim()
        .split('\n')
    : []
  const listBlob = (
    await plumbing.run(['hash-object', '-w', '--no-filters', '--stdin'], listing)
  ).trim()
  const zero = '0'.repeat(40)
  const entries = [
    ...stale.map((path) => `0 ${zero}\t${path}`),
    ...files.map((path, i) => `100644 ${blobs[i] ?? ''}\t${path}`),
    `100644 ${listBlob}\t${MANAGED_LIST}`,
  ]
  await plumbing.run(['update-index', '--index-info'], `${entries.join('\n')}\n`)
  return (await plumbing.run(['write-tree'])).trim()
}

export function commitMessage(input: WetCommitInput): string {
  const env = input.environment
  return [
    `fleet-promote: render ${env.name}${input.parent === undefined ? '' : ` for #${input.parent}`}`,
    '',
    `Rendered ${env.name} (stage ${env.stage}) from DRY commit ${input.dry.sha}:`,
    `${env.resources.before} → ${env.resources.after} objects, +${env.diff.added} ~${env.diff.changed} -${env.diff.deleted}.`,
    '',
    ...(input.parent === undefined ? [] : [`Fleet-Promote-Parent: #${input.parent}`]),
    `Fleet-Promote-Dry-Sha: ${input.dry.sha}`,
    `Fleet-Promote-Environment: ${env.name}`,
    '',
  ].join('\n')
}

/** Files an earlier render wrote on the WET branch (empty when it has no list). */
async function managedFiles(git: Git, rev: string): Promise<string[]> {
  const text = await git.showFile(rev, MANAGED_LIST)
  if (text === undefined) return []
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && isSafeRelativePath(line) && line !== MANAGED_LIST)
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
