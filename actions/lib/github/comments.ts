// Issue and PR comments through the GitHub port: the one marked-comment
// upsert, with the one trust rule every action uses.

import type { RepoRef } from '../statuses.js'
import type { GitHubClient } from './client.js'
import { answerLost, httpStatus } from './errors.js'

const suiteLogins = new WeakMap<GitHubClient, Promise<string>>()

/**
 * The login the suite writes with: the token's own user (a PAT), the App's
 * bot (`<app-slug>[bot]` for an installation token) or `github-actions[bot]`
 * (GITHUB_TOKEN). REST `GET /user` answers 403 "Resource not accessible by
 * integration" for the last two and `GET /app` needs the App's JWT, so this
 * asks GraphQL's `viewer`, which answers for all three. Read once per client.
 */
export function suiteLogin(client: GitHubClient): Promise<string> {
  let login = suiteLogins.get(client)
  if (!login) {
    login = client
      .graphql<{ viewer: { login: string } }>('query { viewer { login } }')
      .then((data) => data.viewer.login)
    login.catch(() => suiteLogins.delete(client))
    suiteLogins.set(client, login)
  }
  return login
}

export interface MarkedComment {
  id: number
  url: string
  body: string
}

/**
 * The trust rule: a comment carrying `marker` is the suite's only when the
 * suite's own identity wrote it. Anyone can paste a marker, and another bot
 * (or a person with write access) is not us; their comments are never edited
 * or adopted.
 */
export async function findMarkedComment(
  client: GitHubClient,
  repo: RepoRef,
  issue: number,
  marker: string,
): Promise<MarkedComment | undefined> {
  const self = await suiteLogin(client)
  const comments = await client.paginate(client.rest.issues.listComments, {
    ...repo,
    issue_number: issue,
    per_page: 100,
  })
  const mine = comments.find(
    (c) => (c.body ?? '').startsWith(marker) && c.user?.login.toLowerCase() === self.toLowerCase(),
  )
  return mine ? { id: mine.id, url: mine.html_url, body: mine.body ?? '' } : undefined
}

/**
 * Edits the suite's comment carrying `marker` (which `body` must start with),
 * or creates it. Find-or-create: when a POST's answer is lost, the comment may
 * exist anyway, so it is looked for again before a second POST; the client's
 * own retry is off for that POST for the same reason.
 */
export async function upsertMarkedComment(
  client: GitHubClient,
  repo: RepoRef,
  issue: number,
  marker: string,
  body: string,
): Promise<string> {
  if (!body.startsWith(marker)) throw new Error('a marked comment must start with its marker')
  const existing = await findMarkedComment(client, repo, issue, marker)
  if (existing) {
    if (existing.body === body) return existing.url
    try {
      const { data } = await client.rest.issues.updateComment({
        ...repo,
        comment_id: existing.id,
        body,
      })
      return data.html_url
    } catch (error) {
      // 404: the comment was deleted since it was listed (GitHub answers 404 for a
      // deleted comment); write a new one.
      if (httpStatus(error) !== 404) throw error
    }
  }
  return postComment(client, repo, issue, body, async () => {
    const landed = await findMarkedComment(client, repo, issue, marker)
    if (landed?.body === body) return landed.url
    return landed ? upsertMarkedComment(client, repo, issue, marker, body) : undefined
  })
}

/**
 * A plain comment (a reply): each call is a new comment. Find-or-create all
 * the same: when the POST's answer is lost, the suite's comment with this
 * very body posted since is the one it made, so it is not posted twice.
 */
export async function createComment(
  client: GitHubClient,
  repo: RepoRef,
  issue: number,
  body: string,
): Promise<string> {
  const since = new Date(Date.now() - CLOCK_SKEW_MS).toISOString()
  return postComment(client, repo, issue, body, async () => {
    const self = (await suiteLogin(client)).toLowerCase()
    const comments = await client.paginate(client.rest.issues.listComments, {
      ...repo,
      issue_number: issue,
      since,
      per_page: 100,
    })
    return comments.find((c) => c.body === body && c.user?.login.toLowerCase() === self)?.html_url
  })
}

/** How far GitHub's clock may be behind the runner's when a lost comment is looked for. */
const CLOCK_SKEW_MS = 5 * 60_000

/**
 * POSTs a comment without the client's own retry: when the answer is lost the
 * comment may exist anyway, so `landed` looks for it (its URL) before the next POST.
 */
async function postComment(
  client: GitHubClient,
  repo: RepoRef,
  issue: number,
  body: string,
  landed: () => Promise<string | undefined>,
): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      const { data } = await client.rest.issues.createComment({
        ...repo,
        issue_number: issue,
        body,
        request: { retries: 0 },
      })
      return data.html_url
    } catch (error) {
      if (!answerLost(error) || attempt >= 3) throw error
      const url = await landed()
      if (url) return url
    }
  }
}

export type Reaction = 'eyes' | 'rocket' | 'confused'

export async function reactToComment(
  client: GitHubClient,
  repo: RepoRef,
  commentId: number,
  content: Reaction,
): Promise<void> {
  await client.rest.reactions.createForIssueComment({ ...repo, comment_id: commentId, content })
}

/**
 * A reply that will be edited in place (a long promotion's progress): its id.
 * Without the client's retry: a lost answer means no live reply, and the
 * caller posts its final reply as a new comment instead.
 */
export async function createEditableComment(
  client: GitHubClient,
  repo: RepoRef,
  issue: number,
  body: string,
): Promise<number> {
  const { data } = await client.rest.issues.createComment({
    ...repo,
    issue_number: issue,
    body,
    request: { retries: 0 },
  })
  return data.id
}

export async function editComment(
  client: GitHubClient,
  repo: RepoRef,
  commentId: number,
  body: string,
): Promise<void> {
  await client.rest.issues.updateComment({ ...repo, comment_id: commentId, body })
}
