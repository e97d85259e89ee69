// The release: what scripts/release-plan.ts decides from its facts (table), and
// the script against real git repositories (a dry run pushes nothing; a release
// pushes vX.Y.Z and moves vX; a stale or older version is refused), and the
// release workflow that runs it after the CI checks.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { parse } from 'yaml'
import { Git } from '../actions/lib/git/git.js'
import { formatInputsFile, inputsHash } from '../scripts/dist-inputs.mjs'
import { canonicalSuite } from '../scripts/suite-ref.mjs'
import { changelogSection, main, planRelease, type ReleaseFacts } from '../scripts/release-plan.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const A = 'a'.repeat(40)
const B = 'b'.repeat(40)
const CHANGELOG = `# Changelog

## [Unreleased]

## [1.1.0] - 2026-12-04

### Fixed

- the thing

## [1.0.0] - 2026-12-03

First.

[1.1.0]: https://github.com/fleet-promote/fleet-promote/releases/tag/v1.1.0
`

function facts(overrides: Partial<ReleaseFacts> = {}): ReleaseFacts {
  return {
    version: '1.1.0',
    lockVersion: '1.1.0',
    changelog: CHANGELOG,
    head: B,
    dirty: [],
    distStale: undefined,
    tags: new Map([
      ['v1.0.0', A],
      ['v1', A],
    ]),
    remoteError: undefined,
    ...overrides,
  }
}

describe('changelogSection', () => {
  it("is the version's section without its heading or link references", () => {
    expect(changelogSection(CHANGELOG, '1.1.0')).toBe('### Fixed\n\n- the thing')
    expect(changelogSection(CHANGELOG, '1.0.0')).toBe('First.')
    expect(changelogSection(CHANGELOG, '1.2.0')).toBeUndefined()
    expect(changelogSection('## 2.0.0\n\nBare heading.\n', '2.0.0')).toBe('Bare heading.')
  })

  it("finds this repository's own release notes", () => {
    const version = (
      JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
    ).version
    expect(changelogSection(readFileSync(join(root, 'CHANGELOG.md'), 'utf8'), version)).toMatch(
      /\S/,
    )
  })
})

describe('planRelease', () => {
  it('tags vX.Y.Z and moves vX from the previous release', () => {
    expect(planRelease(facts(), false)).toEqual({
      tag: 'v1.1.0',
      major: 'v1',
      head: B,
      moves: [
        { tag: 'v1.1.0', from: '' },
        { tag: 'v1', from: A },
      ],
      notes: '### Fixed\n\n- the thing',
      problems: [],
      warnings: [],
    })
  })

  it('starts a new major tag, and pushes nothing again for a released commit', () => {
    const major = planRelease(
      facts({ version: '2.0.0', lockVersion: '2.0.0', changelog: '## [2.0.0]\n\nBig.\n' }),
      false,
    )
    expect(major.moves).toEqual([
      { tag: 'v2.0.0', from: '' },
      { tag: 'v2', from: '' },
    ])
    const again = planRelease(
      facts({
        tags: new Map([
          ['v1.1.0', B],
          ['v1', B],
          ['v1.0.0', A],
        ]),
      }),
      false,
    )
    expect(again).toMatchObject({ moves: [], problems: [] })
  })

  it.each([
    [
      { version: '1.1', lockVersion: '1.1', changelog: '## [1.1]\n\nx\n' },
      'package.json: "version" 1.1 is not x.y.z',
    ],
    [
      { version: '1.2.0-rc.1', lockVersion: '1.2.0-rc.1', changelog: '## [1.2.0-rc.1]\n\nx\n' },
      'package.json: "version" 1.2.0-rc.1 is not x.y.z',
    ],
    [
      { lockVersion: '1.0.0' },
      'package-lock.json: "version" 1.0.0 is not package.json\'s 1.1.0 (run npm install)',
    ],
    [{ changelog: undefined }, 'CHANGELOG.md is missing'],
    [
      { changelog: '## [1.0.0]\n\nFirst.\n' },
      'CHANGELOG.md: no "## [1.1.0]" section with release notes',
    ],
    [
      { changelog: '## [1.1.0]\n\n## [1.0.0]\n' },
      'CHANGELOG.md: no "## [1.1.0]" section with release notes',
    ],
    [{ distStale: 'dist/ was bundled from other sources' }, 'dist/ was bundled from other sources'],
    [{ dirty: ['M package.json'] }, 'uncommitted changes: M package.json'],
    [
      { tags: new Map([['v1.1.0', A]]) },
      `v1.1.0 is already released at ${A}, not ${B}: bump package.json's version`,
    ],
    [{ tags: new Map([['v1.2.0', A]]) }, 'v1.1.0 is not newer than the released v1.2.0'],
    [{ remoteError: 'origin: not found' }, 'cannot read the published tags (origin: not found)'],
  ] as const)('refuses %j', (overrides, problem) => {
    expect(planRelease(facts(overrides as Partial<ReleaseFacts>), false).problems).toEqual([
      problem,
    ])
  })

  it("moves the tag every uses: line and the README's schema URL name", () => {
    const { version, ref } = canonicalSuite(root)
    expect(planRelease(facts({ version, lockVersion: version }), true).major).toBe(ref)
  })

  it('only warns in a dry run when the published tags cannot be read', () => {
    const plan = planRelease(facts({ remoteError: 'origin: not found' }), true)
    expect(plan.problems).toEqual([])
    expect(plan.warnings).toEqual([
      'cannot read the published tags (origin: not found): compared with the local tags only',
    ])
  })
})

describe('the release script on real repositories', () => {
  const identity = {
    GIT_AUTHOR_NAME: 'fleet-promote test',
    GIT_AUTHOR_EMAIL: 'test@fleet-promote.invalid',
    GIT_COMMITTER_NAME: 'fleet-promote test',
    GIT_COMMITTER_EMAIL: 'test@fleet-promote.invalid',
  }
  let work: string
  let remote: Git
  let repo: Git

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'fleet-promote-release-'))
    remote = await Git.init(join(work, 'remote.git'), { bare: true })
    repo = await Git.init(join(work, 'repo'), { env: identity })
    await mkdir(join(repo.dir, 'actions/x'), { recursive: true })
    await writeFile(join(repo.dir, 'actions/x/index.ts'), 'export {}\n')
    await writeFile(join(repo.dir, 'CHANGELOG.md'), CHANGELOG)
    await bump('1.0.0')
  })

  afterAll(async () => {
    await rm(work, { recursive: true, force: true })
  })

  /** package.json and its lock at `version`, dist/ bundled from these sources, committed. */
  async function bump(version: string) {
    await writeFile(join(repo.dir, 'package.json'), JSON.stringify({ name: 'x', version }))
    await writeFile(join(repo.dir, 'package-lock.json'), JSON.stringify({ name: 'x', version }))
    await mkdir(join(repo.dir, 'dist'), { recursive: true })
    await writeFile(join(repo.dir, 'dist/inputs.sha256'), formatInputsFile(inputsHash(repo.dir)))
    await repo.run(['add', '-A'])
    await repo.run(['commit', '-qm', `version ${version}`])
    return repo.revParse('HEAD')
  }

  async function release(...args: string[]) {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
    try {
      const code = await main([...args, '--root', repo.dir, '--remote', remote.dir])
      return { code, output: write.mock.calls.map(([chunk]) => String(chunk)).join('') }
    } finally {
      write.mockRestore()
    }
  }

  it('a dry run prints both tags and the notes, and pushes nothing', async () => {
    const head = await repo.revParse('HEAD')
    const notesFile = join(work, 'notes.md')
    const { code, output } = await release('--dry-run', '--notes-file', notesFile)
    expect(code).toBe(0)
    expect(output).toContain('fleet-promote release v1.0.0 (dry run: nothing is tagged or pushed)')
    expect(output).toContain(`tag     v1.0.0 -> ${head} (new)`)
    expect(output).toContain(`tag     v1 -> ${head} (new)`)
    expect(output).toContain('Release notes (CHANGELOG.md):\nFirst.\n')
    expect(await readFile(notesFile, 'utf8')).toBe('First.\n')
    expect(await remote.lsRemote(remote.dir, ['refs/tags/*'])).toEqual(new Map())
  })

  it('pushes vX.Y.Z and vX, then moves only vX with the next minor', async () => {
    const first = await repo.revParse('HEAD')
    expect((await release()).code).toBe(0)
    expect(await remote.lsRemote(remote.dir, ['refs/tags/*'])).toEqual(
      new Map([
        ['refs/tags/v1', first],
        ['refs/tags/v1.0.0', first],
      ]),
    )
    // A re-run of the same release (a retried workflow) pushes nothing and succeeds.
    const again = await release()
    expect(again.code).toBe(0)
    expect(again.output).toContain('pushed nothing (already released)')

    const second = await bump('1.1.0')
    const { code, output } = await release()
    expect(code).toBe(0)
    expect(output).toContain(`tag     v1 -> ${second} (moved from ${first})`)
    expect(await remote.lsRemote(remote.dir, ['refs/tags/*'])).toEqual(
      new Map([
        ['refs/tags/v1', second],
        ['refs/tags/v1.0.0', first],
        ['refs/tags/v1.1.0', second],
      ]),
    )
  })

  it('refuses an older version and a stale dist/, pushing nothing', async () => {
    const before = await remote.lsRemote(remote.dir, ['refs/tags/*'])
    await bump('1.0.5')
    const older = await release()
    expect(older.code).toBe(1)
    expect(older.output).toContain('error   v1.0.5 is not newer than the released v1.1.0')

    await writeFile(join(repo.dir, 'actions/x/index.ts'), 'export const changed = 1\n')
    await writeFile(join(repo.dir, 'package.json'), JSON.stringify({ name: 'x', version: '1.2.0' }))
    await writeFile(
      join(repo.dir, 'package-lock.json'),
      JSON.stringify({ name: 'x', version: '1.2.0' }),
    )
    await writeFile(join(repo.dir, 'CHANGELOG.md'), '## [1.2.0]\n\nMore.\n')
    await repo.run(['commit', '-qam', 'sources without a rebundle'])
    const stale = await release()
    expect(stale.code).toBe(1)
    expect(stale.output).toContain('error   dist/ was bundled from other sources than these')
    expect(await remote.lsRemote(remote.dir, ['refs/tags/*'])).toEqual(before)
  })
})

describe('.github/workflows/release.yml', () => {
  interface Step {
    uses?: string
    run?: string
    env?: Record<string, string>
    with?: Record<string, unknown>
  }
  interface Job {
    uses?: string
    needs?: string | string[]
    if?: string
    permissions?: Record<string, string>
    steps?: Step[]
  }
  const load = (file: string) =>
    parse(readFileSync(join(root, '.github/workflows', file), 'utf8')) as {
      on: Record<string, unknown>
      permissions?: Record<string, string>
      jobs: Record<string, Job>
    }
  const workflow = load('release.yml')

  it('releases only after the whole CI run (dist/ byte for byte, tests) passed on main', () => {
    expect(workflow.permissions).toEqual({})
    expect(workflow.jobs.ci?.uses).toBe('./.github/workflows/ci.yml')
    const ci = load('ci.yml')
    expect(ci.on).toHaveProperty('workflow_call')
    const ciRuns = Object.values(ci.jobs).flatMap((job) =>
      (job.steps ?? []).map((step) => step.run),
    )
    expect(ciRuns).toEqual(expect.arrayContaining(['npm test', 'npm run check-dist']))
    const job = workflow.jobs.release as Job
    expect(job.needs).toBe('ci')
    expect(job.if).toContain("github.ref == 'refs/heads/main'")
    expect(job.permissions).toEqual({ contents: 'write' })
  })

  it('checks with a dry run, pushes the tags, then publishes the notes of that tag', () => {
    const runs = (workflow.jobs.release?.steps ?? []).map((step) => step.run ?? '')
    const dry = runs.findIndex((run) => run.includes('npm run release -- --dry-run'))
    const push = runs.findIndex((run) => /npm run release -- --notes-file/.test(run))
    const publish = runs.findIndex((run) => run.includes('gh release create'))
    expect(dry).toBeGreaterThanOrEqual(0)
    expect(push).toBeGreaterThan(dry)
    expect(publish).toBeGreaterThan(push)
    expect(runs[publish]).toMatch(/--notes-file .*--verify-tag/)
  })
})
