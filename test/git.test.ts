import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Git, PushRejectedError } from '../actions/lib/git/git.js'
import { startGitHubSimulator, type GitHubSimulator } from './support/github/index.js'

const identity = {
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.invalid',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.invalid',
}

let sim: GitHubSimulator
let work: string
const REPO = 'acme/git-wrapper'

async function commitAll(git: Git, message: string): Promise<string> {
  await git.run(['add', '-A'])
  await git.run(['commit', '-q', '-m', message])
  return git.revParse('HEAD')
}

beforeAll(async () => {
  sim = await startGitHubSimulator()
  await sim.createRepo(REPO)
  work = await mkdtemp(join(tmpdir(), 'fleet-git-'))
})

afterAll(async () => {
  await sim.stop()
  await rm(work, { recursive: true, force: true })
})

describe('Git', () => {
  it('lists changed files from the merge base, with renames and deletions', async () => {
    const git = await Git.init(join(work, 'changes'), { env: identity })
    await mkdir(join(git.dir, 'components/a'), { recursive: true })
    await writeFile(join(git.dir, 'components/a/values.yaml'), 'replicas: 1\nimage: nginx:1.27\n')
    await writeFile(join(git.dir, 'old.txt'), 'gone soon\n')
    await writeFile(join(git.dir, 'keep.txt'), 'kept\n')
    const base = await commitAll(git, 'base')
    await git.run(['mv', 'components/a/values.yaml', 'components/a/renamed.yaml'])
    await git.run(['rm', '-q', 'old.txt'])
    await writeFile(join(git.dir, 'new file.txt'), 'added\n')
    const head = await commitAll(git, 'head')

    const changed = await git.changedFiles(base, head)
    expect(changed).toEqual(
      expect.arrayContaining([
        { status: 'R', path: 'components/a/renamed.yaml', oldPath: 'components/a/values.yaml' },
        { status: 'D', path: 'old.txt' },
        { status: 'A', path: 'new file.txt' },
      ]),
    )
    expect(changed).toHaveLength(3)
    expect(await git.showFile(base, 'old.txt')).toBe('gone soon\n')
    expect(await git.showFile(head, 'old.txt')).toBeUndefined()
    expect(await git.tryRevParse('no-such-branch')).toBeUndefined()
  })

  it('pushes atomically with leases and rejects a push whose lease is stale', async () => {
    const remote = sim.remoteUrl(REPO)
    const git = await Git.init(join(work, 'push'), {
      env: identity,
      token: sim.adminToken,
      serverUrl: sim.serverUrl,
    })
    await writeFile(join(git.dir, 'a.txt'), 'one\n')
    const first = await commitAll(git, 'one')
    await git.push(remote, [`${first}:refs/heads/w/base`, `${first}:refs/heads/env/a`], {
      atomic: true,
      leases: [
        { ref: 'refs/heads/w/base', expect: '' },
        { ref: 'refs/heads/env/a', expect: '' },
      ],
    })
    const refs = await git.lsRemote(remote, ['refs/heads/*'])
    expect(refs.get('refs/heads/w/base')).toBe(first)
    expect(refs.get('refs/heads/env/a')).toBe(first)

    await writeFile(join(git.dir, 'a.txt'), 'two\n')
    const second = await commitAll(git, 'two')
    // env/a is said to be absent, but it exists: the whole atomic push must fail.
    await expect(
      git.push(remote, [`${second}:refs/heads/w/base`, `${second}:refs/heads/env/a`], {
        atomic: true,
        leases: [
          { ref: 'refs/heads/w/base', expect: first },
          { ref: 'refs/heads/env/a', expect: '' },
        ],
      }),
    ).rejects.toBeInstanceOf(PushRejectedError)
    const after = await git.lsRemote(remote, ['refs/heads/*'])
    expect(after.get('refs/heads/w/base')).toBe(first)
  })

  it('replaces the header actions/checkout saved for the server instead of sending both', async () => {
    const dir = join(work, 'checkout')
    const checkout = await Git.init(dir, { env: identity })
    // What actions/checkout leaves behind: a header for the server with its own token.
    const stale = Buffer.from('x-access-token:revoked-token').toString('base64')
    await checkout.run([
      'config',
      '--local',
      `http.${new URL(sim.serverUrl).origin}/.extraheader`,
      `AUTHORIZATION: basic ${stale}`,
    ])
    const remote = sim.remoteUrl(REPO)
    await expect(checkout.lsRemote(remote)).rejects.toThrow()

    // A general header does not override the server-specific one.
    await expect(new Git(dir, { token: sim.adminToken }).lsRemote(remote)).rejects.toThrow()
    const authed = new Git(dir, { token: sim.adminToken, serverUrl: sim.serverUrl })
    const refs = await authed.lsRemote(remote, ['refs/heads/main'])
    expect(refs.get('refs/heads/main')).toMatch(/^[0-9a-f]{40}$/)
  })

  it('refuses a lease that is not a full SHA', async () => {
    const git = new Git(work)
    await expect(
      git.push('origin', ['HEAD:refs/heads/x'], {
        leases: [{ ref: 'refs/heads/x', expect: 'main' }],
      }),
    ).rejects.toThrow(/full SHA/)
  })
})
