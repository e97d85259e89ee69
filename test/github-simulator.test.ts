import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createGitHubClient } from './support/github-client.js'
import { runChecked, runProcess } from '../actions/lib/process.js'
import { startGitHubSimulator, type GitHubSimulator } from './support/github/index.js'

let gh: GitHubSimulator
let work: string

function gitEnv(token: string | undefined) {
  return {
    ...process.env,
    GIT_AUTHOR_NAME: 'Dev',
    GIT_AUTHOR_EMAIL: 'dev@example.com',
    GIT_COMMITTER_NAME: 'Dev',
    GIT_COMMITTER_EMAIL: 'dev@example.com',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    ...(token
      ? {
          GIT_CONFIG_COUNT: '1',
          GIT_CONFIG_KEY_0: 'http.extraHeader',
          GIT_CONFIG_VALUE_0: `Authorization: basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`,
        }
      : {}),
  }
}

async function git(cwd: string, args: string[], token: string | undefined = gh.adminToken) {
  return (await runChecked('git', args, { cwd, env: gitEnv(token) })).stdout.trim()
}

/** Clones a simulator repository into a fresh directory. */
async function cloneRepo(fullName: string, name: string) {
  const dir = join(work, name)
  await git(work, ['clone', '--quiet', gh.remoteUrl(fullName), dir])
  return dir
}

async function commitFile(dir: string, branch: string, file: string, content: string, push = true) {
  await git(dir, ['switch', '--quiet', '-C', branch])
  await writeFile(join(dir, file), content)
  await git(dir, ['add', file])
  await git(dir, ['commit', '--quiet', '-m', `${file} on ${branch}`])
  if (push) await git(dir, ['push', '--quiet', '--force', 'origin', branch])
  return git(dir, ['rev-parse', 'HEAD'])
}

/** Asserts that a request fails with this status and a message containing `text`. */
async function expectFailure(promise: Promise<unknown>, status: number, text: string) {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason as { status: number; message: string },
  )
  expect(error?.status).toBe(status)
  expect(error?.message).toContain(text)
}

const api = (path: string, init: RequestInit & { token?: string } = {}) =>
  fetch(`${gh.apiUrl}${path}`, {
    ...init,
    headers: {
      ...(init.token ? { authorization: `token ${init.token}` } : {}),
      ...(init.headers as Record<string, string>),
    },
  })

beforeAll(async () => {
  gh = await startGitHubSimulator()
  work = await mkdtemp(join(tmpdir(), 'github-sim-test-'))
})

afterAll(async () => {
  await gh.stop()
  await rm(work, { recursive: true, force: true })
})

describe('GitHub simulator', () => {
  it('acceptance: push over HTTP, open a PR with Octokit, post and read statuses, build the event — all OpenAPI-valid', async () => {
    await gh.createRepo('acme/fleet')
    const clone = await cloneRepo('acme/fleet', 'fleet')
    const headSha = await commitFile(clone, 'feature', 'app.yaml', 'replicas: 2\n')

    const octokit = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
    const { data: pull } = await octokit.rest.pulls.create({
      owner: 'acme',
      repo: 'fleet',
      head: 'feature',
      base: 'main',
      title: 'Add app',
    })
    expect(pull).toMatchObject({
      number: 1,
      mergeable: true,
      commits: 1,
      additions: 1,
      changed_files: 1,
    })
    expect(pull.head.sha).toBe(headSha)
    expect(gh.state.refSha('acme/fleet', 'refs/pull/1/head')).toBe(headSha)
    expect(gh.state.refSha('acme/fleet', 'refs/pull/1/merge')).toBe(pull.merge_commit_sha)

    await octokit.rest.repos.createCommitStatus({
      owner: 'acme',
      repo: 'fleet',
      sha: headSha,
      state: 'pending',
      context: 'fleet-promote/dev',
    })
    await octokit.rest.repos.createCommitStatus({
      owner: 'acme',
      repo: 'fleet',
      sha: headSha,
      state: 'success',
      context: 'fleet-promote/dev',
      description: 'deployed',
    })
    const { data: combined } = await octokit.rest.repos.getCombinedStatusForRef({
      owner: 'acme',
      repo: 'fleet',
      ref: headSha,
    })
    expect(combined).toMatchObject({ state: 'success', total_count: 1, sha: headSha })

    const event = gh.pullRequestEvent('acme/fleet', 1, 'opened') as {
      action: string
      number: number
      pull_request: { head: { sha: string } }
    }
    expect(event).toMatchObject({ action: 'opened', number: 1 })
    expect(event.pull_request.head.sha).toBe(headSha)
    expect(gh.validationErrors).toEqual([])
  })

  it('starts in well under a second once the schemas are compiled', async () => {
    const started = Date.now()
    const second = await startGitHubSimulator()
    const response = await fetch(`${second.apiUrl}/rate_limit`)
    const elapsed = Date.now() - started
    await second.stop()
    expect(response.status).toBe(200)
    expect(second.validationErrors).toEqual([])
    expect(elapsed).toBeLessThan(1000)
  })

  it('enforces tokens and permissions on REST', async () => {
    await gh.createRepo('acme/perm')
    await gh.createRepo('acme/secret', { private: true })
    const reader = gh.addUser('reader')
    gh.setPermission('acme/perm', 'reader', 'read')
    const statusBody = JSON.stringify({ state: 'success', context: 'c' })
    const sha = gh.state.refSha('acme/perm', 'main') ?? ''

    expect((await api('/repos/acme/perm')).status).toBe(200)
    expect((await api('/repos/acme/secret')).status).toBe(404)
    expect((await api('/repos/acme/secret', { token: reader.token })).status).toBe(404)
    expect(
      (await api('/repos/acme/secret', { headers: { authorization: `Bearer ${gh.adminToken}` } }))
        .status,
    ).toBe(200)
    const bad = await api('/repos/acme/perm', { token: 'nope' })
    expect(bad.status).toBe(401)
    expect(((await bad.json()) as { message: string }).message).toBe('Bad credentials')
    expect(
      (await api(`/repos/acme/perm/statuses/${sha}`, { method: 'POST', body: statusBody })).status,
    ).toBe(401)
    const denied = await api(`/repos/acme/perm/statuses/${sha}`, {
      method: 'POST',
      body: statusBody,
      token: reader.token,
    })
    expect(denied.status).toBe(403)
    expect(((await denied.json()) as { message: string }).message).toBe(
      'Resource not accessible by integration',
    )
    gh.setPermission('acme/perm', 'reader', 'write')
    expect(
      (
        await api(`/repos/acme/perm/statuses/${sha}`, {
          method: 'POST',
          body: statusBody,
          token: reader.token,
        })
      ).status,
    ).toBe(201)
    expect(gh.requests.at(-1)).toMatchObject({
      method: 'POST',
      route: 'POST /repos/{owner}/{repo}/statuses/{sha}',
      status: 201,
      user: 'reader',
    })
  })

  it('maps roles to permission and role_name like GitHub', async () => {
    const octokit = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
    const expected = {
      read: 'read',
      triage: 'read',
      write: 'write',
      maintain: 'write',
      admin: 'admin',
    } as const
    for (const [role, permission] of Object.entries(expected)) {
      gh.setPermission('acme/perm', `user-${role}`, role as keyof typeof expected)
      const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({
        owner: 'acme',
        repo: 'perm',
        username: `user-${role}`,
      })
      expect({ permission: data.permission, role_name: data.role_name }).toEqual({
        permission,
        role_name: role,
      })
    }
    const { data: owner } = await octokit.rest.repos.getCollaboratorPermissionLevel({
      owner: 'acme',
      repo: 'perm',
      username: 'acme',
    })
    expect(owner.permission).toBe('admin')
  })

  it('requires a token for git and write access for pushes', async () => {
    await gh.createRepo('acme/gitauth')
    const anonymous = await runProcess('git', ['ls-remote', gh.remoteUrl('acme/gitauth')], {
      cwd: work,
      env: gitEnv(undefined),
    })
    expect(anonymous.code).not.toBe(0)
    expect(gh.requests.at(-1)).toMatchObject({
      route: 'GET /{owner}/{repo}.git/info/refs',
      status: 401,
    })
    const reader = gh.addUser('git-reader')
    gh.setPermission('acme/gitauth', 'git-reader', 'read')
    const clone = join(work, 'gitauth')
    await git(work, ['clone', '--quiet', gh.remoteUrl('acme/gitauth'), clone], reader.token)
    await commitFile(clone, 'main', 'x.txt', 'x\n', false)
    const push = await runProcess('git', ['push', 'origin', 'main'], {
      cwd: clone,
      env: gitEnv(reader.token),
    })
    expect(push.code).not.toBe(0)
    expect(gh.requests.at(-1)).toMatchObject({ status: 403 })
    // Any username works with the token as password, as on GitHub.
    const url = gh.remoteUrl('acme/gitauth').replace('http://', `http://anyone:${gh.adminToken}@`)
    await git(clone, ['push', '--quiet', url, 'main'], undefined)
    expect(gh.state.refSha('acme/gitauth', 'main')).toBe(await git(clone, ['rev-parse', 'HEAD']))
  })

  it('serves gzip-encoded smart-HTTP request bodies', async () => {
    const sha = gh.state.refSha('acme/gitauth', 'main') ?? ''
    const pkt = (line: string) => `${(line.length + 4).toString(16).padStart(4, '0')}${line}`
    const body = gzipSync(Buffer.from(`${pkt(`want ${sha}\n`)}0000${pkt('done\n')}`))
    const response = await fetch(`${gh.remoteUrl('acme/gitauth')}/git-upload-pack`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`x-access-token:${gh.adminToken}`).toString('base64')}`,
        'content-type': 'application/x-git-upload-pack-request',
        'content-encoding': 'gzip',
      },
      body,
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/x-git-upload-pack-result')
    expect(Buffer.from(await response.arrayBuffer()).includes(Buffer.from('PACK'))).toBe(true)
  })

  it('paginates with GitHub’s Link header and sends rate-limit headers', async () => {
    for (let i = 0; i < 5; i++)
      gh.comment('acme/fleet', 1, { user: 'reviewer', body: `comment ${i}` })
    const first = await api('/repos/acme/fleet/issues/1/comments?per_page=2', {
      token: gh.adminToken,
    })
    const base = `${gh.apiUrl}/repos/acme/fleet/issues/1/comments`
    expect(first.headers.get('link')).toBe(
      `<${base}?per_page=2&page=2>; rel="next", <${base}?per_page=2&page=3>; rel="last"`,
    )
    const middle = await api('/repos/acme/fleet/issues/1/comments?per_page=2&page=2', {
      token: gh.adminToken,
    })
    expect(middle.headers.get('link')).toBe(
      `<${base}?per_page=2&page=1>; rel="prev", <${base}?per_page=2&page=3>; rel="next", <${base}?per_page=2&page=3>; rel="last", <${base}?per_page=2&page=1>; rel="first"`,
    )
    const last = await api('/repos/acme/fleet/issues/1/comments?per_page=2&page=3', {
      token: gh.adminToken,
    })
    expect(((await last.json()) as unknown[]).length).toBe(1)
    expect(last.headers.get('link')).toBe(
      `<${base}?per_page=2&page=2>; rel="prev", <${base}?per_page=2&page=1>; rel="first"`,
    )
    const all = await api('/repos/acme/fleet/issues/1/comments?per_page=500', {
      token: gh.adminToken,
    })
    expect(((await all.json()) as unknown[]).length).toBe(5)
    expect(all.headers.get('link')).toBeNull()

    expect(first.headers.get('x-ratelimit-limit')).toBe('5000')
    expect(first.headers.get('x-ratelimit-resource')).toBe('core')
    const used = Number(first.headers.get('x-ratelimit-used'))
    expect(Number(middle.headers.get('x-ratelimit-used'))).toBe(used + 1)
    expect(Number(middle.headers.get('x-ratelimit-remaining'))).toBe(5000 - used - 1)
    expect(Number(first.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000)
    expect(first.headers.get('x-github-request-id')).toMatch(/^[0-9A-F]+$/)

    const octokit = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
    gh.resetRequests()
    const comments = await octokit.paginate(octokit.rest.issues.listComments, {
      owner: 'acme',
      repo: 'fleet',
      issue_number: 1,
      per_page: 2,
    })
    expect(comments.map((comment) => comment.body)).toEqual(
      [0, 1, 2, 3, 4].map((i) => `comment ${i}`),
    )
    expect(gh.routeCounts()).toEqual({
      'GET /repos/{owner}/{repo}/issues/{issue_number}/comments': 3,
    })
  })

  it('with testMerges on-read, rebuilds a test merge after a base push only once the PR is read, as GitHub', async () => {
    const lazy = await startGitHubSimulator({ testMerges: 'on-read' })
    try {
      await lazy.createRepo('acme/lazy')
      const lg = (cwd: string, args: string[]) => git(cwd, args, lazy.adminToken)
      const dir = join(work, 'lazy')
      await lg(work, ['clone', '--quiet', lazy.remoteUrl('acme/lazy'), dir])
      const push = async (branch: string, file: string) => {
        await lg(dir, ['switch', '--quiet', '-C', branch, 'origin/main'])
        await writeFile(join(dir, file), `${file}\n`)
        await lg(dir, ['add', file])
        await lg(dir, ['commit', '--quiet', '-m', file])
        await lg(dir, ['push', '--quiet', 'origin', `HEAD:${branch}`])
        await lg(dir, ['fetch', '--quiet', 'origin'])
      }
      await push('feature', 'a.txt')
      const { number } = await lazy.openPullRequest('acme/lazy', {
        head: 'feature',
        base: 'main',
        title: 'A',
        user: lazy.adminLogin,
      })
      const before = lazy.state.refSha('acme/lazy', `refs/pull/${number}/merge`)
      await push('main', 'b.txt')
      expect(lazy.state.refSha('acme/lazy', `refs/pull/${number}/merge`)).toBe(before)
      const octokit = createGitHubClient(lazy.adminToken, { baseUrl: lazy.apiUrl })
      const read = () =>
        octokit.rest.pulls.get({ owner: 'acme', repo: 'lazy', pull_number: number })
      expect((await read()).data.mergeable).toBeNull()
      const { data } = await read()
      expect(data.mergeable).toBe(true)
      const after = lazy.state.refSha('acme/lazy', `refs/pull/${number}/merge`)
      expect(after).not.toBe(before)
      expect(data.merge_commit_sha).toBe(after)
      const parents = await lg(lazy.repoPath('acme/lazy'), [
        'rev-list',
        '--parents',
        '-n',
        '1',
        after ?? '',
      ])
      expect(parents.split(' ')[1]).toBe(lazy.state.refSha('acme/lazy', 'main'))
      expect(lazy.validationErrors).toEqual([])
    } finally {
      await lazy.stop()
    }
  })

  it('tracks PR heads on push: synchronize, refs/pull/N/head and a fresh merge ref', async () => {
    await gh.createRepo('acme/sync')
    const clone = await cloneRepo('acme/sync', 'sync')
    const first = await commitFile(clone, 'feature', 'a.txt', 'one\n')
    const { number, event } = await gh.openPullRequest('acme/sync', {
      head: 'feature',
      base: 'main',
      title: 'A',
      user: 'dev',
    })
    expect(event).toMatchObject({ action: 'opened', number, sender: { login: 'dev' } })
    const oldMerge = gh.state.refSha('acme/sync', `refs/pull/${number}/merge`)
    const second = await commitFile(clone, 'feature', 'a.txt', 'two\n')
    const pull = gh.state.pull('acme/sync', number)
    expect(pull.headSha).toBe(second)
    expect(gh.state.refSha('acme/sync', `refs/pull/${number}/head`)).toBe(second)
    const newMerge = gh.state.refSha('acme/sync', `refs/pull/${number}/merge`)
    expect(newMerge).not.toBe(oldMerge)
    const parents = await git(gh.repoPath('acme/sync'), [
      'rev-list',
      '--parents',
      '-n',
      '1',
      newMerge ?? '',
    ])
    expect(parents.split(' ').slice(1)).toEqual([gh.state.refSha('acme/sync', 'main'), second])
    const sync = gh.state.events.filter(
      (candidate) =>
        candidate.name === 'pull_request' && candidate.payload.action === 'synchronize',
    )
    expect(sync.at(-1)?.payload).toMatchObject({ before: first, after: second, number })
    expect(
      gh.state.events.some(
        (candidate) => candidate.name === 'push' && candidate.payload.after === second,
      ),
    ).toBe(true)

    // Base moves: the merge ref follows.
    await git(clone, ['switch', '--quiet', 'main'])
    const base = await commitFile(clone, 'main', 'b.txt', 'base\n')
    const merge = gh.state.refSha('acme/sync', `refs/pull/${number}/merge`) ?? ''
    expect(
      (await git(gh.repoPath('acme/sync'), ['rev-list', '--parents', '-n', '1', merge])).split(
        ' ',
      )[1],
    ).toBe(base)
    expect(gh.state.pull('acme/sync', number).baseSha).toBe(base)
    expect(gh.validationErrors).toEqual([])
  })

  it('marks conflicting PRs unmergeable and refuses to merge them (405), 409 when the head moved', async () => {
    await gh.createRepo('acme/conflict')
    const clone = await cloneRepo('acme/conflict', 'conflict')
    await commitFile(clone, 'feature', 'README.md', 'feature side\n')
    await git(clone, ['switch', '--quiet', 'main'])
    await commitFile(clone, 'main', 'README.md', 'main side\n')
    const octokit = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl, retries: 0 })
    const o = { owner: 'acme', repo: 'conflict' }
    const { data: pull } = await octokit.rest.pulls.create({
      ...o,
      head: 'feature',
      base: 'main',
      title: 'Conflict',
    })
    expect(pull).toMatchObject({
      mergeable: false,
      mergeable_state: 'dirty',
      merge_commit_sha: null,
    })
    expect(gh.state.refSha('acme/conflict', `refs/pull/${pull.number}/merge`)).toBeUndefined()
    await expectFailure(
      octokit.rest.pulls.merge({ ...o, pull_number: pull.number, sha: 'f'.repeat(40) }),
      409,
      'Head branch was modified. Review and try the merge again.',
    )
    await expectFailure(
      octokit.rest.pulls.merge({ ...o, pull_number: pull.number }),
      405,
      'Pull Request is not mergeable',
    )
    await expectFailure(
      octokit.rest.pulls.create({ ...o, head: 'main', base: 'main', title: 'Same' }),
      422,
      'The head ref may not be the same as the base ref.',
    )
    await git(clone, ['push', '--quiet', 'origin', 'main:empty'])
    await expectFailure(
      octokit.rest.pulls.create({ ...o, head: 'empty', base: 'main', title: 'No commits' }),
      422,
      'No commits between main and empty',
    )
    await expectFailure(
      octokit.rest.pulls.create({ ...o, head: 'feature', base: 'main', title: 'Dup' }),
      422,
      'A pull request already exists for acme:feature.',
    )
  })

  it('merges with a real commit on the base branch (merge and squash)', async () => {
    await gh.createRepo('acme/merge')
    const clone = await cloneRepo('acme/merge', 'merge')
    const head = await commitFile(clone, 'one', 'one.txt', '1\n')
    await commitFile(clone, 'two', 'two.txt', '2\n')
    const octokit = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
    const o = { owner: 'acme', repo: 'merge' }
    const { data: one } = await octokit.rest.pulls.create({
      ...o,
      head: 'one',
      base: 'main',
      title: 'One',
    })
    const { data: two } = await octokit.rest.pulls.create({
      ...o,
      head: 'two',
      base: 'main',
      title: 'Two',
    })
    const before = gh.state.refSha('acme/merge', 'main') ?? ''
    const { data: merged } = await octokit.rest.pulls.merge({
      ...o,
      pull_number: one.number,
      sha: head,
    })
    expect(gh.state.refSha('acme/merge', 'main')).toBe(merged.sha)
    const parents = (
      await git(gh.repoPath('acme/merge'), ['rev-list', '--parents', '-n', '1', merged.sha])
    )
      .split(' ')
      .slice(1)
    expect(parents).toEqual([before, head])
    const { data: afterOne } = await octokit.rest.pulls.get({ ...o, pull_number: one.number })
    expect(afterOne).toMatchObject({
      state: 'closed',
      merged: true,
      merge_commit_sha: merged.sha,
      merged_by: { login: gh.adminLogin },
    })
    // The other PR's merge ref is rebuilt on the new base.
    const twoMerge = gh.state.refSha('acme/merge', `refs/pull/${two.number}/merge`) ?? ''
    expect(
      (await git(gh.repoPath('acme/merge'), ['rev-list', '--parents', '-n', '1', twoMerge])).split(
        ' ',
      )[1],
    ).toBe(merged.sha)
    const { data: squashed } = await octokit.rest.pulls.merge({
      ...o,
      pull_number: two.number,
      merge_method: 'squash',
    })
    const squashParents = (
      await git(gh.repoPath('acme/merge'), ['rev-list', '--parents', '-n', '1', squashed.sha])
    )
      .split(' ')
      .slice(1)
    expect(squashParents).toEqual([merged.sha])
    expect(await git(gh.repoPath('acme/merge'), ['log', '-1', '--format=%s', squashed.sha])).toBe(
      'Two (#2)',
    )
    const { data: issue } = await octokit.rest.issues.get({ ...o, issue_number: two.number })
    expect(issue.state).toBe('closed')
    expect(issue.pull_request?.merged_at).toBeTruthy()
  })

  it('marks a PR merged when a push brings its head into the base, even if that push deletes the head', async () => {
    await gh.createRepo('acme/pushmerge')
    const clone = await cloneRepo('acme/pushmerge', 'pushmerge')
    const one = await commitFile(clone, 'one', 'one.txt', '1\n')
    await git(clone, ['switch', '--quiet', 'main'])
    const two = await commitFile(clone, 'two', 'two.txt', '2\n')
    await commitFile(clone, 'other', 'other.txt', '3\n')
    const octokit = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
    const o = { owner: 'acme', repo: 'pushmerge' }
    const open = async (head: string) =>
      (await octokit.rest.pulls.create({ ...o, head, base: 'main', title: head })).data.number
    const [first, second, third] = [await open('one'), await open('two'), await open('other')]
    // One atomic push: main fast-forwards to `one`, and `two`'s branch is deleted after
    // being merged into main too (main = merge of one and two).
    await git(clone, ['switch', '--quiet', '--detach', one])
    await git(clone, ['merge', '--quiet', '--no-edit', two])
    await git(clone, ['push', '--quiet', '--atomic', 'origin', 'HEAD:main', ':two'])
    const pull = (number: number) => gh.state.pull('acme/pushmerge', number)
    expect(pull(first)).toMatchObject({ state: 'closed', merged: true, mergeCommitSha: one })
    expect(pull(second)).toMatchObject({ state: 'closed', merged: true, mergeCommitSha: two })
    expect(pull(third)).toMatchObject({ state: 'open', merged: false })
    const { data } = await octokit.rest.pulls.get({ ...o, pull_number: first })
    expect(data.merged).toBe(true)
    expect(data.merged_by?.login).toBe(gh.adminLogin)
  })

  it('filters and paginates pull requests; closes and reopens them', async () => {
    const octokit = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
    const o = { owner: 'acme', repo: 'merge' }
    const clone = join(work, 'merge')
    await commitFile(clone, 'three', 'three.txt', '3\n')
    await commitFile(clone, 'four', 'four.txt', '4\n')
    await octokit.rest.pulls.create({ ...o, head: 'three', base: 'main', title: 'Three' })
    const { data: four } = await octokit.rest.pulls.create({
      ...o,
      head: 'four',
      base: 'main',
      title: 'Four',
    })
    expect(
      (await octokit.rest.pulls.list({ ...o, head: 'acme:three' })).data.map((pull) => pull.title),
    ).toEqual(['Three'])
    expect((await octokit.rest.pulls.list({ ...o, head: 'someone-else:three' })).data).toEqual([])
    expect((await octokit.rest.pulls.list({ ...o, base: 'other' })).data).toEqual([])
    expect(
      (await octokit.rest.pulls.list({ ...o, state: 'closed' })).data
        .map((pull) => pull.number)
        .sort(),
    ).toEqual([1, 2])
    const all = await octokit.paginate(octokit.rest.pulls.list, { ...o, state: 'all', per_page: 1 })
    expect(all.map((pull) => pull.number)).toEqual([4, 3, 2, 1])
    await octokit.rest.pulls.update({ ...o, pull_number: four.number, state: 'closed' })
    expect(gh.state.pull('acme/merge', four.number).state).toBe('closed')
    const reopened = await gh.reopenPullRequestAsUser('acme/merge', four.number, 'dev')
    expect(reopened).toMatchObject({ action: 'reopened', pull_request: { state: 'open' } })
    const closed = await gh.mergePullRequestAsUser('acme/merge', four.number, 'dev')
    expect(closed).toMatchObject({
      action: 'closed',
      pull_request: { merged: true, merged_by: { login: 'dev' } },
    })
    expect(gh.validationErrors).toEqual([])
  })

  it('keeps statuses like GitHub: latest per context, failure wins, 422 on long descriptions and bad states', async () => {
    const octokit = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
    const o = { owner: 'acme', repo: 'merge' }
    const sha = gh.state.refSha('acme/merge', 'main') ?? ''
    expect(
      (await octokit.rest.repos.getCombinedStatusForRef({ ...o, ref: 'main' })).data,
    ).toMatchObject({ state: 'pending', total_count: 0 })
    await octokit.rest.repos.createCommitStatus({ ...o, sha, state: 'failure', context: 'a' })
    await octokit.rest.repos.createCommitStatus({ ...o, sha, state: 'success', context: 'a' })
    await octokit.rest.repos.createCommitStatus({
      ...o,
      sha,
      state: 'success',
      context: 'b',
      description: 'x'.repeat(140),
    })
    expect(
      (await octokit.rest.repos.getCombinedStatusForRef({ ...o, ref: 'main' })).data.state,
    ).toBe('success')
    await octokit.rest.repos.createCommitStatus({ ...o, sha, state: 'error', context: 'b' })
    const combined = (await octokit.rest.repos.getCombinedStatusForRef({ ...o, ref: sha })).data
    expect(combined.state).toBe('failure')
    expect(combined.statuses.map((status) => `${status.context}:${status.state}`).sort()).toEqual([
      'a:success',
      'b:error',
    ])
    const listed = await octokit.rest.repos.listCommitStatusesForRef({
      ...o,
      ref: sha,
      per_page: 3,
    })
    expect(listed.data.map((status) => status.state)).toEqual(['error', 'success', 'success'])
    expect(listed.headers.link).toContain('rel="next"')
    await expectFailure(
      octokit.rest.repos.createCommitStatus({
        ...o,
        sha,
        state: 'success',
        context: 'c',
        description: 'x'.repeat(141),
      }),
      422,
      'description is too long (maximum is 140 characters)',
    )
    await expectFailure(
      octokit.rest.repos.createCommitStatus({
        ...o,
        sha,
        state: 'bogus' as 'success',
        context: 'c',
      }),
      422,
      'state is not included in the list',
    )
    const event = gh.statusEvent('acme/merge', sha, 'b')
    expect(event).toMatchObject({ sha, context: 'b', state: 'error', branches: [{ name: 'main' }] })
    expect(gh.validationErrors).toEqual([])
  })

  it('creates, moves and deletes refs with GitHub’s errors', async () => {
    const octokit = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
    const o = { owner: 'acme', repo: 'merge' }
    const main = gh.state.refSha('acme/merge', 'main') ?? ''
    const older = gh.state.refSha('acme/merge', 'main~1') ?? ''
    await octokit.rest.git.createRef({ ...o, ref: 'refs/heads/lock', sha: older })
    await expectFailure(
      octokit.rest.git.createRef({ ...o, ref: 'refs/heads/lock', sha: older }),
      422,
      'Reference already exists',
    )
    await octokit.rest.git.updateRef({ ...o, ref: 'heads/lock', sha: main })
    await expectFailure(
      octokit.rest.git.updateRef({ ...o, ref: 'heads/lock', sha: older }),
      422,
      'Update is not a fast forward',
    )
    await octokit.rest.git.updateRef({ ...o, ref: 'heads/lock', sha: older, force: true })
    expect(gh.state.refSha('acme/merge', 'refs/heads/lock')).toBe(older)
    const matching = await octokit.rest.git.listMatchingRefs({ ...o, ref: 'heads/lo' })
    expect(matching.data.map((ref) => ref.ref)).toEqual(['refs/heads/lock'])
    await octokit.rest.git.deleteRef({ ...o, ref: 'heads/lock' })
    await expectFailure(
      octokit.rest.git.deleteRef({ ...o, ref: 'heads/lock' }),
      422,
      'Reference does not exist',
    )
    // Branch names with slashes work in branch and ref paths.
    await octokit.rest.git.createRef({ ...o, ref: 'refs/heads/fleet-promote/pr-1/dev', sha: main })
    expect(
      (await octokit.rest.repos.getBranch({ ...o, branch: 'fleet-promote/pr-1/dev' })).data.commit
        .sha,
    ).toBe(main)
    expect(
      (await octokit.rest.git.getRef({ ...o, ref: 'heads/fleet-promote/pr-1/dev' })).data.object
        .sha,
    ).toBe(main)
  })

  it('comments, reactions (200 when existing) and labels; 404 for missing issues', async () => {
    const octokit = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
    const o = { owner: 'acme', repo: 'fleet' }
    const { id, event } = gh.comment('acme/fleet', 1, {
      user: 'reviewer',
      body: '.promote testing',
    })
    expect(event).toMatchObject({
      action: 'created',
      issue: { number: 1, pull_request: {} },
      comment: { id, body: '.promote testing' },
    })
    const first = await octokit.rest.reactions.createForIssueComment({
      ...o,
      comment_id: id,
      content: 'eyes',
    })
    const again = await octokit.rest.reactions.createForIssueComment({
      ...o,
      comment_id: id,
      content: 'eyes',
    })
    expect([first.status, again.status]).toEqual([201, 200])
    expect(again.data.id).toBe(first.data.id)
    expect(gh.state.reactions(id).map((reaction) => reaction.content)).toEqual(['eyes'])
    const other = gh.addUser('other')
    const otherClient = createGitHubClient(other.token, { baseUrl: gh.apiUrl, retries: 0 })
    await expect(
      otherClient.rest.issues.updateComment({ ...o, comment_id: id, body: 'hijack' }),
    ).rejects.toMatchObject({ status: 403 })
    await octokit.rest.issues.addLabels({ ...o, issue_number: 1, labels: ['fleet-promote'] })
    expect(gh.state.issue('acme/fleet', 1)?.labels).toEqual(['fleet-promote'])
    await expect(octokit.rest.issues.get({ ...o, issue_number: 404 })).rejects.toMatchObject({
      status: 404,
    })
    await expect(octokit.rest.issues.getComment({ ...o, comment_id: 1 })).rejects.toMatchObject({
      status: 404,
    })
  })

  it('checks workflow dispatches like GitHub, records them and builds their events', async () => {
    const octokit = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
    const o = { owner: 'acme', repo: 'fleet' }
    const clone = await cloneRepo('acme/fleet', 'dispatch')
    await git(clone, ['switch', '--quiet', 'main'])
    await mkdir(join(clone, '.github', 'workflows'), { recursive: true })
    await writeFile(
      join(clone, '.github', 'workflows', 'promote.yml'),
      'on:\n  workflow_dispatch:\n    inputs:\n      pr: { required: true, type: number }\n      noop: { type: boolean, default: false }\njobs: {}\n',
    )
    await writeFile(join(clone, '.github', 'workflows', 'ci.yml'), 'on: [push]\njobs: {}\n')
    await git(clone, ['add', '-A'])
    await git(clone, ['commit', '--quiet', '-m', 'workflows'])
    await git(clone, ['push', '--quiet', 'origin', 'HEAD:main'])
    const dispatch = (workflow_id: string, ref: string, inputs: Record<string, string>) =>
      octokit.rest.actions.createWorkflowDispatch({ ...o, workflow_id, ref, inputs })
    await expectFailure(dispatch('missing.yml', 'main', {}), 404, 'Not Found')
    await expectFailure(dispatch('ci.yml', 'main', {}), 422, "does not have 'workflow_dispatch'")
    await expectFailure(
      dispatch('promote.yml', 'nowhere', { pr: '1' }),
      422,
      'No ref found for: nowhere',
    )
    await expectFailure(
      dispatch('promote.yml', 'main', { pr: '1', extra: 'x' }),
      422,
      'Unexpected inputs provided: ["extra"]',
    )
    await expectFailure(
      dispatch('promote.yml', 'main', {}),
      422,
      "Required input 'pr' not provided",
    )
    expect(gh.state.dispatches('acme/fleet')).toEqual([])
    const response = await dispatch('promote.yml', 'main', { pr: '1' })
    expect(response.status).toBe(204)
    expect(gh.state.dispatches('acme/fleet')).toMatchObject([
      { workflowId: 'promote.yml', ref: 'main', inputs: { pr: '1' } },
    ])
    const event = gh.workflowDispatchEvent('acme/fleet', 'refs/heads/main', {
      pr: '1',
      target: 'testing',
    })
    expect(event).toMatchObject({
      ref: 'refs/heads/main',
      inputs: { pr: '1', target: 'testing' },
      repository: { full_name: 'acme/fleet' },
    })
  })

  it('describes fork PRs like GitHub and follows direct changes to the bare repository', async () => {
    await gh.createRepo('acme/forks')
    const clone = await cloneRepo('acme/forks', 'forks')
    const head = await commitFile(clone, 'patch', 'p.txt', 'p\n')
    const { number, event } = await gh.openPullRequest('acme/forks', {
      head: 'patch',
      base: 'main',
      title: 'From fork',
      user: 'outsider',
      fromFork: true,
    })
    expect(event).toMatchObject({
      pull_request: {
        head: {
          label: 'outsider:patch',
          sha: head,
          repo: { fork: true, full_name: 'outsider/forks' },
        },
        author_association: 'NONE',
      },
    })
    // A test moving the branch with git directly, then refreshing.
    const bare = gh.repoPath('acme/forks')
    const tree = await git(bare, ['rev-parse', `${head}^{tree}`])
    const next = await git(bare, ['commit-tree', tree, '-p', head, '-m', 'amend'])
    await git(bare, ['update-ref', 'refs/heads/patch', next])
    await gh.refreshRefs('acme/forks')
    expect(gh.state.pull('acme/forks', number).headSha).toBe(next)
    expect(gh.state.refSha('acme/forks', `refs/pull/${number}/head`)).toBe(next)
    // Deleting the head branch closes the pull request, as on GitHub; refs/pull/N/head stays.
    const octokit = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
    await octokit.rest.git.deleteRef({ owner: 'acme', repo: 'forks', ref: 'heads/patch' })
    expect(gh.state.pull('acme/forks', number)).toMatchObject({ state: 'closed', merged: false })
    expect(gh.state.refSha('acme/forks', `refs/pull/${number}/head`)).toBe(next)
    expect(gh.state.refSha('acme/forks', `refs/pull/${number}/merge`)).toBeUndefined()
    expect(gh.state.events.at(-1)).toMatchObject({
      name: 'pull_request',
      payload: { action: 'closed', number, pull_request: { state: 'closed', merged: false } },
    })
    expect(gh.validationErrors).toEqual([])
  })
})
