import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Git } from '../actions/lib/git/git.js'
import {
  BOT_IDENTITY,
  MANAGED_LIST,
  buildWetCommit,
  isSafeRelativePath,
  readDryCommit,
  type DryCommit,
} from '../actions/lib/git/wet-commit.js'
import { writeHydration } from './fixtures/child-prs/hydration.js'
import { commitTree, DEV_IDENTITY } from './support/dev-identity.js'

const identity = DEV_IDENTITY

let dir: string
let git: Git
let dry: DryCommit
let wetTip: string

async function commitFiles(branch: string, files: Record<string, string>, orphan = false) {
  if (orphan) await git.run(['checkout', '-q', '--orphan', branch])
  if (orphan) await git.run(['rm', '-rfq', '--ignore-unmatch', '.'])
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, 'repo', path, '..'), { recursive: true })
    await writeFile(join(dir, 'repo', path), content)
  }
  await git.run(['add', '-A'])
  await git.run(['commit', '-qm', `commit on ${branch}`])
  return git.revParse('HEAD')
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wet-test-'))
  git = await Git.init(join(dir, 'repo'), { env: identity })
  const drySha = await commitFiles('main', { 'clusters/a/kustomization.yaml': 'resources: []\n' })
  dry = (await readDryCommit(git, drySha))!
  wetTip = await commitFiles(
    'env/a',
    {
      'manifest.yaml': 'old: 1\n',
      'stale.yaml': 'gone: 1\n',
      '.github/CODEOWNERS': '* @team\n',
      [MANAGED_LIST]: 'manifest.yaml\nstale.yaml\n',
    },
    true,
  )
  await git.run(['checkout', '-q', 'main'])
})

afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

const tree = (sha: string) => commitTree(git, sha)

describe('readDryCommit', () => {
  it('reads identity, dates and parents', () => {
    expect(dry.authorName).toBe('Dev')
    expect(dry.authorDate).toBe('2026-01-02T03:04:05+01:00')
    expect(dry.parents).toEqual([])
  })
  it('sees the parents of a merge commit even in a shallow clone', async () => {
    await git.run(['checkout', '-qb', 'topic'])
    await commitFiles('topic', { 'b.txt': 'b\n' })
    await git.run(['checkout', '-q', 'main'])
    await git.run(['merge', '-q', '--no-ff', '-m', 'merge', 'topic'])
    const merge = await git.revParse('HEAD')
    const shallow = await Git.clone(`file://${join(dir, 'repo')}`, join(dir, 'shallow'), {
      depth: 1,
      env: identity,
    })
    expect(await shallow.isShallow()).toBe(true)
    const commit = await readDryCommit(shallow, merge)
    expect(commit?.parents).toHaveLength(2)
    expect(commit?.parents[0]).toBe(dry.sha)
  })

  it('is undefined for a missing commit', async () => {
    expect(await readDryCommit(git, 'f'.repeat(40))).toBeUndefined()
  })
})

describe('buildWetCommit', () => {
  it('writes the render on the WET tip, keeps unmanaged files, prunes stale managed ones', async () => {
    const rendered = join(dir, 'rendered')
    const result = await writeHydration(rendered, dry.sha, [
      { name: 'a', baseSha: wetTip, files: { 'manifest.yaml': 'new: 2\n', 'README.md': 'how\n' } },
    ])
    const commit = await buildWetCommit(git, {
      environment: result.environments[0]!,
      renderedDir: rendered,
      parent: 7,
      dry,
    })
    expect(commit.changed).toBe(true)
    expect(commit.rootSha).toBeUndefined()
    expect(await tree(commit.sha)).toEqual({
      '.github/CODEOWNERS': '* @team\n',
      'README.md': 'how\n',
      'manifest.yaml': 'new: 2\n',
      [MANAGED_LIST]: 'README.md\nmanifest.yaml\n',
    })
    expect((await git.run(['rev-parse', `${commit.sha}^`])).trim()).toBe(wetTip)
    const message = await git.run(['log', '-1', '--format=%B', commit.sha])
    expect(message).toContain('Fleet-Promote-Parent: #7')
    expect(message).toContain(`Fleet-Promote-Dry-Sha: ${dry.sha}`)
    const trailers = await git.run([
      'log',
      '-1',
      '--format=%(trailers:key=Fleet-Promote-Parent,valueonly)',
      commit.sha,
    ])
    expect(trailers.trim()).toBe('#7')
    const who = await git.run(['log', '-1', '--format=%an|%aI|%cn|%ce|%cI', commit.sha])
    expect(who.trim()).toBe(
      `Dev|2026-01-02T03:04:05+01:00|${BOT_IDENTITY.name}|${BOT_IDENTITY.email}|2026-01-02T03:04:06+01:00`,
    )
    // The workspace is untouched.
    expect((await git.run(['status', '--porcelain'])).trim()).toBe('')
    expect(await git.revParse('HEAD')).toBe(dry.sha)
  })

  it('is deterministic: the same inputs give the same SHA', async () => {
    const rendered = join(dir, 'rendered')
    const result = await writeHydration(rendered, dry.sha, [
      { name: 'a', baseSha: wetTip, files: { 'manifest.yaml': 'new: 2\n' } },
    ])
    const input = { environment: result.environments[0]!, renderedDir: rendered, parent: 7, dry }
    const first = await buildWetCommit(git, input)
    await new Promise((r) => setTimeout(r, 1100))
    const second = await buildWetCommit(git, input)
    expect(second.sha).toBe(first.sha)
  })

  it('reports no change when the render equals the WET tip', async () => {
    const rendered = join(dir, 'rendered')
    const result = await writeHydration(rendered, dry.sha, [
      {
        name: 'a',
        baseSha: wetTip,
        files: { 'manifest.yaml': 'old: 1\n', 'stale.yaml': 'gone: 1\n' },
      },
    ])
    const commit = await buildWetCommit(git, {
      environment: result.environments[0]!,
      renderedDir: rendered,
      parent: 7,
      dry,
    })
    expect(commit).toMatchObject({ changed: false, sha: wetTip })
  })

  it('starts a missing WET branch with an empty root commit', async () => {
    const rendered = join(dir, 'rendered')
    const result = await writeHydration(rendered, dry.sha, [
      { name: 'b', baseSha: '', files: { 'manifest.yaml': 'b: 1\n' } },
    ])
    const commit = await buildWetCommit(git, {
      environment: result.environments[0]!,
      renderedDir: rendered,
      parent: 7,
      dry,
    })
    expect(commit.changed).toBe(true)
    expect(commit.baseSha).toBe('')
    expect(commit.rootSha).toMatch(/^[0-9a-f]{40}$/)
    expect(await git.listFiles(commit.rootSha!)).toEqual([])
    expect((await git.run(['rev-list', '--parents', '-n1', commit.rootSha!])).trim()).toBe(
      commit.rootSha,
    )
    expect((await git.run(['rev-parse', `${commit.sha}^`])).trim()).toBe(commit.rootSha)
    expect(await tree(commit.sha)).toEqual({
      'manifest.yaml': 'b: 1\n',
      [MANAGED_LIST]: 'manifest.yaml\n',
    })
  })

  it('refuses unsafe paths, symlinks, missing files and unknown base SHAs', async () => {
    const rendered = join(dir, 'rendered')
    const result = await writeHydration(rendered, dry.sha, [
      { name: 'a', baseSha: wetTip, files: { 'manifest.yaml': 'x\n' } },
    ])
    const env = result.environments[0]!
    const build = (patch: Partial<typeof env>) =>
      buildWetCommit(git, {
        environment: { ...env, ...patch },
        renderedDir: rendered,
        parent: 1,
        dry,
      })
    await expect(build({ files: ['../escape.yaml'] })).rejects.toThrow(/unsafe file path/)
    await expect(build({ files: ['.git/config'] })).rejects.toThrow(/unsafe file path/)
    await expect(build({ files: [MANAGED_LIST] })).rejects.toThrow(/unsafe file path/)
    await expect(build({ outputDir: '../..' })).rejects.toThrow(/leaves the rendered directory/)
    await expect(build({ files: ['missing.yaml'] })).rejects.toThrow(/missing/)
    await expect(build({ baseSha: 'e'.repeat(40) })).rejects.toThrow(/not in the repository/)
    await writeFile(join(dir, 'secret'), 'token\n')
    await symlink(join(dir, 'secret'), join(rendered, env.outputDir, 'link.yaml'))
    await expect(build({ files: ['link.yaml'] })).rejects.toThrow(/symlinks are refused/)
  })
})

describe('isSafeRelativePath', () => {
  it.each([
    ['manifest.yaml', true],
    ['a/b/c.yaml', true],
    ['/abs', false],
    ['a/../b', false],
    ['./a', false],
    ['a//b', false],
    ['a\\b', false],
    ['A/.GIT/x', false],
    ['', false],
  ])('%s → %s', (path, ok) => {
    expect(isSafeRelativePath(path)).toBe(ok)
  })
})
