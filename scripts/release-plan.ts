// What a release tags and publishes, decided from plain facts before any of it
// happens: package.json's version as vX.Y.Z, the moving major tag vX on the
// same commit, and the release notes from that version's CHANGELOG.md section.
// `npm run release -- --dry-run` prints the plan; without --dry-run it pushes
// both tags in one atomic push, leased so that a tag someone else moved is
// never overwritten (.github/workflows/release.yml then publishes the notes).
import { readFile, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import semver from 'semver'
import { Git } from '../actions/lib/git/git.js'
import { staleReason } from './dist-inputs.mjs'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

export interface ReleaseFacts {
  /** package.json's and package-lock.json's `version`. */
  version: string
  lockVersion: string | undefined
  changelog: string | undefined
  /** The commit to release. */
  head: string
  /** Uncommitted changes (`git status --porcelain`), one per line. */
  dirty: string[]
  /** Why dist/ is not the bundle of these sources, or undefined. */
  distStale: string | undefined
  /** Published tags, `v…` → commit. */
  tags: ReadonlyMap<string, string>
  /** Why the remote's tags could not be read (then `tags` are the local ones). */
  remoteError: string | undefined
}

export interface TagMove {
  tag: string
  /** The commit the tag names now; '' when it does not exist. */
  from: string
}

export interface ReleasePlan {
  tag: string
  major: string
  head: string
  /** The tags to push (none when this commit is already released as both). */
  moves: TagMove[]
  notes: string
  /** Why this cannot be released; empty when it can. */
  problems: string[]
  /** What a dry run could not check. */
  warnings: string[]
}

/** The `## [x.y.z]` (or `## x.y.z`) section of a Keep a Changelog file, without its heading. */
export function changelogSection(changelog: string, version: string): string | undefined {
  const lines = changelog.split('\n')
  const heading = (line: string) => /^## /.test(line)
  const start = lines.findIndex(
    (line) => heading(line) && line.replace(/^##\s+\[?v?([^\]\s]+).*$/, '$1') === version,
  )
  if (start < 0) return undefined
  const end = lines.findIndex((line, index) => index > start && heading(line))
  return lines
    .slice(start + 1, end < 0 ? undefined : end)
    .join('\n')
    .replace(/\n\[[^\]]+\]: \S+/g, '')
    .trim()
}

export function planRelease(facts: ReleaseFacts, dryRun: boolean): ReleasePlan {
  const problems: string[] = []
  const warnings: string[] = []
  if (facts.remoteError !== undefined) {
    const unread = `cannot read the published tags (${facts.remoteError})`
    if (dryRun) warnings.push(`${unread}: compared with the local tags only`)
    else problems.push(unread)
  }
  const valid = semver.valid(facts.version) !== null && semver.prerelease(facts.version) === null
  if (!valid) problems.push(`package.json: "version" ${facts.version} is not x.y.z`)
  const tag = `v${facts.version}`
  const major = `v${valid ? semver.major(facts.version) : '?'}`
  if (facts.lockVersion !== facts.version) {
    problems.push(
      `package-lock.json: "version" ${facts.lockVersion} is not package.json's ${facts.version} (run npm install)`,
    )
  }
  const notes =
    facts.changelog === undefined ? undefined : changelogSection(facts.changelog, facts.version)
  if (facts.changelog === undefined) problems.push('CHANGELOG.md is missing')
  else if (!notes)
    problems.push(`CHANGELOG.md: no "## [${facts.version}]" section with release notes`)
  if (facts.distStale) problems.push(facts.distStale)
  if (facts.dirty.length > 0) {
    problems.push(
      `uncommitted changes: ${facts.dirty.slice(0, 5).join(', ')}${facts.dirty.length > 5 ? ', …' : ''}`,
    )
  }

  const released = facts.tags.get(tag)
  if (released !== undefined && released !== facts.head) {
    problems.push(
      `${tag} is already released at ${released}, not ${facts.head}: bump package.json's version`,
    )
  }
  const newest = [...facts.tags.keys()]
    .filter((name) => semver.valid(name) !== null && name !== tag && name.startsWith('v'))
    .sort(semver.rcompare)[0]
  if (valid && newest !== undefined && semver.lte(facts.version, newest)) {
    problems.push(`${tag} is not newer than the released ${newest}`)
  }

  const moves = [tag, major]
    .map((name) => ({ tag: name, from: facts.tags.get(name) ?? '' }))
    .filter((move) => move.from !== facts.head)
  return { tag, major, head: facts.head, moves, notes: notes ?? '', problems, warnings }
}

export function describePlan(plan: ReleasePlan, dryRun: boolean): string {
  const move = (name: string) => {
    const found = plan.moves.find((candidate) => candidate.tag === name)
    if (!found) return `${name} already at ${plan.head}`
    return `${name} -> ${plan.head} (${found.from ? `moved from ${found.from}` : 'new'})`
  }
  return [
    `fleet-promote release ${plan.tag}${dryRun ? ' (dry run: nothing is tagged or pushed)' : ''}`,
    `  commit  ${plan.head}`,
    `  tag     ${move(plan.tag)}`,
    `  tag     ${move(plan.major)}`,
    ...plan.warnings.map((warning) => `  warning ${warning}`),
    ...plan.problems.map((problem) => `  error   ${problem}`),
    '',
    `Release notes (CHANGELOG.md):`,
    plan.notes || '(none)',
    '',
  ].join('\n')
}

async function readOptional(file: string): Promise<string | undefined> {
  return readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined
    throw error
  })
}

/** Tags of the remote (what is published) over the local ones. */
async function publishedTags(
  git: Git,
  remote: string,
): Promise<{ tags: Map<string, string>; remoteError: string | undefined }> {
  const tags = new Map<string, string>()
  const local = await git.run([
    'tag',
    '--list',
    'v*',
    '--format=%(refname:strip=2) %(objectname) %(*objectname)',
  ])
  for (const line of local.split('\n')) {
    const [name, object, peeled] = line.split(' ')
    if (name && object) tags.set(name, peeled || object)
  }
  const listed = await git.raw(['ls-remote', '--tags', '--', remote, 'refs/tags/v*'])
  if (listed.code !== 0) {
    const reason = listed.stderr.trim().split('\n')[0] ?? `git ls-remote exit ${listed.code}`
    return { tags, remoteError: `${remote}: ${reason}` }
  }
  const remoteRefs = new Map(
    listed.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split('\t').reverse() as [string, string]),
  )
  for (const [ref, sha] of remoteRefs) {
    const name = ref.replace(/^refs\/tags\//, '').replace(/\^\{\}$/, '')
    // An annotated tag is listed twice; the peeled `^{}` line names the commit.
    if (ref.endsWith('^{}') || !remoteRefs.has(`${ref}^{}`)) tags.set(name, sha)
  }
  return { tags, remoteError: undefined }
}

export async function gatherFacts(root: string, git: Git, remote: string): Promise<ReleaseFacts> {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version?: string }
  const lock = JSON.parse((await readOptional(join(root, 'package-lock.json'))) ?? '{}') as {
    version?: string
  }
  return {
    version: pkg.version ?? '',
    lockVersion: lock.version,
    changelog: await readOptional(join(root, 'CHANGELOG.md')),
    head: await git.revParse('HEAD'),
    dirty: (await git.run(['status', '--porcelain']))
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean),
    distStale: staleReason(root),
    ...(await publishedTags(git, remote)),
  }
}

const USAGE = `Usage: npm run release -- [--dry-run] [--root DIR] [--remote NAME|URL] [--notes-file FILE]
  --dry-run     print the tags and release notes, push nothing
  --remote      where the tags are read and pushed (default: origin); GITHUB_TOKEN authenticates
  --notes-file  write the release notes there (for gh release create --notes-file)
`

export async function main(args: string[]): Promise<number> {
  const option = (name: string) => {
    const index = args.indexOf(`--${name}`)
    return index >= 0 ? args[index + 1] : undefined
  }
  if (args.includes('--help')) {
    process.stdout.write(USAGE)
    return 0
  }
  const dryRun = args.includes('--dry-run')
  const root = resolve(option('root') ?? ROOT)
  const remote = option('remote') ?? 'origin'
  const git = new Git(root, {
    token: process.env.GITHUB_TOKEN,
    serverUrl: process.env.GITHUB_SERVER_URL,
  })
  const plan = planRelease(await gatherFacts(root, git, remote), dryRun)
  process.stdout.write(describePlan(plan, dryRun))
  if (plan.problems.length > 0) return 1
  const notesFile = option('notes-file')
  if (notesFile) await writeFile(notesFile, `${plan.notes}\n`)
  if (dryRun) return 0
  if (plan.moves.length > 0) {
    await git.push(
      remote,
      plan.moves.map((move) => `${plan.head}:refs/tags/${move.tag}`),
      {
        atomic: true,
        leases: plan.moves.map((move) => ({ ref: `refs/tags/${move.tag}`, expect: move.from })),
      },
    )
  }
  process.stdout.write(
    `pushed ${plan.moves.map((move) => move.tag).join(' and ') || 'nothing (already released)'} to ${remote}\n`,
  )
  if (process.env.GITHUB_OUTPUT)
    await writeFile(process.env.GITHUB_OUTPUT, `tag=${plan.tag}\n`, { flag: 'a' })
  return 0
}
