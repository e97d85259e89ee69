import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Git } from '../actions/lib/git/git.js'
import { createGitHubClient, type GitHubClient } from './support/github-client.js'
import {
  acquireLocks,
  describeHolder,
  heldLocks,
  readLock,
  releaseLock,
  releaseLocks,
  type AcquireResult,
  type LockRemote,
} from '../actions/lib/locks.js'
import { promote } from '../actions/promote/promote.js'
import { startGitHubSimulator, type GitHubSimulator } from './support/github/index.js'
import { FULL_NAME, startPromoteFleet, type PromoteFleet } from './support/promote-fleet.js'

const repo = { owner: 'acme', repo: 'locks' }
let gh: GitHubSimulator
let client: GitHubClient
let at: LockRemote
let scratch: string

beforeAll(async () => {
  gh = await startGitHubSimulator()
  await gh.createRepo('acme/locks')
  client = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl, retries: 0 })
  scratch = await mkdtemp(join(tmpdir(), 'locks-test-'))
  const git = await Git.init(scratch, { bare: true, token: gh.adminToken })
  at = { git, remote: gh.remoteUrl('acme/locks') }
})

afterAll(async () => {
  expect(gh.validationErrors).toEqual([])
  await gh.stop()
  await rm(scratch, { recursive: true, force: true })
})

const take = (env: string | string[], pr: number, reason = '') =>
  acquireLocks(at, typeof env === 'string' ? [env] : env, {
    pr,
    actor: `user${pr}`,
    reason,
    sha: 'a'.repeat(40),
  })
const created = (result: AcquireResult) => {
  if (result.status !== 'acquired') throw new Error(`expected acquired, got ${result.status}`)
  return result.created
}
const lockRef = (env: string) =>
  gh.state.refSha('acme/locks', `refs/heads/fleet-promote-lock/${env}`)

describe('environment locks', () => {
  it('creates a lock branch whose lock.json names the PR, actor, reason and SHA', async () => {
    const [lock] = created(await take('eu-prod-1', 7, 'change freeze'))
    expect(lockRef('eu-prod-1')).toBe(lock?.commit)
    const held = await readLock(client, repo, 'eu-prod-1')
    expect(held?.lock).toMatchObject({
      pr: 7,
      actor: 'user7',
      reason: 'change freeze',
      sha: 'a'.repeat(40),
    })
    expect(held?.lock?.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/)
    expect(describeHolder(held!)).toBe('locked by #7 (user7, change freeze)')
    expect((await heldLocks(at)).get('eu-prod-1')).toEqual(held)
  })

  it('is a no-op for the holding PR and a conflict for any other', async () => {
    expect(created(await take('eu-prod-1', 7))).toEqual([])
    expect((await readLock(client, repo, 'eu-prod-1'))?.lock?.reason).toBe('change freeze')
    const other = await take('eu-prod-1', 8)
    expect(other.status).toBe('conflict')
    if (other.status === 'conflict') expect(other.held.lock?.pr).toBe(7)
  })

  it('takes a whole stage in one atomic push, or nothing when another PR holds one', async () => {
    gh.resetRequests()
    const stage = Array.from({ length: 30 }, (_, i) => `stage-${String(i).padStart(2, '0')}`)
    expect(created(await take(stage, 9)).map((lock) => lock.environment)).toEqual(stage)
    const pushes = gh.requests.filter((r) => r.route.endsWith('.git/git-receive-pack'))
    expect(pushes).toHaveLength(1)
    // Git only: no REST call per environment (or at all).
    expect(gh.requests.filter((r) => !r.route.includes('.git/'))).toEqual([])
    const mixed = await take([...stage.slice(0, 3), 'eu-prod-1', 'fresh-1'], 10)
    expect(mixed.status).toBe('conflict')
    expect(lockRef('fresh-1')).toBeUndefined()
    const released = await releaseLocks(at, created(await take(['fresh-1', 'fresh-2'], 10)))
    expect(released).toEqual(['fresh-1', 'fresh-2'])
    expect(lockRef('fresh-1')).toBeUndefined()
  })

  it('lets only the holder release it', async () => {
    expect(await releaseLock(client, repo, 'eu-prod-1', 8)).toBe('conflict')
    expect(await readLock(client, repo, 'eu-prod-1')).toBeDefined()
    expect(await releaseLock(client, repo, 'eu-prod-1', 7)).toBe('released')
    expect(await readLock(client, repo, 'eu-prod-1')).toBeUndefined()
    expect(await releaseLock(client, repo, 'eu-prod-1', 7)).toBe('absent')
  })

  it('releases by acquisition only the lock that very run created', async () => {
    const [first] = created(await take('us-prod-1', 3))
    expect(await releaseLock(client, repo, 'us-prod-1', 3, 'another-run')).toBe('conflict')
    expect(await releaseLock(client, repo, 'us-prod-1', 3, first?.lock?.id)).toBe('released')
    // Taken anew by another run: the batch release leaves it (its lease names the old commit).
    const [again] = created(await take('us-prod-1', 3))
    expect(await releaseLocks(at, [first!])).toEqual([])
    expect(lockRef('us-prod-1')).toBe(again?.commit)
  })

  it('gives exactly one of many racing PRs the lock', async () => {
    // Each run builds its lock commits in its own scratch repository, as each job does.
    const runs = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => ({
        git: await Git.init(join(scratch, `race-${i}`), { bare: true, token: gh.adminToken }),
        remote: at.remote,
      })),
    )
    const results = await Promise.all(
      runs.map((run, i) =>
        acquireLocks(run, ['race-1'], {
          pr: 100 + i,
          actor: 'racer',
          reason: '',
          sha: 'a'.repeat(40),
        }),
      ),
    )
    const winners = results.filter((r) => r.status === 'acquired')
    expect(winners).toHaveLength(1)
    const holder = lockRef('race-1')
    for (const loser of results.filter((r) => r.status !== 'acquired')) {
      expect(loser.status).toBe('conflict')
      if (loser.status === 'conflict') expect(loser.held.commit).toBe(holder)
    }
  })

  it('treats a lock branch without a readable lock.json as held by nobody it can release', async () => {
    const main = gh.state.refSha('acme/locks', 'refs/heads/main')!
    await client.rest.git.createRef({
      ...repo,
      ref: 'refs/heads/fleet-promote-lock/odd-1',
      sha: main,
    })
    const result = await take('odd-1', 5)
    expect(result.status).toBe('conflict')
    if (result.status === 'conflict') expect(describeHolder(result.held)).toMatch(/unreadable lock/)
    expect(await releaseLock(client, repo, 'odd-1', 5)).toBe('conflict')
  })

  it("lists every lock with its holder, and releases one PR's locks in one push (merge-cleanup)", async () => {
    await take(['a-1', 'b-1'], 42)
    await take('c-1', 43)
    const held = await heldLocks(at)
    expect([...held.values()].map((l) => [l.environment, l.lock?.pr])).toEqual(
      expect.arrayContaining([
        ['a-1', 42],
        ['b-1', 42],
        ['c-1', 43],
      ]),
    )
    const ofPr = [...held.values()].filter((l) => l.lock?.pr === 42)
    expect((await releaseLocks(at, ofPr)).sort()).toEqual(['a-1', 'b-1'])
    expect([...(await heldLocks(at)).keys()]).not.toContain('a-1')
    expect(await readLock(client, repo, 'c-1')).toBeDefined()
  })
})

describe('two .promote commands racing for the same environments', () => {
  let fleet: PromoteFleet

  beforeAll(async () => {
    fleet = await startPromoteFleet()
  })

  afterAll(async () => {
    expect(fleet.gh.validationErrors).toEqual([])
    await fleet.cleanup()
  })

  it('lets exactly one PR win; the other is refused naming the holder and changes nothing', async () => {
    const other = await fleet.openParent('feature/other', fleet.users.other.login)
    const [a, b] = await Promise.all([
      promote(fleet.settings(), fleet.comment(fleet.users.writer, '.promote eu-test-1')),
      promote(
        fleet.settings(),
        fleet.comment(fleet.users.other, '.promote eu-test-1', other.number),
      ),
    ])
    const decisions = [a.decision, b.decision].sort()
    expect(decisions).toEqual(['deployed', 'refused'])
    const [winner, loser] = a.decision === 'deployed' ? [a, b] : [b, a]
    const winnerPr = a.decision === 'deployed' ? fleet.parent : other.number
    expect(loser.reason).toMatch(new RegExp(`^eu-test-1 is locked by #${winnerPr} `))
    expect(winner.environments.map((e) => e.result)).toEqual(['success'])
    const app = fleet.argocd.getApplication('eu-test-1-addons')
    expect(app?.spec.source?.targetRevision).toBe(`fleet-promote/pr-${winnerPr}/eu-test-1`)
    const lock = await fleet.work.lsRemote(fleet.gh.remoteUrl(FULL_NAME), [
      'refs/heads/fleet-promote-lock/*',
    ])
    expect([...lock.keys()]).toEqual(['refs/heads/fleet-promote-lock/eu-test-1'])
  })
})
