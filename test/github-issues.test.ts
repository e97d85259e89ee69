// The GitHub port's marked issue (the fleet report's dashboard): the same
// trust rule as marked comments, updated in place, reopened rather than
// duplicated, nothing written when nothing changed, and find-or-create after
// a lost answer.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createGitHubClient, type GitHubClient } from './support/github-client.js'
import { findMarkedIssue, upsertMarkedIssue } from '../actions/lib/github/issues.js'
import { startGitHubSimulator, type GitHubSimulator } from './support/github/index.js'

const FULL_NAME = 'acme/issues'
const REPO = { owner: 'acme', repo: 'issues' }
const MARKER = '<!-- fleet-promote:dashboard-test -->'

let gh: GitHubSimulator
let app: { login: string; token: string }
let client: GitHubClient

const content = (text: string) => ({
  marker: MARKER,
  title: 'dashboard',
  body: `${MARKER}\n${text}`,
  labels: ['fleet-promote'],
})

const writes = () => Object.keys(gh.routeCounts()).filter((route) => !route.startsWith('GET'))

beforeAll(async () => {
  gh = await startGitHubSimulator()
  await gh.createRepo(FULL_NAME)
  app = gh.addUser('fleet-promote-app[bot]', { type: 'Bot' })
  gh.setPermission(FULL_NAME, app.login, 'write')
  client = createGitHubClient(app.token, { baseUrl: gh.apiUrl, retries: 1 })
})

afterAll(async () => {
  expect(gh.validationErrors).toEqual([])
  await gh.stop()
})

it("ignores a marked issue someone else opened, and opens the suite's own", async () => {
  const admin = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl, retries: 0 })
  await admin.rest.issues.create({ ...REPO, title: 'dashboard', body: `${MARKER}\nplanted` })
  expect(await findMarkedIssue(client, REPO, MARKER)).toBeUndefined()
  const created = await upsertMarkedIssue(client, REPO, content('first'))
  expect(created).toMatchObject({ action: 'created', state: 'open', body: `${MARKER}\nfirst` })
  expect(gh.state.issue(FULL_NAME, created.number)).toMatchObject({
    user: app.login,
    labels: ['fleet-promote'],
  })
  expect(gh.state.issues(FULL_NAME).find((i) => i.user === gh.adminLogin)?.body).toBe(
    `${MARKER}\nplanted`,
  )
})

it('updates in place, and writes nothing when title and body are unchanged', async () => {
  const first = await findMarkedIssue(client, REPO, MARKER)
  const updated = await upsertMarkedIssue(client, REPO, content('second'))
  expect(updated).toMatchObject({ action: 'updated', number: first?.number })
  gh.resetRequests()
  expect(await upsertMarkedIssue(client, REPO, content('second'))).toMatchObject({
    action: 'unchanged',
  })
  expect(writes()).toEqual([])
})

it('reopens the dashboard someone closed instead of opening a second one', async () => {
  const issue = await findMarkedIssue(client, REPO, MARKER)
  const admin = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl, retries: 0 })
  await admin.rest.issues.update({ ...REPO, issue_number: issue?.number ?? 0, state: 'closed' })
  expect(gh.state.issue(FULL_NAME, issue?.number ?? 0)?.state).toBe('closed')
  const reopened = await upsertMarkedIssue(client, REPO, content('third'))
  expect(reopened).toMatchObject({ action: 'reopened', number: issue?.number, state: 'open' })
  expect(gh.state.issues(FULL_NAME).filter((i) => i.user === app.login)).toHaveLength(1)
})

it('finds the issue a POST made when its answer was lost, instead of opening two', async () => {
  const other = '<!-- fleet-promote:other-dashboard -->'
  gh.faults.add({ method: 'POST', route: '/repos/{owner}/{repo}/issues', dropAnswer: true })
  const result = await upsertMarkedIssue(client, REPO, {
    ...content('once'),
    marker: other,
    body: `${other}\nonce`,
  })
  const mine = gh.state.issues(FULL_NAME).filter((i) => (i.body ?? '').startsWith(other))
  expect(mine).toHaveLength(1)
  expect(result.number).toBe(mine[0]?.number)
  expect(gh.faults.pending).toEqual([])
})
