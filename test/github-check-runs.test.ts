// Check runs on the GitHub simulator as GitHub documents them, and the status
// port of `statuses: per-stage` on top of them (actions/lib/github/status-board.ts):
// what it reads, what it writes, and how an external CD's commit status and a
// stage's check run combine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { setAggregateStatus, PIPELINE_CONTEXT } from '../actions/lib/aggregate.js'
import { readStatuses, StatusWriter } from '../actions/lib/github/status-board.js'
import { environmentContext, type CommitStatus } from '../actions/lib/statuses.js'
import { createGitHubClient } from './support/github-client.js'
import { startGitHubSimulator, type GitHubSimulator } from './support/github/index.js'

let gh: GitHubSimulator
let sha: string
const FULL_NAME = 'acme/checks'
const o = { owner: 'acme', repo: 'checks' }

beforeAll(async () => {
  gh = await startGitHubSimulator()
  await gh.createRepo(FULL_NAME)
  sha = gh.state.refSha(FULL_NAME, 'main') ?? ''
})
afterAll(async () => {
  expect(gh.validationErrors).toEqual([])
  await gh.stop()
})

const client = () => createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl, retries: 0 })

async function refusal(call: Promise<unknown>): Promise<{ status: number; body: unknown }> {
  try {
    await call
  } catch (error) {
    const { status, response } = error as { status: number; response?: { data: unknown } }
    return { status, body: response?.data }
  }
  throw new Error('the request was not refused')
}

describe('check runs on the simulator', () => {
  it('creates, updates in place, and lists them per ref with the check_name filter and pages', async () => {
    const octokit = client()
    const created = await octokit.rest.checks.create({
      ...o,
      name: 'lint',
      head_sha: sha,
      status: 'in_progress',
      output: { title: 'running', summary: 'started' },
    })
    for (const name of ['test-1', 'test-2', 'test-3'])
      await octokit.rest.checks.create({ ...o, name, head_sha: sha })
    const updated = await octokit.rest.checks.update({
      ...o,
      check_run_id: created.data.id,
      conclusion: 'failure',
      output: { summary: 'two problems', text: 'details' },
    })
    expect(updated.data).toMatchObject({
      id: created.data.id,
      status: 'completed',
      conclusion: 'failure',
      output: { title: 'running', summary: 'two problems', text: 'details' },
    })
    const lint = await octokit.rest.checks.listForRef({ ...o, ref: sha, check_name: 'lint' })
    expect(lint.data.check_runs.map((run) => run.id)).toEqual([created.data.id])
    expect(lint.data.total_count).toBe(1)
    const page = await octokit.rest.checks.listForRef({ ...o, ref: 'main', per_page: 3 })
    expect(page.data.total_count).toBe(4)
    expect(page.data.check_runs).toHaveLength(3)
    expect(page.headers.link).toContain('rel="next"')
    const all = await octokit.paginate(octokit.rest.checks.listForRef, {
      ...o,
      ref: sha,
      per_page: 3,
    })
    expect(all.map((run) => run.name).sort()).toEqual(['lint', 'test-1', 'test-2', 'test-3'])
  })

  it('refuses a personal access token, as only GitHub Apps write check runs', async () => {
    const person = gh.addUser('pat-user', { tokenKind: 'user' })
    gh.setPermission(FULL_NAME, person.login, 'admin')
    const octokit = createGitHubClient(person.token, { baseUrl: gh.apiUrl, retries: 0 })
    expect(
      await refusal(octokit.rest.checks.create({ ...o, name: 'x', head_sha: sha })),
    ).toMatchObject({
      status: 403,
      body: { message: 'You must authenticate via a GitHub App.' },
    })
    // Reading is fine.
    await octokit.rest.checks.listForRef({ ...o, ref: sha })
  })

  it('refuses output over 65,535 characters, then over 65,535 bytes, and a refused update changes nothing', async () => {
    const octokit = client()
    const { data: run } = await octokit.rest.checks.create({
      ...o,
      name: 'big',
      head_sha: sha,
      output: { title: 't', summary: 'fits' },
    })
    expect(
      await refusal(
        octokit.rest.checks.update({
          ...o,
          check_run_id: run.id,
          conclusion: 'success',
          output: { summary: 'x'.repeat(65_536) },
        }),
      ),
    ).toMatchObject({
      status: 422,
      body: {
        message: 'Invalid request.\n\nOnly 65535 characters are allowed; 65536 were supplied.',
      },
    })
    // 40,000 characters, 80,000 bytes: within the schema, over the byte limit (github/docs#35252).
    expect(
      await refusal(
        octokit.rest.checks.update({
          ...o,
          check_run_id: run.id,
          output: { summary: 'ok', text: 'é'.repeat(40_000) },
        }),
      ),
    ).toMatchObject({
      status: 422,
      body: {
        message: 'Validation Failed',
        errors: [
          {
            resource: 'CheckRun',
            field: 'text',
            code: 'custom',
            message: 'text exceeds a maximum bytesize of 65535',
          },
        ],
      },
    })
    expect(
      await refusal(
        octokit.rest.checks.create({
          ...o,
          name: 'x',
          head_sha: sha,
          output: { summary: 's' } as never,
        }),
      ),
    ).toMatchObject({
      status: 422,
      body: { message: 'Invalid request.\n\n"title" wasn\'t supplied.' },
    })
    const after = gh.state.checkRuns(FULL_NAME).find((candidate) => candidate.id === run.id)
    expect(after).toMatchObject({ status: 'queued', conclusion: null, summary: 'fits', text: null })
    // Exactly at the limit is fine.
    await octokit.rest.checks.update({
      ...o,
      check_run_id: run.id,
      output: { summary: 'é'.repeat(32_767) },
    })
  })
})

describe('the status port', () => {
  const status = (
    env: string,
    state: CommitStatus['state'],
    description: string,
  ): CommitStatus => ({
    context: environmentContext(env),
    state,
    description,
  })
  const writes = () =>
    gh.requests
      .filter((r) => r.method !== 'GET')
      .map((r) => r.route.replace('/repos/{owner}/{repo}', ''))

  it('per-environment: one commit status per change, as before, and no check run', async () => {
    const repo = { owner: 'acme', repo: 'per-env' }
    await gh.createRepo('acme/per-env')
    const head = gh.state.refSha('acme/per-env', 'main') ?? ''
    const octokit = client()
    const stageOf = () => 'testing'
    gh.resetRequests()
    const current = await readStatuses(octokit, repo, head, 'per-environment')
    const writer = new StatusWriter(octokit, repo, head, {
      mode: 'per-environment',
      stageOf,
      current,
    })
    await writer.set([status('a', 'pending', 'waiting'), status('b', 'pending', 'waiting')])
    await writer.set([status('a', 'pending', 'waiting')])
    expect(await writer.flush()).toBe(0)
    expect(writes()).toEqual(['POST /statuses/{sha}', 'POST /statuses/{sha}'])
    expect(gh.requests.map((r) => r.route)).not.toContain(
      'GET /repos/{owner}/{repo}/commits/{ref}/check-runs',
    )
  })

  it('per-stage: a failed stage deployed again gets a new check run, and the newest is read', async () => {
    const repo = { owner: 'acme', repo: 'reopen' }
    await gh.createRepo('acme/reopen')
    const head = gh.state.refSha('acme/reopen', 'main') ?? ''
    const octokit = client()
    const write = async (...changes: CommitStatus[]) => {
      const writer = new StatusWriter(octokit, repo, head, {
        mode: 'per-stage',
        stageOf: () => 'production',
        current: await readStatuses(octokit, repo, head, 'per-stage'),
      })
      await writer.set(changes)
      return writer.flush()
    }
    expect(await write(status('p-1', 'failure', 'Degraded'))).toBe(1)
    expect(await write(status('p-1', 'pending', 'deploying'))).toBe(1)
    const runs = gh.state.checkRuns('acme/reopen', head)
    expect(runs.map((run) => `${run.status}/${run.conclusion ?? ''}`)).toEqual([
      'completed/failure',
      'in_progress/',
    ])
    expect(
      (await readStatuses(octokit, repo, head, 'per-stage')).get('fleet-promote/p-1'),
    ).toMatchObject({
      state: 'pending',
      description: 'deploying',
    })
    // Completing it again updates the newer run in place.
    expect(await write(status('p-1', 'success', 'deployed'))).toBe(1)
    expect(gh.state.checkRuns('acme/reopen', head).map((run) => run.conclusion)).toEqual([
      'failure',
      'success',
    ])
  })

  it("per-stage: one check run per stage; an external CD's status wins and takes the suite's writes for its environment", async () => {
    const octokit = client()
    const stages: Record<string, string> = {
      't-1': 'testing',
      'p-1': 'production',
      'p-2': 'production',
    }
    const stageOf = (env: string) => stages[env]
    const writer = async () =>
      new StatusWriter(octokit, o, sha, {
        mode: 'per-stage',
        stageOf,
        current: await readStatuses(octokit, o, sha, 'per-stage'),
        runUrl: 'https://github.com/acme/checks/actions/runs/7',
      })
    const first = await writer()
    gh.resetRequests()
    await first.set([
      status('t-1', 'pending', 'child PR #2; promote with .promote testing'),
      status('p-1', 'pending', 'child PR #3; promote with .promote production'),
      status('p-2', 'pending', 'child PR #4; promote with .promote production'),
    ])
    expect(writes()).toEqual([])
    expect(await first.flush()).toBe(2)
    expect(writes()).toEqual(['POST /check-runs', 'POST /check-runs'])

    // The same changes from another run: nothing to write.
    const again = await writer()
    gh.resetRequests()
    await again.set([status('p-1', 'pending', 'child PR #3; promote with .promote production')])
    expect(await again.flush()).toBe(0)
    expect(writes()).toEqual([])

    // Kargo reports p-1 through the status API: it wins over the board.
    await octokit.rest.repos.createCommitStatus({
      ...o,
      sha,
      context: 'fleet-promote/p-1',
      state: 'success',
      description: 'Kargo: verified',
    })
    const read = await readStatuses(octokit, o, sha, 'per-stage')
    expect(read.get('fleet-promote/p-1')).toMatchObject({
      state: 'success',
      description: 'Kargo: verified',
    })
    expect(read.get('fleet-promote/p-1')?.board).toBeUndefined()
    expect(read.get('fleet-promote/p-2')).toMatchObject({ state: 'pending', board: 'production' })

    // The suite's next word about p-1 goes to that status; p-2's to the board.
    const third = await writer()
    gh.resetRequests()
    await third.set([status('p-1', 'pending', 'deploying'), status('p-2', 'success', 'deployed')])
    expect(await third.flush()).toBe(1)
    expect(writes()).toEqual(['POST /statuses/{sha}', 'PATCH /check-runs/{check_run_id}'])

    // The gate reads both, in per-stage mode and from aggregate-status (auto).
    for (const mode of ['per-stage', 'auto'] as const) {
      const gate = await setAggregateStatus(octokit, o, {
        sha,
        impacted: ['t-1', 'p-1', 'p-2'],
        statuses: mode,
      })
      expect(gate).toMatchObject({
        state: 'pending',
        description: '1/3 succeeded; waiting for p-1, t-1',
      })
    }
    expect(
      gh.state.latestStatuses(FULL_NAME, sha).find((s) => s.context === PIPELINE_CONTEXT)?.state,
    ).toBe('pending')
    const production = gh.state
      .checkRuns(FULL_NAME, sha)
      .filter((run) => run.name === 'fleet-promote/stage/production')
    expect(production).toHaveLength(1)
    // p-1 left the board: Kargo's status speaks for it, and the summary says so.
    expect(production[0]).toMatchObject({
      status: 'completed',
      conclusion: 'success',
      title: '1/1 succeeded',
      detailsUrl: 'https://github.com/acme/checks/actions/runs/7',
    })
    expect(production[0]?.summary).toContain(
      'Reported through their own commit status `fleet-promote/<environment>`: p-1.',
    )
  })
})
