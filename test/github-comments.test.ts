// The GitHub port's marked-comment upsert: the one trust rule (only the
// suite's own identity's comment counts) and find-or-create after a lost answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createGitHubClient, type GitHubClient } from './support/github-client.js'
import { suiteLogin, upsertMarkedComment } from '../actions/lib/github/comments.js'
import { startGitHubSimulator, type GitHubSimulator } from './support/github/index.js'

const FULL_NAME = 'acme/comments'
const REPO = { owner: 'acme', repo: 'comments' }
const MARKER = '<!-- fleet-promote:test -->'

let gh: GitHubSimulator
let app: { login: string; token: string }
let client: GitHubClient

async function newIssue(): Promise<number> {
  const admin = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl, retries: 0 })
  const { data } = await admin.rest.issues.create({ ...REPO, title: 'parent' })
  return data.number
}

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

describe('suiteLogin', () => {
  it("is the token's own login, for a person's token and an App bot alike", async () => {
    expect(await suiteLogin(client)).toBe(app.login)
    const person = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
    expect(await suiteLogin(person)).toBe(gh.adminLogin)
  })
})

describe('upsertMarkedComment', () => {
  it("never adopts another bot's, a collaborator's or an outsider's marked comment", async () => {
    const issue = await newIssue()
    const otherBot = gh.addUser('other-app[bot]', { type: 'Bot' })
    gh.setPermission(FULL_NAME, otherBot.login, 'write')
    gh.setPermission(FULL_NAME, 'collaborator', 'maintain')
    const planted = [
      gh.comment(FULL_NAME, issue, { user: otherBot.login, body: `${MARKER}\nother bot` }),
      gh.comment(FULL_NAME, issue, { user: 'collaborator', body: `${MARKER}\ncollaborator` }),
      gh.comment(FULL_NAME, issue, { user: 'outsider', body: `${MARKER}\noutsider` }),
    ]
    await upsertMarkedComment(client, REPO, issue, MARKER, `${MARKER}\nfirst`)
    await upsertMarkedComment(client, REPO, issue, MARKER, `${MARKER}\nsecond`)

    const comments = gh.state.comments(FULL_NAME, issue)
    expect(comments.map((c) => c.body)).toEqual([
      `${MARKER}\nother bot`,
      `${MARKER}\ncollaborator`,
      `${MARKER}\noutsider`,
      `${MARKER}\nsecond`,
    ])
    expect(comments.slice(0, 3).map((c) => c.id)).toEqual(planted.map((p) => p.id))
  })

  it('finds the comment a POST made when its answer was lost, instead of posting twice', async () => {
    const issue = await newIssue()
    gh.faults.add({
      method: 'POST',
      route: '/repos/{owner}/{repo}/issues/{issue_number}/comments',
      dropAnswer: true,
    })
    const url = await upsertMarkedComment(client, REPO, issue, MARKER, `${MARKER}\nonce`)

    const comments = gh.state.comments(FULL_NAME, issue)
    expect(comments.map((c) => c.body)).toEqual([`${MARKER}\nonce`])
    expect(url).toContain(String(comments[0]!.id))
    expect(gh.faults.pending).toEqual([])
  })

  it('edits nothing when the body is unchanged, and refuses a body without its marker', async () => {
    const issue = await newIssue()
    await upsertMarkedComment(client, REPO, issue, MARKER, `${MARKER}\nsame`)
    gh.resetRequests()
    await upsertMarkedComment(client, REPO, issue, MARKER, `${MARKER}\nsame`)
    // The identity is read once per client; an unchanged body is not written again.
    expect(Object.keys(gh.routeCounts()).filter((route) => !route.startsWith('GET'))).toEqual([])
    await expect(upsertMarkedComment(client, REPO, issue, MARKER, 'no marker')).rejects.toThrow(
      /must start with its marker/,
    )
  })
})
