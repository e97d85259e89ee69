// Issues through the GitHub port: the one marked issue (a dashboard) that the
// suite keeps up to date in place, with the same trust rule as marked
// comments: it is the suite's only when the suite's own identity opened it.

import type { RepoRef } from '../statuses.js'
import type { GitHubClient } from './client.js'
import { suiteLogin } from './comments.js'
import { answerLost } from './errors.js'

export interface MarkedIssue {
  number: number
  url: string
  title: string
  body: string
  state: 'open' | 'closed'
}

function markedIssue(data: {
  number: number
  html_url: string
  title: string
  body?: string | null
  state: string
}): MarkedIssue {
  return {
    number: data.number,
    url: data.html_url,
    title: data.title,
    body: data.body ?? '',
    state: data.state === 'open' ? 'open' : 'closed',
  }
}

/**
 * The suite's issue whose body starts with `marker`: the open one, else the
 * most recently updated closed one. Lists only the issues the suite's login
 * opened (`creator`), so a pasted marker in someone else's issue is never
 * adopted, and the listing stays short in a repository with many issues.
 */
export async function findMarkedIssue(
  client: GitHubClient,
  repo: RepoRef,
  marker: string,
): Promise<MarkedIssue | undefined> {
  const self = await suiteLogin(client)
  const issues = await client.paginate(client.rest.issues.listForRepo, {
    ...repo,
    creator: self,
    state: 'all',
    sort: 'updated',
    direction: 'desc',
    per_page: 100,
  })
  const mine = issues.filter(
    (issue) =>
      issue.pull_request === undefined &&
      (issue.body ?? '').startsWith(marker) &&
      issue.user?.login.toLowerCase() === self.toLowerCase(),
  )
  const found = mine.find((issue) => issue.state === 'open') ?? mine[0]
  return found ? markedIssue(found) : undefined
}

export interface MarkedIssueContent {
  marker: string
  title: string
  /** Must start with the marker. */
  body: string
  /** Given when the issue is created; later runs leave the labels to people. */
  labels: readonly string[]
}

export type IssueUpsert = MarkedIssue & { action: 'created' | 'updated' | 'reopened' | 'unchanged' }

/**
 * Updates the suite's marked issue in place (reopening it when someone closed
 * it: there is one dashboard), or opens it. Nothing is written when title and
 * body are already those. Find-or-create: when a POST's answer is lost the
 * issue may exist anyway, so it is looked for again before a second POST.
 */
export async function upsertMarkedIssue(
  client: GitHubClient,
  repo: RepoRef,
  content: MarkedIssueContent,
): Promise<IssueUpsert> {
  if (!content.body.startsWith(content.marker))
    throw new Error('a marked issue must start with its marker')
  const existing = await findMarkedIssue(client, repo, content.marker)
  if (existing) {
    if (
      existing.state === 'open' &&
      existing.title === content.title &&
      existing.body === content.body
    ) {
      return { ...existing, action: 'unchanged' }
    }
    const { data } = await client.rest.issues.update({
      ...repo,
      issue_number: existing.number,
      title: content.title,
      body: content.body,
      state: 'open',
    })
    return { ...markedIssue(data), action: existing.state === 'open' ? 'updated' : 'reopened' }
  }
  for (let attempt = 1; ; attempt++) {
    try {
      const { data } = await client.rest.issues.create({
        ...repo,
        title: content.title,
        body: content.body,
        labels: [...content.labels],
        request: { retries: 0 },
      })
      return { ...markedIssue(data), action: 'created' }
    } catch (error) {
      if (!answerLost(error) || attempt >= 3) throw error
      if (await findMarkedIssue(client, repo, content.marker))
        return upsertMarkedIssue(client, repo, content)
    }
  }
}
