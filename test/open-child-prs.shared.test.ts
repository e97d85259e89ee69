// openChildPrs with shared WET branches (environments[].path): one child
// branch and one child PR per (parent, WET branch) holding every impacted
// environment's folder, statuses per environment. GitHub simulator, real git.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { OpenChildPrsOptions } from '../actions/open-child-prs/child-prs.js'
import { parseMarker } from '../actions/lib/children.js'
import { childrenOf, listOpenPulls } from '../actions/lib/github/pulls.js'
import { MANAGED_LIST } from '../actions/lib/git/wet-commit.js'
import { deployEnvironment, type DeployContext } from '../actions/promote/backends.js'
import { landByPush } from '../actions/promote/landing.js'
import { createGitHubClient } from './support/github-client.js'
import { startGitHubSimulator, type GitHubSimulator } from './support/github/index.js'
import { configMapChange, type FixtureEnvironment } from './fixtures/child-prs/hydration.js'
import { REPO, createTestRepo, openParent, type TestRepo } from './fixtures/child-prs/repo.js'
import { openChildPulls, runOpenChildPrs } from './fixtures/child-prs/run.js'
import { StatusWriter } from '../actions/lib/github/status-board.js'

let gh: GitHubSimulator
let repo: TestRepo

const stages = [
  { name: 'testing', autoPromote: false },
  { name: 'production', autoPromote: false },
]
const FOLDERS: Record<string, string[]> = {
  testing: ['test-a', 'test-b', 'test-c'],
  production: ['prod-a', 'prod-b'],
}

beforeEach(async () => {
  gh = await startGitHubSimulator()
  repo = await createTestRepo(gh, { 'clusters/a/kustomization.yaml': 'resources: []\n' })
  for (const [stage, names] of Object.entries(FOLDERS)) {
    const files: Record<string, string> = { '.github/CODEOWNERS': '* @platform\n' }
    for (const name of names) {
      files[`${name}/manifest.yaml`] = `env: ${name}\nvalue: 1\n`
      files[`${name}/${MANAGED_LIST}`] = 'manifest.yaml\n'
    }
    await repo.setWet(`env/${stage}`, files)
  }
  await openParent(gh, repo, { 'components/x.yaml': 'value: 2\n' })
})

afterEach(async () => {
  await gh.stop()
  await repo.cleanup()
})

/** Each environment of a stage's shared branch: `value` rendered, or unchanged when absent. */
function fixture(values: Record<string, number>): FixtureEnvironment[] {
  return Object.entries(FOLDERS).flatMap(([stage, names]) =>
    names.map((name): FixtureEnvironment => {
      const branch = `env/${stage}`
      const common = { name, stage, branch, folder: name, baseSha: gh.state.refSha(REPO, branch) }
      const value = values[name]
      if (value === undefined) return { ...common, status: 'unchanged' }
      return {
        ...common,
        files: {
          'manifest.yaml': `env: ${name}\nvalue: ${value}\n`,
          'hydrator.metadata': `{"drySha": "${value}"}\n`,
        },
        changes: [configMapChange('settings', '1', String(value))],
      }
    }),
  )
}

function run(envs: FixtureEnvironment[], over: Partial<OpenChildPrsOptions> = {}) {
  return runOpenChildPrs(gh, repo, stages, envs, over)
}

function openChildren() {
  return openChildPulls(gh)
}

function statuses() {
  const head = gh.state.pull(REPO, repo.parent).headSha
  return Object.fromEntries(gh.state.latestStatuses(REPO, head).map((s) => [s.context, s]))
}

describe('openChildPrs on shared WET branches', { timeout: 300_000 }, () => {
  it('opens one child PR per WET branch holding every impacted folder; statuses stay per environment', async () => {
    const result = await run(fixture({ 'test-a': 2, 'test-b': 2, 'prod-a': 2, 'prod-b': 2 }))
    const children = openChildren()
    const n = repo.parent
    expect(children.map((p) => [p.headRef, p.baseRef])).toEqual([
      [`fleet-promote/pr-${n}/env-production`, 'env/production'],
      [`fleet-promote/pr-${n}/env-testing`, 'env/testing'],
    ])
    const testing = children[1]!
    expect(testing.title).toBe(`[env/testing] Bump cert-manager (#${n})`)
    expect(parseMarker(testing.body)).toMatchObject({
      parent: n,
      environment: 'env-testing',
      stage: 'testing',
      branch: 'env/testing',
      environments: ['test-a', 'test-b'],
    })
    // The body lists every environment folder it holds.
    expect(testing.body).toContain('2 environments on the WET branch `env/testing`')
    expect(testing.body).toMatch(/\| test-a \| `test-a` \| 1 \| 1 \| \+0 ~1 -0 \|/)
    expect(testing.body).toMatch(/\| test-b \| `test-b` \|/)
    expect(testing.body).not.toContain('test-c')

    // One commit: both folders rendered, test-c and unmanaged files untouched, root metadata.
    const git = repo.workspace
    await git.fetch(gh.remoteUrl(REPO), ['+refs/heads/fleet-promote/*:refs/remotes/children/*'])
    const child = `refs/remotes/children/pr-${n}/env-testing`
    expect(await git.showFile(child, 'test-a/manifest.yaml')).toBe('env: test-a\nvalue: 2\n')
    expect(await git.showFile(child, 'test-b/manifest.yaml')).toBe('env: test-b\nvalue: 2\n')
    expect(await git.showFile(child, 'test-c/manifest.yaml')).toBe('env: test-c\nvalue: 1\n')
    expect(await git.showFile(child, 'hydrator.metadata')).toBe('{"drySha": "2"}\n')
    expect(await git.showFile(child, '.github/CODEOWNERS')).toBe('* @platform\n')

    const all = statuses()
    expect(all['fleet-promote/test-a']).toMatchObject({ state: 'pending' })
    expect(all['fleet-promote/test-a']!.description).toContain(`child PR #${testing.number}`)
    expect(all['fleet-promote/test-b']!.description).toContain(`child PR #${testing.number}`)
    expect(all['fleet-promote/test-c']).toMatchObject({ state: 'success' })
    expect(all['fleet-promote/env-testing']).toBeUndefined()
    expect(all['fleet-promote/pipeline']).toMatchObject({ state: 'pending' })
    expect(result.children.find((c) => c.environment === 'test-b')).toMatchObject({
      branch: `fleet-promote/pr-${n}/env-testing`,
      number: testing.number,
      state: 'created',
    })

    // Every reader sees the child once per environment it holds.
    const client = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
    const listed = childrenOf(
      await listOpenPulls(client, { owner: 'acme', repo: 'fleet' }),
      {
        owner: 'acme',
        repo: 'fleet',
      },
      n,
    )
    expect(listed.map((c) => [c.environment, c.number, c.unit])).toEqual([
      ['prod-a', children[0]!.number, 'env-production'],
      ['prod-b', children[0]!.number, 'env-production'],
      ['test-a', testing.number, 'env-testing'],
      ['test-b', testing.number, 'env-testing'],
    ])
  })

  it('a re-run changes nothing; a folder no longer impacted leaves the child, which closes once none is', async () => {
    await run(fixture({ 'test-a': 2, 'test-b': 2, 'prod-a': 2, 'prod-b': 2 }))
    const [production, testing] = openChildren()
    gh.resetRequests()
    await run(fixture({ 'test-a': 2, 'test-b': 2, 'prod-a': 2, 'prod-b': 2 }))
    const writes = gh.requests.filter(
      (r) => r.method !== 'GET' && !r.route.includes('.git/') && !r.route.includes('/api/graphql'),
    )
    expect(writes.map((r) => r.route)).toEqual([])

    // test-b is back to what its folder holds: the same child now holds test-a alone.
    await repo.commitParent({ 'components/x.yaml': 'value: 3\n' })
    await run(fixture({ 'test-a': 3, 'prod-a': 3, 'prod-b': 3 }))
    const after = openChildren()
    expect(after.map((p) => p.number)).toEqual([production!.number, testing!.number])
    expect(parseMarker(after[1]!.body)?.environments).toEqual(['test-a'])
    expect(statuses()['fleet-promote/test-b']).toMatchObject({ state: 'success' })

    // Nothing of production changes any more: its child closes (one close for the PR).
    await repo.commitParent({ 'components/x.yaml': 'value: 4\n' })
    gh.resetRequests()
    await run(fixture({ 'test-a': 4 }))
    expect(openChildren().map((p) => p.headRef)).toEqual([
      `fleet-promote/pr-${repo.parent}/env-testing`,
    ])
    // One update (testing's body) and one close for production's two folders.
    const patches = gh.requests.filter(
      (r) => r.route === 'PATCH /repos/{owner}/{repo}/pulls/{pull_number}',
    )
    expect(patches).toHaveLength(2)
    expect(gh.state.pull(REPO, production!.number).state).toBe('closed')
    expect(gh.state.refSha(REPO, `fleet-promote/pr-${repo.parent}/env-production`)).toBeUndefined()
  })

  it("the merge backend's landing pushes a shared branch once for all its folders; GitHub marks the child merged", async () => {
    await run(fixture({ 'test-a': 2, 'test-b': 2, 'prod-a': 2 }))
    const client = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
    const ref = { owner: 'acme', repo: 'fleet' }
    const children = childrenOf(await listOpenPulls(client, ref), ref, repo.parent).map((c) => ({
      environment: c.environment,
      branch: c.branch,
      headSha: c.headSha,
      base: c.base,
    }))
    expect(children.map((c) => c.environment)).toEqual(['prod-a', 'test-a', 'test-b'])
    gh.resetRequests()
    const lines: string[] = []
    const landed = await landByPush(
      { git: repo.workspace, remote: gh.remoteUrl(REPO) },
      children,
      (line) => lines.push(line),
    )
    // Three environments, two WET branches: one push of two refs (a ref twice would be refused).
    expect([...landed].sort()).toEqual(['prod-a', 'test-a', 'test-b'])
    expect(lines).toEqual(['landed 2 child PR(s) on their WET branches in one push'])
    expect(gh.routeCounts()['POST /{owner}/{repo}.git/git-receive-pack']).toBe(1)
    const testing = children.find((c) => c.environment === 'test-a')!
    expect(gh.state.refSha(REPO, 'env/testing')).toBe(testing.headSha)
    for (const pull of gh.state.pulls(REPO).filter((p) => p.headRef.startsWith('fleet-promote/')))
      expect(pull, pull.headRef).toMatchObject({ merged: true })
  })

  it("the merge backend's fallback asks GitHub to merge a shared branch's child once for all its folders", async () => {
    await run(fixture({ 'test-a': 2, 'test-b': 2 }))
    const client = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
    const ref = { owner: 'acme', repo: 'fleet' }
    const children = childrenOf(await listOpenPulls(client, ref), ref, repo.parent)
    const parentSha = gh.state.pull(REPO, repo.parent).headSha
    const ctx: DeployContext = {
      client,
      repo: ref,
      parent: repo.parent,
      parentSha,
      repoUrl: `${gh.serverUrl}/${REPO}`,
      externalSystem: 'Kargo',
      checks: { secret: () => undefined },
      deployments: new Map(),
      statuses: new StatusWriter(client, ref, parentSha, {
        mode: 'per-environment',
        stageOf: () => undefined,
        current: new Map(),
      }),
      merges: new Map(),
      log: () => undefined,
    }
    gh.resetRequests()
    const outcomes = await Promise.all(
      children.map((child) =>
        deployEnvironment(ctx, {
          environment: child.environment,
          stage: 'testing',
          backend: 'merge',
          child,
          production: false,
          bakeSeconds: 0,
          recordDeployment: false,
          verify: { http: [], prometheus: [] },
        }),
      ),
    )
    expect(outcomes.map((o) => [o.environment, o.result])).toEqual([
      ['test-a', 'success'],
      ['test-b', 'success'],
    ])
    expect(gh.routeCounts()['PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge']).toBe(1)
    expect(gh.state.pull(REPO, children[0]!.number)).toMatchObject({ merged: true })
  })
})
