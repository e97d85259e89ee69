// The simulator's git data and contents endpoints (added for locks and the
// base-branch configuration): documented operations, valid responses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createGitHubClient, type GitHubClient } from './support/github-client.js'
import { gitDataRoutes } from './support/github/handlers/git-data.js'
import { startGitHubSimulator, type GitHubSimulator } from './support/github/index.js'
import { checkResponse, hasOperation } from './support/github/openapi.js'

const repo = { owner: 'acme', repo: 'data' }
let gh: GitHubSimulator
let client: GitHubClient

beforeAll(async () => {
  gh = await startGitHubSimulator()
  await gh.createRepo('acme/data')
  client = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl, retries: 0 })
})

afterAll(async () => {
  await gh.stop()
})

describe('git data and contents endpoints', () => {
  it('are operations of the REST description', () => {
    for (const route of gitDataRoutes)
      expect(hasOperation(route.method, route.template), route.template).toBe(true)
  })

  it('build trees over a base, commit them, and serve files and directories', async () => {
    const main = gh.state.refSha('acme/data', 'refs/heads/main')!
    const base = (
      await client.rest.git.getCommit({ ...repo, commit_sha: main }).catch(() => undefined)
    )?.data.tree.sha
    const tree = await client.rest.git.createTree({
      ...repo,
      ...(base ? { base_tree: base } : {}),
      tree: [
        { path: 'config/fleet.yaml', mode: '100644', type: 'blob', content: 'version: 1\n' },
        { path: 'run.sh', mode: '100755', type: 'blob', content: '#!/bin/sh\n' },
      ],
    })
    expect(tree.data.tree.map((e) => e.path).sort()).toEqual(
      expect.arrayContaining(['config', 'run.sh']),
    )
    const commit = await client.rest.git.createCommit({
      ...repo,
      message: 'data',
      tree: tree.data.sha,
      parents: [main],
    })
    expect(commit.data.parents.map((p) => p.sha)).toEqual([main])
    await client.rest.git.updateRef({ ...repo, ref: 'heads/main', sha: commit.data.sha })

    const file = await client.rest.repos.getContent({
      ...repo,
      path: 'config/fleet.yaml',
      ref: 'main',
    })
    const data = file.data as { type: string; content: string; path: string }
    expect(data.type).toBe('file')
    expect(data.path).toBe('config/fleet.yaml')
    expect(Buffer.from(data.content, 'base64').toString('utf8')).toBe('version: 1\n')
    const dir = await client.rest.repos.getContent({
      ...repo,
      path: 'config',
      ref: commit.data.sha,
    })
    expect((dir.data as { name: string }[]).map((e) => e.name)).toEqual(['fleet.yaml'])
    await expect(
      client.rest.repos.getContent({ ...repo, path: 'missing.yaml' }),
    ).rejects.toMatchObject({ status: 404 })
    await expect(
      client.rest.repos.getContent({ ...repo, path: 'run.sh', ref: 'no-such-branch' }),
    ).rejects.toMatchObject({
      status: 404,
    })
    expect(gh.validationErrors).toEqual([])
  })

  it('rejects malformed trees like GitHub does', async () => {
    await expect(
      client.rest.git.createTree({
        ...repo,
        tree: [{ path: '../escape', mode: '100644', type: 'blob', content: 'x' }],
      }),
    ).rejects.toMatchObject({ status: 422 })
    await expect(
      client.rest.git.createCommit({ ...repo, message: 'x', tree: '0'.repeat(40), parents: [] }),
    ).rejects.toMatchObject({ status: 422 })
    // The validator really checks: a body missing required fields is invalid.
    expect(checkResponse('POST', '/repos/{owner}/{repo}/git/trees', 201, { sha: 'x' }).kind).toBe(
      'invalid',
    )
  })
})
