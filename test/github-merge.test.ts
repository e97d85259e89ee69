// SPEC.md §6 "merges pass the expected SHA": the GitHub port's one merge call
// refuses a pull request whose head moved after it was checked, and the base
// branch stays where it was.
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
