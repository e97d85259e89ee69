/** Issues (pull requests are issues too), comments, reactions and labels. */
import {
  HttpError,
  intParam,
  notFound,
  paginate,
  requireRepo,
  requireUser,
  stringField,
  validationFailed,
  type ApiRequest,
  type RouteDef,
  type SimContext,
} from '../http.js'
import { roleAtLeast } from '../store.js'
import type { ReactionContent, SimComment, SimIssue } from '../types.js'

const REACTIONS: readonly ReactionContent[] = [
  '+1',
  '-1',
  'laugh',
  'confused',
  'heart',
  'hooray',
  'rocket',
  'eyes',
]

function findIssue(req: ApiRequest, ctx: SimContext): SimIssue {
  const issue = ctx.store.issue(requireRepo(req).fullName, intParam(req, 'issue_number'))
  if (!issue) throw notFound()
  return issue
}

function findComment(req: ApiRequest, ctx: SimContext): SimComment {
  const id = intParam(req, 'comment_id')
  const comment = ctx.store.commentList.find(
    (candidate) => candidate.id === id && candidate.repo === requireRepo(req).fullName,
  )
  if (!comment) throw notFound()
  return comment
}

/** Authors may edit their own comments; others need write access. */
function requireCommentOwnerOrWriter(req: ApiRequest, comment: SimComment) {
  const user = requireUser(req)
  if (user.login !== comment.user && !roleAtLeast(req.role, 'write')) {
    throw new HttpError(403, 'Resource not accessible by integration')
  }
}

export function addComment(
  ctx: SimContext,
  repo: string,
  issueNumber: number,
  user: string,
  body: string,
): SimComment {
  const now = ctx.store.now()
  const comment: SimComment = {
    id: ctx.store.nextId(),
    repo,
    issueNumber,
    user,
    body,
    createdAt: now,
    updatedAt: now,
  }
  ctx.store.commentList.push(comment)
  const issue = ctx.store.issue(repo, issueNumber)
  if (issue) issue.updatedAt = now
  return comment
}

function ensureLabel(ctx: SimContext, repo: string, name: string) {
  let label = ctx.store
    .labels(repo)
    .find((candidate) => candidate.name.toLowerCase() === name.toLowerCase())
  if (!label) {
    label = { id: ctx.store.nextId(), repo, name, color: 'ededed', description: null }
    ctx.store.labelList.push(label)
  }
  return label
}

function labelNames(req: ApiRequest): string[] {
  const labels = Array.isArray(req.body) ? (req.body as unknown[]) : req.body.labels
  if (
    !Array.isArray(labels) ||
    labels.some(
      (label) =>
        typeof label !== 'string' && typeof (label as { name?: unknown })?.name !== 'string',
    )
  ) {
    throw validationFailed('Label', 'labels', 'labels must be an array of strings', 'invalid')
  }
  return labels.map((label) =>
    typeof label === 'string' ? label : (label as { name: string }).name,
  )
}

export const issueRoutes: RouteDef[] = [
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/issues',
    access: 'read',
    handler: (req, ctx) => {
      const state = req.query.get('state') ?? 'open'
      const labels = req.query.get('labels')?.split(',').filter(Boolean) ?? []
      const creator = req.query.get('creator')?.toLowerCase()
      // GitHub sorts by `created` (the default), `updated` or `comments`, newest first unless `direction=asc`.
      const sort = req.query.get('sort') ?? 'created'
      const ascending = req.query.get('direction') === 'asc'
      const key = (issue: SimIssue) =>
        sort === 'updated'
          ? issue.updatedAt
          : sort === 'comments'
            ? String(ctx.store.comments(issue.repo, issue.number).length).padStart(12, '0')
            : issue.createdAt
      const issues = ctx.store
        .issues(requireRepo(req).fullName)
        .filter((issue) => state === 'all' || issue.state === state)
        .filter((issue) => labels.every((label) => issue.labels.includes(label)))
        .filter((issue) => creator === undefined || issue.user.toLowerCase() === creator)
        .sort((a, b) => {
          const order = key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.number - b.number
          return ascending ? order : -order
        })
      return paginate(
        req,
        ctx,
        issues.map((issue) => ctx.render.issue(issue)),
      )
    },
  },
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/issues',
    access: 'read',
    handler: (req, ctx) => {
      const repo = requireRepo(req)
      const user = requireUser(req)
      const now = ctx.store.now()
      const issue: SimIssue = {
        id: ctx.store.nextId(),
        number: ctx.store.nextIssueNumber(repo.fullName),
        repo: repo.fullName,
        title: stringField(req, 'title', true) ?? '',
        body: stringField(req, 'body') ?? null,
        user: user.login,
        state: 'open',
        labels:
          req.body.labels === undefined
            ? []
            : labelNames(req).map((name) => ensureLabel(ctx, repo.fullName, name).name),
        isPullRequest: false,
        createdAt: now,
        updatedAt: now,
        closedAt: null,
      }
      ctx.store.issueList.push(issue)
      return { status: 201, body: ctx.render.issue(issue) }
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/issues/{issue_number}',
    access: 'read',
    handler: (req, ctx) => ({ status: 200, body: ctx.render.issue(findIssue(req, ctx)) }),
  },
  {
    method: 'PATCH',
    template: '/repos/{owner}/{repo}/issues/{issue_number}',
    access: 'triage',
    handler: (req, ctx) => {
      const issue = findIssue(req, ctx)
      const title = stringField(req, 'title')
      const body = stringField(req, 'body')
      const state = stringField(req, 'state')
      if (state !== undefined && state !== 'open' && state !== 'closed') {
        throw validationFailed('Issue', 'state', 'state is not included in the list', 'invalid')
      }
      const now = ctx.store.now()
      if (title !== undefined) issue.title = title
      if (body !== undefined) issue.body = body
      if (state !== undefined && state !== issue.state) {
        issue.state = state
        issue.closedAt = state === 'closed' ? now : null
      }
      issue.updatedAt = now
      const pull = issue.isPullRequest ? ctx.store.findPull(issue.repo, issue.number) : undefined
      if (pull)
        Object.assign(pull, {
          title: issue.title,
          body: issue.body,
          state: issue.state,
          closedAt: issue.closedAt,
        })
      return { status: 200, body: ctx.render.issue(issue) }
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/issues/{issue_number}/comments',
    access: 'read',
    handler: (req, ctx) => {
      const issue = findIssue(req, ctx)
      // `since`: only comments updated at or after that time, as GitHub filters them.
      const since = req.query.get('since')
      const from = since ? Date.parse(since) : Number.NEGATIVE_INFINITY
      return paginate(
        req,
        ctx,
        ctx.store
          .comments(issue.repo, issue.number)
          .filter((comment) => Date.parse(comment.updatedAt) >= from)
          .map((comment) => ctx.render.comment(comment)),
      )
    },
  },
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/issues/{issue_number}/comments',
    access: 'read',
    handler: (req, ctx) => {
      const issue = findIssue(req, ctx)
      const user = requireUser(req)
      const body = stringField(req, 'body', true) ?? ''
      if (body.length > 65536) {
        throw validationFailed(
          'IssueComment',
          'data',
          'Body is too long (maximum is 65536 characters)',
          'unprocessable',
        )
      }
      const comment = addComment(ctx, issue.repo, issue.number, user.login, body)
      return {
        status: 201,
        body: ctx.render.comment(comment),
        headers: {
          location: `${ctx.urls.apiUrl}/repos/${issue.repo}/issues/comments/${comment.id}`,
        },
      }
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/issues/comments/{comment_id}',
    access: 'read',
    handler: (req, ctx) => ({ status: 200, body: ctx.render.comment(findComment(req, ctx)) }),
  },
  {
    method: 'PATCH',
    template: '/repos/{owner}/{repo}/issues/comments/{comment_id}',
    access: 'read',
    handler: (req, ctx) => {
      const comment = findComment(req, ctx)
      requireCommentOwnerOrWriter(req, comment)
      comment.body = stringField(req, 'body', true) ?? ''
      comment.updatedAt = ctx.store.now()
      return { status: 200, body: ctx.render.comment(comment) }
    },
  },
  {
    method: 'DELETE',
    template: '/repos/{owner}/{repo}/issues/comments/{comment_id}',
    access: 'read',
    handler: (req, ctx) => {
      const comment = findComment(req, ctx)
      requireCommentOwnerOrWriter(req, comment)
      ctx.store.commentList.splice(ctx.store.commentList.indexOf(comment), 1)
      return { status: 204 }
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions',
    access: 'read',
    handler: (req, ctx) => {
      const comment = findComment(req, ctx)
      const content = req.query.get('content')
      const reactions = ctx.store
        .reactions(comment.id)
        .filter((reaction) => !content || reaction.content === content)
      return paginate(
        req,
        ctx,
        reactions.map((reaction) => ctx.render.reaction(reaction)),
      )
    },
  },
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions',
    access: 'read',
    handler: (req, ctx) => {
      const comment = findComment(req, ctx)
      const user = requireUser(req)
      const content = stringField(req, 'content', true) as ReactionContent
      if (!REACTIONS.includes(content)) {
        throw validationFailed(
          'Reaction',
          'content',
          'content is not included in the list',
          'invalid',
        )
      }
      const existing = ctx.store
        .reactions(comment.id)
        .find((reaction) => reaction.user === user.login && reaction.content === content)
      if (existing) return { status: 200, body: ctx.render.reaction(existing) }
      const reaction = {
        id: ctx.store.nextId(),
        commentId: comment.id,
        user: user.login,
        content,
        createdAt: ctx.store.now(),
      }
      ctx.store.reactionList.push(reaction)
      return { status: 201, body: ctx.render.reaction(reaction) }
    },
  },
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/issues/{issue_number}/labels',
    access: 'triage',
    handler: (req, ctx) => {
      const issue = findIssue(req, ctx)
      for (const name of labelNames(req)) {
        const label = ensureLabel(ctx, issue.repo, name)
        if (!issue.labels.includes(label.name)) issue.labels.push(label.name)
      }
      issue.updatedAt = ctx.store.now()
      const labels = issue.labels.map((name) => ensureLabel(ctx, issue.repo, name))
      return { status: 200, body: labels.map((label) => ctx.render.label(label)) }
    },
  },
  {
    method: 'DELETE',
    template: '/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}',
    access: 'triage',
    handler: (req, ctx) => {
      const issue = findIssue(req, ctx)
      const name = req.params.name ?? ''
      const index = issue.labels.findIndex((label) => label.toLowerCase() === name.toLowerCase())
      if (index === -1) throw new HttpError(404, 'Label does not exist')
      issue.labels.splice(index, 1)
      const labels = issue.labels.map((label) => ensureLabel(ctx, issue.repo, label))
      return { status: 200, body: labels.map((label) => ctx.render.label(label)) }
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/labels',
    access: 'read',
    handler: (req, ctx) =>
      paginate(
        req,
        ctx,
        ctx.store.labels(requireRepo(req).fullName).map((label) => ctx.render.label(label)),
      ),
  },
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/labels',
    access: 'write',
    handler: (req, ctx) => {
      const repo = requireRepo(req)
      const name = stringField(req, 'name', true) ?? ''
      if (
        ctx.store
          .labels(repo.fullName)
          .some((label) => label.name.toLowerCase() === name.toLowerCase())
      ) {
        throw validationFailed('Label', 'name', 'already_exists', 'already_exists')
      }
      const color = (stringField(req, 'color') ?? 'ededed').replace(/^#/, '')
      if (!/^[0-9a-fA-F]{6}$/.test(color))
        throw validationFailed('Label', 'color', 'color is invalid', 'invalid')
      const label = {
        id: ctx.store.nextId(),
        repo: repo.fullName,
        name,
        color,
        description: stringField(req, 'description') ?? null,
      }
      ctx.store.labelList.push(label)
      return { status: 201, body: ctx.render.label(label) }
    },
  },
]
