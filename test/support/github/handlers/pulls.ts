/** Pull requests: list, create, get, update, merge, files, reviews. */
import { countCommits, diffFiles, refSha } from '../git-repo.js'
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
import { NOT_MERGEABLE } from '../pull-refs.js'
import type { SimPullRequest, SimReview } from '../types.js'

function findPull(req: ApiRequest, ctx: SimContext): SimPullRequest {
  const pull = ctx.store.findPull(requireRepo(req).fullName, intParam(req, 'pull_number'))
  if (!pull) throw notFound()
  return pull
}

function fullPull(ctx: SimContext, pull: SimPullRequest) {
  return ctx.render.pull(pull)
}

/** `owner:branch` or `branch` → the branch and the owner it names. */
function parseHead(head: string, defaultOwner: string) {
  const colon = head.indexOf(':')
  return colon === -1
    ? { owner: defaultOwner, branch: head }
    : { owner: head.slice(0, colon), branch: head.slice(colon + 1) }
}

export interface CreatePullInput {
  repo: string
  user: string
  head: string
  base: string
  title: string
  body?: string | null
  draft?: boolean
  fromFork?: boolean
}

/** Shared by the REST route and the simulator's human actions. */
export function createPull(ctx: SimContext, input: CreatePullInput): Promise<SimPullRequest> {
  // In the ref writers' queue: it reads both branches and writes refs/pull/N/*.
  return ctx.refs.exclusive(input.repo, () => openPull(ctx, input))
}

async function openPull(ctx: SimContext, input: CreatePullInput): Promise<SimPullRequest> {
  const repo = ctx.store.repo(input.repo)
  const { owner, branch } = parseHead(input.head, input.fromFork ? input.user : repo.owner)
  const fromFork = input.fromFork ?? owner !== repo.owner
  const headSha = await refSha(repo.path, `refs/heads/${branch}`)
  const baseSha = await refSha(repo.path, `refs/heads/${input.base}`)
  if (!baseSha) throw validationFailed('PullRequest', 'base', 'base', 'invalid')
  if (!headSha) throw validationFailed('PullRequest', 'head', 'head', 'invalid')
  if (branch === input.base && !fromFork) {
    throw validationFailed(
      'PullRequest',
      'head',
      `The head ref may not be the same as the base ref.`,
    )
  }
  const existing = ctx.store
    .pulls(repo.fullName)
    .find(
      (pull) =>
        pull.state === 'open' &&
        pull.headRef === branch &&
        pull.headRepo === `${owner}/${repo.name}` &&
        pull.baseRef === input.base,
    )
  if (existing) {
    throw validationFailed(
      'PullRequest',
      'head',
      `A pull request already exists for ${owner}:${branch}.`,
    )
  }
  if ((await countCommits(repo.path, baseSha, headSha)) === 0) {
    throw validationFailed('PullRequest', 'head', `No commits between ${input.base} and ${branch}`)
  }
  const now = ctx.store.now()
  const number = ctx.store.nextIssueNumber(repo.fullName)
  const id = ctx.store.nextId()
  ctx.store.issueList.push({
    id,
    number,
    repo: repo.fullName,
    title: input.title,
    body: input.body ?? null,
    user: input.user,
    state: 'open',
    labels: [],
    isPullRequest: true,
    createdAt: now,
    updatedAt: now,
    closedAt: null,
  })
  const pull: SimPullRequest = {
    id,
    number,
    repo: repo.fullName,
    title: input.title,
    body: input.body ?? null,
    state: 'open',
    draft: input.draft ?? false,
    user: input.user,
    headRef: branch,
    headSha,
    headRepo: `${owner}/${repo.name}`,
    fromFork,
    baseRef: input.base,
    baseSha,
    mergeable: null,
    mergeCommitSha: null,
    merged: false,
    mergedAt: null,
    mergedBy: null,
    closedAt: null,
    createdAt: now,
    updatedAt: now,
    previousHeadSha: null,
    commits: 0,
    additions: 0,
    deletions: 0,
    changedFiles: 0,
  }
  ctx.store.pullRequests.push(pull)
  await ctx.refs.updatePull(pull)
  return pull
}

/** Closes or reopens a pull request and its issue. */
export function setPullState(ctx: SimContext, pull: SimPullRequest, state: 'open' | 'closed') {
  // In the ref writers' queue: reopening reads the head branch and rebuilds refs/pull/N/*.
  return ctx.refs.exclusive(pull.repo, () => changePullState(ctx, pull, state))
}

async function changePullState(ctx: SimContext, pull: SimPullRequest, state: 'open' | 'closed') {
  if (state === pull.state) return
  if (pull.merged)
    throw new HttpError(422, 'Validation Failed', {
      errors: [
        {
          resource: 'PullRequest',
          code: 'custom',
          field: 'state',
          message: 'Cannot change the state of a merged pull request',
        },
      ],
    })
  const now = ctx.store.now()
  const issue = ctx.store.issue(pull.repo, pull.number)
  if (state === 'open') {
    const head = await refSha(ctx.store.repo(pull.repo).path, `refs/heads/${pull.headRef}`)
    if (!head)
      throw validationFailed(
        'PullRequest',
        'state',
        'state cannot be changed. The head branch was deleted.',
      )
    pull.headSha = head
  }
  Object.assign(pull, { state, closedAt: state === 'closed' ? now : null, updatedAt: now })
  if (issue)
    Object.assign(issue, { state, closedAt: state === 'closed' ? now : null, updatedAt: now })
  if (state === 'open') await ctx.refs.updatePull(pull)
}

export const pullRoutes: RouteDef[] = [
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/pulls',
    access: 'read',
    handler: (req, ctx) => {
      const repo = requireRepo(req)
      const state = req.query.get('state') ?? 'open'
      const head = req.query.get('head')
      const base = req.query.get('base')
      const direction = req.query.get('direction') ?? 'desc'
      let pulls = ctx.store
        .pulls(repo.fullName)
        .filter((pull) => state === 'all' || pull.state === state)
      if (head) {
        const parsed = parseHead(head, repo.owner)
        pulls = pulls.filter(
          (pull) =>
            pull.headRef === parsed.branch && pull.headRepo === `${parsed.owner}/${repo.name}`,
        )
      }
      if (base) pulls = pulls.filter((pull) => pull.baseRef === base)
      pulls = [...pulls].sort((a, b) =>
        direction === 'asc' ? a.number - b.number : b.number - a.number,
      )
      return paginate(
        req,
        ctx,
        pulls.map((pull) => ctx.render.pullSimple(pull)),
      )
    },
  },
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/pulls',
    access: 'read',
    handler: async (req, ctx) => {
      const repo = requireRepo(req)
      const user = requireUser(req)
      const head = stringField(req, 'head', true) ?? ''
      const base = stringField(req, 'base', true) ?? ''
      // Opening a PR from a branch of this repository needs push access to it.
      if (!head.includes(':') || head.startsWith(`${repo.owner}:`)) {
        if (
          !ctx.store.roleOf(repo, user.login) ||
          !['write', 'maintain', 'admin'].includes(ctx.store.roleOf(repo, user.login) ?? '')
        ) {
          throw new HttpError(403, 'Resource not accessible by integration')
        }
      }
      const pull = await createPull(ctx, {
        repo: repo.fullName,
        user: user.login,
        head,
        base,
        title: stringField(req, 'title', true) ?? '',
        body: stringField(req, 'body') ?? null,
        draft: req.body.draft === true,
      })
      return {
        status: 201,
        body: fullPull(ctx, pull),
        headers: { location: `${ctx.urls.apiUrl}/repos/${repo.fullName}/pulls/${pull.number}` },
      }
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/pulls/{pull_number}',
    access: 'read',
    handler: async (req, ctx) => {
      const pull = findPull(req, ctx)
      const body = fullPull(ctx, pull)
      await ctx.refs.read(pull)
      return { status: 200, body }
    },
  },
  {
    method: 'PATCH',
    template: '/repos/{owner}/{repo}/pulls/{pull_number}',
    access: 'write',
    handler: async (req, ctx) => {
      const pull = findPull(req, ctx)
      const issue = ctx.store.issue(pull.repo, pull.number)
      const title = stringField(req, 'title')
      const body = stringField(req, 'body')
      const base = stringField(req, 'base')
      const state = stringField(req, 'state')
      if (state !== undefined && state !== 'open' && state !== 'closed') {
        throw validationFailed(
          'PullRequest',
          'state',
          'state is not included in the list',
          'invalid',
        )
      }
      if (title !== undefined) pull.title = title
      if (body !== undefined) pull.body = body
      if (issue) Object.assign(issue, { title: pull.title, body: pull.body })
      if (base !== undefined && base !== pull.baseRef) {
        await ctx.refs.exclusive(pull.repo, async () => {
          if (!(await refSha(ctx.store.repo(pull.repo).path, `refs/heads/${base}`))) {
            throw validationFailed(
              'PullRequest',
              'base',
              `Proposed base branch '${base}' was not found`,
            )
          }
          pull.baseRef = base
          await ctx.refs.updatePull(pull)
        })
      }
      if (state !== undefined) await setPullState(ctx, pull, state)
      pull.updatedAt = ctx.store.now()
      return { status: 200, body: fullPull(ctx, pull) }
    },
  },
  {
    method: 'PUT',
    template: '/repos/{owner}/{repo}/pulls/{pull_number}/merge',
    access: 'write',
    handler: async (req, ctx) => {
      const pull = findPull(req, ctx)
      const user = requireUser(req)
      const method = stringField(req, 'merge_method') ?? 'merge'
      if (method !== 'merge' && method !== 'squash') {
        throw new HttpError(405, 'Rebase merges are not allowed on this repository.')
      }
      const sha = stringField(req, 'sha')
      const seenBase = await refSha(ctx.store.repo(pull.repo).path, `refs/heads/${pull.baseRef}`)
      // Checked in the queue: a merge or push ahead of this one may close or move the pull request.
      const outcome = await ctx.refs.exclusive(pull.repo, async () => {
        if (pull.state !== 'open') throw new HttpError(405, NOT_MERGEABLE)
        if (sha !== undefined && sha !== pull.headSha) {
          throw new HttpError(409, 'Head branch was modified. Review and try the merge again.')
        }
        if (pull.draft) throw new HttpError(405, 'Pull Request is still a draft')
        return ctx.refs.merge(pull, user.login, {
          method,
          title: stringField(req, 'commit_title'),
          message: stringField(req, 'commit_message'),
          ...(seenBase ? { seenBase } : {}),
        })
      })
      if ('refused' in outcome) throw new HttpError(405, outcome.refused)
      return {
        status: 200,
        body: { sha: outcome.sha, merged: true, message: 'Pull Request successfully merged' },
      }
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/pulls/{pull_number}/files',
    access: 'read',
    handler: async (req, ctx) => {
      const pull = findPull(req, ctx)
      const repo = requireRepo(req)
      const files = await diffFiles(repo.path, pull.baseSha, pull.headSha)
      const html = `${ctx.urls.serverUrl}/${repo.fullName}`
      return paginate(
        req,
        ctx,
        files.map((file) => ({
          sha: file.blobSha,
          filename: file.filename,
          status: file.status,
          additions: file.additions,
          deletions: file.deletions,
          changes: file.additions + file.deletions,
          blob_url: `${html}/blob/${pull.headSha}/${encodeURI(file.filename)}`,
          raw_url: `${html}/raw/${pull.headSha}/${encodeURI(file.filename)}`,
          contents_url: `${ctx.urls.apiUrl}/repos/${repo.fullName}/contents/${encodeURI(file.filename)}?ref=${pull.headSha}`,
          ...(file.previousFilename ? { previous_filename: file.previousFilename } : {}),
        })),
      )
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/pulls/{pull_number}/reviews',
    access: 'read',
    handler: (req, ctx) => {
      const pull = findPull(req, ctx)
      return paginate(
        req,
        ctx,
        ctx.store.reviews(pull.repo, pull.number).map((review) => ctx.render.review(review)),
      )
    },
  },
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/pulls/{pull_number}/reviews',
    access: 'read',
    handler: (req, ctx) => {
      const pull = findPull(req, ctx)
      const user = requireUser(req)
      const event = stringField(req, 'event')
      const states = {
        APPROVE: 'APPROVED',
        REQUEST_CHANGES: 'CHANGES_REQUESTED',
        COMMENT: 'COMMENTED',
      } as const
      if (event !== undefined && !(event in states)) {
        throw validationFailed(
          'PullRequestReview',
          'event',
          'event is not included in the list',
          'invalid',
        )
      }
      if (event && user.login === pull.user && event !== 'COMMENT') {
        throw new HttpError(422, 'Unprocessable Entity', {
          errors: ['Can not approve your own pull request'],
        })
      }
      const review = addReview(ctx, pull, {
        user: user.login,
        state: event ? states[event as keyof typeof states] : 'PENDING',
        body: stringField(req, 'body') ?? '',
        commitId: stringField(req, 'commit_id') ?? pull.headSha,
      })
      return { status: 200, body: ctx.render.review(review) }
    },
  },
]

export function addReview(
  ctx: SimContext,
  pull: SimPullRequest,
  input: { user: string; state: SimReview['state']; body: string; commitId: string },
): SimReview {
  const review: SimReview = {
    id: ctx.store.nextId(),
    repo: pull.repo,
    pullNumber: pull.number,
    user: input.user,
    state: input.state,
    body: input.body,
    commitId: input.commitId,
    submittedAt: ctx.store.now(),
  }
  ctx.store.reviewList.push(review)
  return review
}
