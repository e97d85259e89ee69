import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createGitHubClient, type GitHubClient } from './support/github-client.js'
import { runChecked } from '../actions/lib/process.js'
import { startGitHubSimulator, type GitHubSimulator } from './support/github/index.js'
import { checkResponse, checkWebhook } from './support/github/openapi.js'
import { ROUTES } from './support/github/router.js'

const OWNER = 'acme'
const REPO = 'openapi'
const FULL = `${OWNER}/${REPO}`

let gh: GitHubSimulator
let work: string
let octokit: GitHubClient

async function git(cwd: string, args: string[]) {
  const basic = Buffer.from(`x-access-token:${gh.adminToken}`).toString('base64')
  const env = {
    ...process.env,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.extraHeader',
    GIT_CONFIG_VALUE_0: `Authorization: basic ${basic}`,
    GIT_AUTHOR_NAME: 'Dev',
    GIT_AUTHOR_EMAIL: 'dev@example.com',
    GIT_COMMITTER_NAME: 'Dev',
    GIT_COMMITTER_EMAIL: 'dev@example.com',
  }
  return (await runChecked('git', args, { cwd, env })).stdout.trim()
}

async function commitAndPush(clone: string, branch: string, file: string, content: string) {
  await git(clone, ['switch', '--quiet', '-C', branch])
  await writeFile(join(clone, file), content)
  await git(clone, ['add', file])
  await git(clone, ['commit', '--quiet', '-m', `${file} on ${branch}`])
  await git(clone, ['push', '--quiet', '--force', 'origin', branch])
  return git(clone, ['rev-parse', 'HEAD'])
}

beforeAll(async () => {
  gh = await startGitHubSimulator()
  work = await mkdtemp(join(tmpdir(), 'github-openapi-'))
  octokit = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
})

afterAll(async () => {
  await gh.stop()
  await rm(work, { recursive: true, force: true })
})

describe('OpenAPI fidelity', () => {
  it('the validator rejects bodies that do not match (so an empty error list means something)', () => {
    expect(
      checkResponse('GET', '/repos/{owner}/{repo}/pulls/{pull_number}', 200, { number: 'one' })
        .kind,
    ).toBe('invalid')
    expect(checkResponse('POST', '/repos/{owner}/{repo}/statuses/{sha}', 201, { id: 1 }).kind).toBe(
      'invalid',
    )
    expect(checkWebhook('webhook-status', { sha: 1 })).toMatch(/must/)
  })

  it('every route, every success and error response, and every event payload match GitHub’s descriptions', async () => {
    const o = { owner: OWNER, repo: REPO }
    await gh.createRepo(FULL)
    const reviewer = gh.addUser('reviewer')
    gh.setPermission(FULL, 'reviewer', 'maintain')
    const clone = join(work, 'clone')
    await git(work, ['clone', '--quiet', gh.remoteUrl(FULL), clone])
    // The workflow the dispatch below names: GitHub answers 404 for one not on the default branch.
    await mkdir(join(clone, '.github', 'workflows'), { recursive: true })
    await commitAndPush(
      clone,
      'main',
      '.github/workflows/promote.yml',
      'on:\n  workflow_dispatch:\n    inputs:\n      pr: { required: true }\n      target: { required: true }\njobs: {}\n',
    )
    const mainSha = await git(clone, ['rev-parse', 'HEAD'])
    const headSha = await commitAndPush(clone, 'feature', 'a.yaml', 'a: 1\n')
    await commitAndPush(clone, 'other', 'b.yaml', 'b: 1\n')

    // repository, users, rate limit
    await octokit.rest.repos.get(o)
    await octokit.rest.users.getByUsername({ username: 'reviewer' })
    await octokit.rest.users.getAuthenticated()
    await octokit.rest.rateLimit.get()
    const permission = await octokit.rest.repos.getCollaboratorPermissionLevel({
      ...o,
      username: 'reviewer',
    })
    expect(permission.data).toMatchObject({ permission: 'write', role_name: 'maintain' })

    // branches and refs
    const branches = await octokit.rest.repos.listBranches({ ...o, per_page: 2 })
    expect(branches.data.map((branch) => branch.name)).toEqual(['feature', 'main'])
    expect(branches.headers.link).toContain('rel="next"')
    await octokit.rest.repos.getBranch({ ...o, branch: 'feature' })
    await octokit.rest.repos.getCommit({ ...o, ref: headSha })
    await octokit.rest.git.getRef({ ...o, ref: 'heads/feature' })
    await octokit.rest.git.listMatchingRefs({ ...o, ref: 'heads/' })
    await octokit.rest.git.createRef({ ...o, ref: 'refs/heads/lock/env', sha: mainSha })
    await expect(
      octokit.rest.git.createRef({ ...o, ref: 'refs/heads/lock/env', sha: mainSha }),
    ).rejects.toMatchObject({ status: 422 })
    await octokit.rest.git.updateRef({ ...o, ref: 'heads/lock/env', sha: headSha })
    await expect(
      octokit.rest.git.updateRef({ ...o, ref: 'heads/lock/env', sha: mainSha }),
    ).rejects.toMatchObject({ status: 422 })
    await octokit.rest.git.deleteRef({ ...o, ref: 'heads/lock/env' })
    await expect(octokit.rest.git.getRef({ ...o, ref: 'heads/lock/env' })).rejects.toMatchObject({
      status: 404,
    })

    // git data and contents
    const { data: tree } = await octokit.rest.git.createTree({
      ...o,
      tree: [{ path: 'locks/dev.json', mode: '100644', type: 'blob', content: '{}' }],
    })
    const { data: lockCommit } = await octokit.rest.git.createCommit({
      ...o,
      message: 'lock dev',
      tree: tree.sha,
      parents: [],
    })
    await octokit.rest.git.createRef({
      ...o,
      ref: 'refs/heads/fleet-promote/locks',
      sha: lockCommit.sha,
    })
    await octokit.rest.git.getCommit({ ...o, commit_sha: lockCommit.sha })
    const { data: listed } = await octokit.rest.git.getTree({
      ...o,
      tree_sha: lockCommit.sha,
      recursive: 'true',
    })
    expect(listed.tree.map((entry) => entry.path)).toEqual(['locks', 'locks/dev.json'])
    const { data: compared } = await octokit.rest.repos.compareCommitsWithBasehead({
      ...o,
      basehead: `${mainSha}...${headSha}`,
    })
    expect(compared).toMatchObject({ status: 'ahead', ahead_by: 1, behind_by: 0 })
    const { data: lockFile } = await octokit.rest.repos.getContent({
      ...o,
      path: 'locks/dev.json',
      ref: 'fleet-promote/locks',
    })
    expect('content' in lockFile && Buffer.from(lockFile.content, 'base64').toString()).toBe('{}')
    await octokit.rest.repos.getContent({ ...o, path: 'locks', ref: 'fleet-promote/locks' })

    // pull requests
    const { data: pull } = await octokit.rest.pulls.create({
      ...o,
      head: 'feature',
      base: 'main',
      title: 'Feature',
      body: 'body',
    })
    await expect(
      octokit.rest.pulls.create({ ...o, head: 'feature', base: 'main', title: 'again' }),
    ).rejects.toMatchObject({ status: 422 })
    const { data: second } = await octokit.rest.pulls.create({
      ...o,
      head: `${OWNER}:other`,
      base: 'main',
      title: 'Other',
      draft: true,
    })
    await octokit.rest.pulls.list({ ...o, head: `${OWNER}:feature`, state: 'all' })
    await octokit.rest.pulls.get({ ...o, pull_number: pull.number })
    await octokit.rest.pulls.update({
      ...o,
      pull_number: second.number,
      title: 'Other (renamed)',
      state: 'closed',
    })
    await octokit.rest.pulls.listFiles({ ...o, pull_number: pull.number })
    const reviewerClient = createGitHubClient(reviewer.token, { baseUrl: gh.apiUrl })
    await reviewerClient.rest.pulls.createReview({
      ...o,
      pull_number: pull.number,
      event: 'APPROVE',
    })
    await octokit.rest.pulls.listReviews({ ...o, pull_number: pull.number })

    // issues, comments, reactions, labels
    await octokit.rest.issues.get({ ...o, issue_number: pull.number })
    const { data: issue } = await octokit.rest.issues.create({
      ...o,
      title: 'Fleet dashboard',
      labels: ['dashboard'],
    })
    await octokit.rest.issues.update({ ...o, issue_number: issue.number, body: 'versions' })
    await octokit.rest.issues.listForRepo({ ...o, labels: 'dashboard' })
    const { data: comment } = await octokit.rest.issues.createComment({
      ...o,
      issue_number: pull.number,
      body: 'summary',
    })
    await octokit.rest.issues.listComments({ ...o, issue_number: pull.number })
    await octokit.rest.issues.getComment({ ...o, comment_id: comment.id })
    await octokit.rest.issues.updateComment({ ...o, comment_id: comment.id, body: 'summary v2' })
    await octokit.rest.reactions.createForIssueComment({
      ...o,
      comment_id: comment.id,
      content: 'eyes',
    })
    await octokit.rest.reactions.createForIssueComment({
      ...o,
      comment_id: comment.id,
      content: 'eyes',
    })
    await octokit.rest.reactions.listForIssueComment({ ...o, comment_id: comment.id })
    await octokit.rest.issues.createLabel({ ...o, name: 'fleet-promote', color: '0e8a16' })
    await octokit.rest.issues.addLabels({
      ...o,
      issue_number: pull.number,
      labels: ['fleet-promote', 'needs-review'],
    })
    await octokit.rest.issues.removeLabel({ ...o, issue_number: pull.number, name: 'needs-review' })
    await octokit.rest.issues.listLabelsForRepo(o)
    const { data: doomed } = await octokit.rest.issues.createComment({
      ...o,
      issue_number: pull.number,
      body: 'temporary',
    })
    await octokit.rest.issues.deleteComment({ ...o, comment_id: doomed.id })

    // statuses and check runs
    await octokit.rest.repos.createCommitStatus({
      ...o,
      sha: headSha,
      state: 'pending',
      context: 'fleet-promote/dev',
      target_url: 'https://example.com/run/1',
    })
    await expect(
      octokit.rest.repos.createCommitStatus({
        ...o,
        sha: headSha,
        state: 'success',
        context: 'x',
        description: 'd'.repeat(141),
      }),
    ).rejects.toMatchObject({ status: 422 })
    await octokit.rest.repos.getCombinedStatusForRef({ ...o, ref: 'feature' })
    await octokit.rest.repos.listCommitStatusesForRef({ ...o, ref: headSha })
    const { data: run } = await octokit.rest.checks.create({
      ...o,
      name: 'fleet-promote',
      head_sha: headSha,
      status: 'in_progress',
    })
    await octokit.rest.checks.update({
      ...o,
      check_run_id: run.id,
      conclusion: 'success',
      output: { title: 'ok', summary: 'all good' },
    })
    await octokit.rest.checks.listForRef({ ...o, ref: headSha })

    // deployments and workflow dispatch
    const { data: deployment } = await octokit.rest.repos.createDeployment({
      ...o,
      ref: 'feature',
      environment: 'dev',
      auto_merge: false,
      required_contexts: [],
    })
    if (!('id' in deployment)) throw new Error('deployment not created')
    await octokit.rest.repos.createDeploymentStatus({
      ...o,
      deployment_id: deployment.id,
      state: 'success',
      environment_url: 'https://dev.example.com',
    })
    await octokit.rest.repos.listDeploymentStatuses({ ...o, deployment_id: deployment.id })
    await octokit.rest.repos.listDeployments({ ...o, environment: 'dev' })
    await octokit.rest.actions.createWorkflowDispatch({
      ...o,
      workflow_id: 'promote.yml',
      ref: 'main',
      inputs: { pr: '1', target: 'testing' },
    })

    // merge: 409 when the head moved, then a real merge
    // plugin-retry retries 405/409 by default; these answers are final here.
    const once = { request: { retries: 0 } }
    await expect(
      octokit.rest.pulls.merge({ ...o, pull_number: pull.number, sha: mainSha, ...once }),
    ).rejects.toMatchObject({ status: 409 })
    const merged = await octokit.rest.pulls.merge({ ...o, pull_number: pull.number, sha: headSha })
    expect(merged.data.merged).toBe(true)
    await expect(
      octokit.rest.pulls.merge({ ...o, pull_number: pull.number, ...once }),
    ).rejects.toMatchObject({ status: 405 })

    // errors that every route can produce
    await expect(octokit.rest.issues.get({ ...o, issue_number: 999 })).rejects.toMatchObject({
      status: 404,
    })

    // events
    const reopened = await gh.openPullRequest(FULL, {
      head: 'other',
      base: 'main',
      title: 'Other again',
      user: 'reviewer',
    })
    await commitAndPush(clone, 'other', 'c.yaml', 'c: 1\n')
    gh.pullRequestEvent(FULL, reopened.number, 'synchronize')
    gh.comment(FULL, reopened.number, { user: 'reviewer', body: '.promote testing' })
    await gh.closePullRequestAsUser(FULL, reopened.number, 'reviewer')
    await gh.reopenPullRequestAsUser(FULL, reopened.number, 'reviewer')
    await gh.mergePullRequestAsUser(FULL, reopened.number, 'reviewer')
    gh.statusEvent(FULL, headSha, 'fleet-promote/dev')
    gh.workflowDispatchEvent(FULL, 'refs/heads/main', { pr: '1', target: 'testing' })
    const eventNames = new Set(
      gh.state.events.map(
        (event) =>
          `${event.name}.${typeof event.payload.action === 'string' ? event.payload.action : ''}`,
      ),
    )
    expect([...eventNames].sort()).toEqual(
      expect.arrayContaining([
        'issue_comment.created',
        'pull_request.closed',
        'pull_request.opened',
        'pull_request.reopened',
        'pull_request.synchronize',
        'push.',
        'status.',
        'workflow_dispatch.',
      ]),
    )

    const exercised = new Set(Object.keys(gh.routeCounts()))
    const missing = ROUTES.map((route) => `${route.method} ${route.template}`).filter(
      (key) => !exercised.has(key),
    )
    expect(missing).toEqual([])
    expect(gh.validationErrors).toEqual([])
  })
})
