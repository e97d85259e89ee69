// SPEC.md §6 "merges pass the expected SHA": the GitHub port's one merge call
// refuses a pull request whose head moved after it was checked, and the base
// branch stays where it was.
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { Git } from '../actions/lib/git/git.js'
import { createGitHubClient } from './support/github-client.js'
import { mergeAtSha } from '../actions/lib/github/pulls.js'
import { GIT_IDENTITY } from './fixtures/render/fixture-repo.js'
import { startGitHubSimulator, type GitHubSimulator } from './support/github/index.js'

const FULL_NAME = 'acme/merge-at-sha'
const REPO = { owner: 'acme', repo: 'merge-at-sha' }

let gh: GitHubSimulator
let work: string

beforeAll(async () => {
  gh = await startGitHubSimulator()
  await gh.createRepo(FULL_NAME)
  work = await mkdtemp(join(tmpdir(), 'fleet-github-merge-'))
})

afterAll(async () => {
  expect(gh.validationErrors).toEqual([])
  await gh.stop()
  await rm(work, { recursive: true, force: true })
})

it('merges only at the head it was given: a moved head is "head-moved" and the base stays', async () => {
  const git = await Git.clone(gh.remoteUrl(FULL_NAME), join(work, 'clone'), {
    token: gh.adminToken,
    env: GIT_IDENTITY,
  })
  const commit = async (content: string) => {
    await writeFile(join(work, 'clone', 'values.yaml'), content)
    await git.run(['add', 'values.yaml'])
    await git.run(['-c', 'commit.gpgsign=false', 'commit', '--quiet', '-m', content.trim()])
    await git.run(['push', '--quiet', 'origin', 'HEAD:refs/heads/change'])
    return git.revParse('HEAD')
  }
  await git.run(['switch', '--quiet', '-c', 'change'])
  const checked = await commit('replicas: 2\n')
  const client = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl, retries: 0 })
  const { data: pull } = await client.rest.pulls.create({
    ...REPO,
    head: 'change',
    base: 'main',
    title: 'change',
  })
  const moved = await commit('replicas: 200\n')
  const base = gh.state.refSha(FULL_NAME, 'refs/heads/main')

  const refused = await mergeAtSha(client, REPO, { number: pull.number, sha: checked, title: 't' })
  expect(refused).toMatchObject({ merged: false, reason: 'head-moved' })
  expect(gh.state.refSha(FULL_NAME, 'refs/heads/main')).toBe(base)

  const merged = await mergeAtSha(client, REPO, { number: pull.number, sha: moved, title: 't' })
  expect(merged.merged).toBe(true)
  expect(gh.state.refSha(FULL_NAME, 'refs/heads/main')).not.toBe(base)
})

/** Pushes one branch per content off main, each writing `file(i)`, and opens a pull request for each. */
async function openPulls(name: string, contents: string[], file: (i: number) => string) {
  const dir = join(work, name)
  const git = await Git.clone(gh.remoteUrl(FULL_NAME), dir, {
    token: gh.adminToken,
    env: GIT_IDENTITY,
  })
  const client = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl, retries: 0 })
  const pulls: Array<{ number: number; sha: string }> = []
  for (const [i, content] of contents.entries()) {
    await git.run(['switch', '--quiet', '-C', `${name}-${i}`, 'origin/main'])
    await writeFile(join(dir, file(i)), content)
    await git.run(['add', file(i)])
    await git.run(['-c', 'commit.gpgsign=false', 'commit', '--quiet', '-m', `${name} ${i}`])
    await git.run(['push', '--quiet', 'origin', `HEAD:refs/heads/${name}-${i}`])
    const { data } = await client.rest.pulls.create({
      ...REPO,
      head: `${name}-${i}`,
      base: 'main',
      title: `${name} ${i}`,
    })
    pulls.push({ number: data.number, sha: data.head.sha })
  }
  return { client, pulls }
}

/** Git on the simulator's bare repository: stdout, or a throw when git fails. */
const bare = (args: string[]) =>
  execFileSync('git', args, { cwd: gh.repoPath(FULL_NAME), encoding: 'utf8' }).trim()

/** One client per request: a client paces its own writes one at a time, and these must race. */
const racer = () => createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl, retries: 0 })

const BASE_MODIFIED = 'Base branch was modified. Review and try the merge again.'

it('serializes concurrent merges on one base: disjoint changes all merge, and nothing answers 500', async () => {
  const { pulls } = await openPulls(
    'disjoint',
    ['a\n', 'b\n', 'c\n', 'd\n', 'e\n', 'f\n'],
    (i) => `disjoint-${i}.txt`,
  )
  const results = await Promise.all(
    pulls.map((pull) =>
      mergeAtSha(racer(), REPO, { number: pull.number, sha: pull.sha, title: 't' }),
    ),
  )
  expect(results.map((result) => result.merged)).toEqual(pulls.map(() => true))
  const main = gh.state.refSha(FULL_NAME, 'refs/heads/main')
  for (const pull of pulls) {
    expect(gh.state.pull(FULL_NAME, pull.number)).toMatchObject({ merged: true, state: 'closed' })
    expect(bare(['merge-base', '--is-ancestor', pull.sha, main ?? ''])).toBe('')
  }
})

it('serializes concurrent merges that conflict: one merges, every other one is a 405', async () => {
  const contents = ['1\n', '2\n', '3\n', '4\n', '5\n', '6\n']
  const { pulls } = await openPulls('clash', contents, () => 'clash.txt')
  const base = gh.state.refSha(FULL_NAME, 'refs/heads/main')
  const answers = await Promise.all(
    pulls.map((pull) =>
      racer()
        .rest.pulls.merge({ ...REPO, pull_number: pull.number, sha: pull.sha })
        .then(
          (response) => ({ status: response.status, message: response.data.message }),
          (error: { status: number; response?: { data?: { message?: string } } }) => ({
            status: error.status,
            message: error.response?.data?.message,
          }),
        ),
    ),
  )
  expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1)
  const refused = answers.filter((answer) => answer.status !== 200)
  expect(refused.map((answer) => answer.status)).toEqual(contents.slice(1).map(() => 405))
  for (const answer of refused)
    expect([BASE_MODIFIED, 'Pull Request is not mergeable']).toContain(answer.message)
  const winner = pulls[answers.findIndex((answer) => answer.status === 200)]
  const main = gh.state.refSha(FULL_NAME, 'refs/heads/main')
  expect(bare(['rev-parse', `${main}^1`, `${main}^2`]).split('\n')).toEqual([base, winner?.sha])
  for (const [i, pull] of pulls.entries())
    expect(gh.state.pull(FULL_NAME, pull.number).merged).toBe(answers[i]?.status === 200)
})

it('serializes the refs API and pushes on one repository: one writer moves main, the rest are refused', async () => {
  const { pulls } = await openPulls(
    'sibling',
    ['w\n', 'x\n', 'y\n', 'z\n', 'p\n'],
    () => 'sibling.txt',
  )
  const [pushed, ...patched] = pulls
  const dir = join(work, 'sibling')
  const status = (promise: Promise<{ status: number }>) =>
    promise.then(
      (response) => response.status,
      (error: { status: number }) => error.status,
    )
  const main = gh.state.refSha(FULL_NAME, 'refs/heads/main')
  const [push, ...answers] = await Promise.all([
    new Git(dir, { token: gh.adminToken, env: GIT_IDENTITY })
      .run(['push', '--quiet', 'origin', `${pushed?.sha}:refs/heads/main`])
      .then(
        () => 'pushed',
        () => 'rejected',
      ),
    ...patched.map((pull) =>
      status(racer().rest.git.updateRef({ ...REPO, ref: 'heads/main', sha: pull.sha })),
    ),
    ...patched.map((pull, i) =>
      status(racer().rest.git.createRef({ ...REPO, ref: `refs/heads/copy-${i}`, sha: pull.sha })),
    ),
    ...patched.map((_, i) =>
      status(racer().rest.git.deleteRef({ ...REPO, ref: `heads/sibling-${i + 1}` })),
    ),
  ])
  const moves = answers.slice(0, patched.length)
  expect([push === 'pushed' ? 200 : 422, ...moves].sort()).toEqual([200, 422, 422, 422, 422])
  expect(answers.slice(patched.length)).toEqual([
    ...patched.map(() => 201),
    ...patched.map(() => 204),
  ])
  const winner = push === 'pushed' ? pushed : patched[moves.indexOf(200)]
  expect(gh.state.refSha(FULL_NAME, 'refs/heads/main')).toBe(winner?.sha)
  expect(bare(['rev-parse', `${winner?.sha}^`])).toBe(main)
})
