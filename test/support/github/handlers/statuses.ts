/** Commit statuses and check runs. */
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
} from '../http.js'
import type { SimCheckRun, SimStatus, StatusState } from '../types.js'
import { resolveCommit } from './repos.js'

/**
 * Only GitHub Apps write check runs (GITHUB_TOKEN is one); a personal access
 * token is refused. A user added without a token kind (the admin) stands for
 * any kind, so only a declared `tokenKind: 'user'` is refused.
 */
function requireApp(req: ApiRequest): void {
  if (req.user?.tokenKind === 'user')
    throw new HttpError(403, 'You must authenticate via a GitHub App.')
}

/** GitHub's limit on a check run's output summary and text. */
const CHECK_OUTPUT_LIMIT = 65_535

const STATES: readonly StatusState[] = ['error', 'failure', 'pending', 'success']
const CHECK_STATUSES: ReadonlyArray<SimCheckRun['status']> = [
  'queued',
  'in_progress',
  'completed',
  'waiting',
  'requested',
  'pending',
]
const CONCLUSIONS: ReadonlyArray<NonNullable<SimCheckRun['conclusion']>> = [
  'success',
  'failure',
  'neutral',
  'cancelled',
  'skipped',
  'timed_out',
  'action_required',
]

export const statusRoutes: RouteDef[] = [
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/statuses/{sha}',
    access: 'write',
    handler: async (req, ctx) => {
      const repo = requireRepo(req)
      const user = requireUser(req)
      const sha = req.params.sha ?? ''
      const state = stringField(req, 'state', true) as StatusState
      if (!STATES.includes(state)) {
        throw validationFailed('Status', 'state', 'state is not included in the list', 'custom')
      }
      const description = stringField(req, 'description') ?? null
      if (description !== null && description.length > 140) {
        throw validationFailed(
          'Status',
          'description',
          'description is too long (maximum is 140 characters)',
        )
      }
      const resolved = await resolveCommit(req, sha).catch(() => undefined)
      if (!resolved || resolved !== sha) throw new HttpError(422, `No commit found for SHA: ${sha}`)
      const now = ctx.store.now()
      const status: SimStatus = {
        id: ctx.store.nextId(),
        repo: repo.fullName,
        sha,
        state,
        context: stringField(req, 'context') ?? 'default',
        description,
        targetUrl: stringField(req, 'target_url') ?? null,
        creator: user.login,
        createdAt: now,
        updatedAt: now,
      }
      ctx.store.statusList.push(status)
      return { status: 201, body: ctx.render.status(status) }
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/commits/{ref}/status',
    access: 'read',
    handler: async (req, ctx) => {
      const repo = requireRepo(req)
      const sha = await resolveCommit(req, req.params.ref ?? '')
      const latest = ctx.store.latestStatuses(repo.fullName, sha).reverse()
      const api = `${ctx.urls.apiUrl}/repos/${repo.fullName}`
      // The statuses array is paginated; total_count counts them all.
      return paginate(req, ctx, latest, (page) => ({
        state: ctx.store.combinedState(repo.fullName, sha),
        statuses: page.map((status) => ctx.render.simpleStatus(status)),
        sha,
        total_count: latest.length,
        repository: ctx.render.minimalRepository(repo),
        commit_url: `${api}/commits/${sha}`,
        url: `${api}/commits/${sha}/status`,
      }))
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/commits/{ref}/statuses',
    access: 'read',
    handler: async (req, ctx) => {
      const repo = requireRepo(req)
      const sha = await resolveCommit(req, req.params.ref ?? '')
      const statuses = ctx.store.statuses(repo.fullName, sha).reverse()
      return paginate(
        req,
        ctx,
        statuses.map((status) => ctx.render.status(status)),
      )
    },
  },
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/check-runs',
    access: 'write',
    handler: async (req, ctx) => {
      requireApp(req)
      const repo = requireRepo(req)
      const headSha = stringField(req, 'head_sha', true) ?? ''
      const resolved = await resolveCommit(req, headSha).catch(() => undefined)
      if (resolved !== headSha)
        throw validationFailed('CheckRun', 'head_sha', 'No commit found for SHA')
      const now = ctx.store.now()
      const run: SimCheckRun = {
        id: ctx.store.nextId(),
        repo: repo.fullName,
        headSha,
        name: stringField(req, 'name', true) ?? '',
        status: 'queued',
        conclusion: null,
        externalId: stringField(req, 'external_id') ?? null,
        detailsUrl: stringField(req, 'details_url') ?? null,
        title: null,
        summary: null,
        text: null,
        startedAt: stringField(req, 'started_at') ?? now,
        completedAt: null,
      }
      applyCheckRunUpdate(run, req.body, now, true)
      ctx.store.checkRunList.push(run)
      return { status: 201, body: ctx.render.checkRun(run) }
    },
  },
  {
    method: 'PATCH',
    template: '/repos/{owner}/{repo}/check-runs/{check_run_id}',
    access: 'write',
    handler: (req, ctx) => {
      requireApp(req)
      const id = intParam(req, 'check_run_id')
      const run = ctx.store
        .checkRuns(requireRepo(req).fullName)
        .find((candidate) => candidate.id === id)
      if (!run) throw notFound()
      applyCheckRunUpdate(run, req.body, ctx.store.now())
      if (typeof req.body.name === 'string') run.name = req.body.name
      return { status: 200, body: ctx.render.checkRun(run) }
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/commits/{ref}/check-runs',
    access: 'read',
    handler: async (req, ctx) => {
      const repo = requireRepo(req)
      const sha = await resolveCommit(req, req.params.ref ?? '')
      const name = req.query.get('check_name')
      const status = req.query.get('status')
      // filter=latest (the default) keeps the newest run per name.
      const latestOnly = (req.query.get('filter') ?? 'latest') === 'latest'
      let runs = ctx.store.checkRuns(repo.fullName, sha).reverse()
      if (latestOnly)
        runs = runs.filter(
          (run, index) => runs.findIndex((other) => other.name === run.name) === index,
        )
      runs = runs.filter(
        (run) => (!name || run.name === name) && (!status || run.status === status),
      )
      return paginate(req, ctx, runs, (page) => ({
        total_count: runs.length,
        check_runs: page.map((run) => ctx.render.checkRun(run)),
      }))
    },
  },
]

/** Status, conclusion and output, with GitHub's rule that a conclusion completes the run. */
function applyCheckRunUpdate(
  run: SimCheckRun,
  body: Record<string, unknown>,
  now: string,
  creating = false,
) {
  // Checked before anything changes: a refused update leaves the run as it was.
  const output = body.output as { title?: unknown; summary?: unknown; text?: unknown } | undefined
  if (output) {
    // The schema requires a summary, and a title on create (an update keeps the title).
    for (const field of creating ? ['title', 'summary'] : ['summary'])
      if (typeof output[field as keyof typeof output] !== 'string')
        throw new HttpError(422, `Invalid request.\n\n"${field}" wasn't supplied.`)
    checkOutputField('summary', output.summary as string)
    if (typeof output.text === 'string') checkOutputField('text', output.text)
  }
  if (body.status !== undefined) {
    if (!CHECK_STATUSES.includes(body.status as SimCheckRun['status'])) {
      throw validationFailed('CheckRun', 'status', 'status is not included in the list', 'invalid')
    }
    run.status = body.status as SimCheckRun['status']
  }
  if (body.conclusion !== undefined && body.conclusion !== null) {
    if (!CONCLUSIONS.includes(body.conclusion as NonNullable<SimCheckRun['conclusion']>)) {
      throw validationFailed(
        'CheckRun',
        'conclusion',
        'conclusion is not included in the list',
        'invalid',
      )
    }
    run.conclusion = body.conclusion as SimCheckRun['conclusion']
    run.status = 'completed'
  }
  if (run.status === 'completed') {
    if (run.conclusion === null) {
      throw validationFailed(
        'CheckRun',
        'conclusion',
        'conclusion must be provided when status is completed',
        'missing_field',
      )
    }
    run.completedAt =
      typeof body.completed_at === 'string' ? body.completed_at : (run.completedAt ?? now)
  }
  if (typeof body.details_url === 'string') run.detailsUrl = body.details_url
  if (typeof body.external_id === 'string') run.externalId = body.external_id
  if (output) {
    if (typeof output.title === 'string') run.title = output.title
    run.summary = output.summary as string
    if (typeof output.text === 'string') run.text = output.text
  }
}

/**
 * GitHub's two limits on `output.summary` and `output.text`: the schema's
 * 65,535 characters, then 65,535 bytes of UTF-8 (github/docs#35252: a text of
 * emoji under the first fails the second).
 */
function checkOutputField(field: 'summary' | 'text', value: string): void {
  if (value.length > CHECK_OUTPUT_LIMIT)
    throw new HttpError(
      422,
      `Invalid request.\n\nOnly ${CHECK_OUTPUT_LIMIT} characters are allowed; ${value.length} were supplied.`,
    )
  if (Buffer.byteLength(value, 'utf8') > CHECK_OUTPUT_LIMIT)
    throw validationFailed(
      'CheckRun',
      field,
      `${field} exceeds a maximum bytesize of ${CHECK_OUTPUT_LIMIT}`,
    )
}
