/** Assembles the simulator: state, git repositories, HTTP server, events and the human actions of the public API. */
import { randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { GitHubSimulator, OpenPullRequestOptions } from './index.js'
import { EventBuilder, WEBHOOK_SCHEMAS } from './events.js'
import { Faults } from './faults.js'
import { gitEnv, initBareRepo, type CommitInfo } from './git-repo.js'
import { addReview, createPull, setPullState } from './handlers/pulls.js'
import { addComment } from './handlers/issues.js'
import type { SimContext } from './http.js'
import { checkWebhook } from './openapi.js'
import { PullRefs } from './pull-refs.js'
import { Renderer } from './render.js'
import { startServer } from './server.js'
import { Store } from './store.js'
import { RateLimiter, type RateLimitOptions } from './rate-limits.js'
import type { RequestLogEntry, Role, SimPullRequest, SimUser, TokenKind } from './types.js'

const ADMIN_LOGIN = 'fleet-admin'

function newToken(): string {
  return `ghs_${randomBytes(18).toString('hex')}`
}

/** Synchronous commit lookup for the synchronous event builders. */
function commitInfoSync(dir: string, sha: string): CommitInfo {
  const out = execFileSync(
    'git',
    [
      'show',
      '-s',
      '--format=%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B',
      `${sha}^{commit}`,
      '--',
    ],
    { cwd: dir, env: gitEnv(), encoding: 'utf8' },
  )
  const [
    commit = '',
    tree = '',
    parents = '',
    an = '',
    ae = '',
    ad = '',
    cn = '',
    ce = '',
    cd = '',
    message = '',
  ] = out.split('\0')
  return {
    sha: commit.trim(),
    tree,
    parents: parents.split(' ').filter(Boolean),
    author: { name: an, email: ae, date: ad },
    committer: { name: cn, email: ce, date: cd },
    message: message.replace(/\n+$/, ''),
  }
}

function branchesAt(dir: string, sha: string): Array<{ name: string; sha: string }> {
  const out = execFileSync(
    'git',
    ['for-each-ref', '--points-at', sha, '--format=%(refname:strip=2)', 'refs/heads/'],
    {
      cwd: dir,
      env: gitEnv(),
      encoding: 'utf8',
    },
  )
  return out
    .split('\n')
    .filter(Boolean)
    .map((name) => ({ name, sha }))
}

export async function createSimulator(options: {
  validate: boolean
  rateLimits?: RateLimitOptions
  testMerges: 'eager' | 'on-read'
}): Promise<GitHubSimulator> {
  const root = await mkdtemp(join(tmpdir(), 'github-sim-'))
  const store = new Store()
  const faults = new Faults()
  const requests: RequestLogEntry[] = []
  const validationErrors: string[] = []
  const limiter = options.rateLimits ? new RateLimiter(options.rateLimits) : undefined
  const urls = { serverUrl: '', apiUrl: '' }
  const render = new Renderer(store, urls)
  const events = new EventBuilder(store, render)

  /** Validates and returns an event payload as delivered (plain JSON). */
  const build = (name: string, action: string | undefined, payload: Record<string, unknown>) => {
    const json = JSON.parse(JSON.stringify(payload)) as Record<string, unknown>
    const key = action ? `${name}.${action}` : name
    const schema = WEBHOOK_SCHEMAS[key]
    if (options.validate && schema) {
      const error = checkWebhook(schema, json)
      if (error) validationErrors.push(`event ${key}: ${error}`)
    }
    return json
  }
  /** Builds an event and records it as delivered. */
  const emit = (name: string, action: string | undefined, payload: Record<string, unknown>) => {
    const json = build(name, action, payload)
    store.events.push({ name, payload: json })
    return json
  }

  const refs: PullRefs = new PullRefs(store, options.testMerges, {
    onSynchronize: (pull, actor) =>
      emit('pull_request', 'synchronize', events.pullRequest(pull, 'synchronize', actor)),
    onHeadDeleted: (pull, actor) =>
      emit('pull_request', 'closed', events.pullRequest(pull, 'closed', actor)),
    onMergedByPush: (pull, actor) =>
      emit('pull_request', 'closed', events.pullRequest(pull, 'closed', actor)),
    onPush: (repo, change, actor) => {
      const dir = store.repo(repo).path
      const head = /^0+$/.test(change.after) ? undefined : commitInfoSync(dir, change.after)
      emit(
        'push',
        undefined,
        events.push(repo, change.ref, change.before, change.after, actor, head),
      )
    },
  })
  const ctx: SimContext = { store, urls, render, refs }

  const admin = { id: store.nextId(), login: ADMIN_LOGIN, type: 'User' as const, token: newToken() }
  store.addUser(admin)
  store.adminLogin = ADMIN_LOGIN

  const { server, port } = await startServer({
    ctx,
    faults,
    requests,
    validationErrors,
    validate: options.validate,
    gitRoot: root,
    ...(limiter ? { limiter } : {}),
  })
  urls.serverUrl = `http://127.0.0.1:${port}`
  urls.apiUrl = `${urls.serverUrl}/api/v3`

  const addUser = (login: string, opts: { type?: 'User' | 'Bot'; tokenKind?: TokenKind } = {}) => {
    const existing = store.users.get(login)
    if (existing) return { login, token: existing.token }
    const user: SimUser = {
      id: store.nextId(),
      login,
      type: opts.type ?? 'User',
      token: newToken(),
      ...(opts.tokenKind ? { tokenKind: opts.tokenKind } : {}),
    }
    store.addUser(user)
    return { login, token: user.token }
  }

  const pullEvent = (
    pull: SimPullRequest,
    action: 'opened' | 'synchronize' | 'closed' | 'reopened',
    sender: string,
  ) => emit('pull_request', action, events.pullRequest(pull, action, sender))

  const simulator: GitHubSimulator = {
    serverUrl: urls.serverUrl,
    apiUrl: urls.apiUrl,
    adminToken: admin.token,
    adminLogin: ADMIN_LOGIN,

    async createRepo(fullName, opts = {}) {
      const [owner, name, extra] = fullName.split('/')
      if (!owner || !name || extra !== undefined)
        throw new Error(`repository names look like owner/name: ${fullName}`)
      if (store.repos.has(fullName)) throw new Error(`repository ${fullName} exists`)
      addUser(owner)
      const path = join(root, owner, `${name}.git`)
      await mkdir(join(root, owner), { recursive: true })
      const defaultBranch = opts.defaultBranch ?? 'main'
      await initBareRepo(path, defaultBranch, `# ${name}\n`)
      store.repos.set(fullName, {
        id: store.nextId(),
        owner,
        name,
        fullName,
        defaultBranch,
        private: opts.private ?? false,
        path,
        createdAt: store.now(),
        permissions: new Map(),
      })
    },
    repoPath: (fullName) => store.repo(fullName).path,
    remoteUrl: (fullName) => `${urls.serverUrl}/${fullName}.git`,
    refreshRefs: (fullName) =>
      refs.exclusive(fullName, async () => {
        refs.forget(fullName)
        // Compare against the branch heads the pull requests last saw.
        const before = new Map<string, string>()
        for (const pull of store.pulls(fullName))
          before.set(`refs/heads/${pull.headRef}`, pull.headSha)
        const current = await refs.snapshot(fullName)
        for (const [ref, sha] of current) if (!before.has(ref)) before.set(ref, sha)
        await refs.afterRefsChanged(fullName, before, ADMIN_LOGIN)
        for (const pull of store.pulls(fullName)) await refs.updatePull(pull)
      }),
    addUser,
    setPermission(fullName, login, role: Role) {
      addUser(login)
      store.repo(fullName).permissions.set(login, role)
    },

    async openPullRequest(fullName, opts: OpenPullRequestOptions) {
      addUser(opts.user)
      const pull = await createPull(ctx, {
        repo: fullName,
        user: opts.user,
        head: opts.fromFork ? `${opts.user}:${opts.head}` : opts.head,
        base: opts.base,
        title: opts.title,
        body: opts.body ?? null,
        draft: opts.draft ?? false,
        fromFork: opts.fromFork ?? false,
      })
      return { number: pull.number, event: pullEvent(pull, 'opened', opts.user) }
    },
    pullRequestEvent(fullName, number, action) {
      const pull = store.pull(fullName, number)
      return build(
        'pull_request',
        action,
        events.pullRequest(pull, action, pull.mergedBy ?? pull.user),
      )
    },
    comment(fullName, issueNumber, opts) {
      addUser(opts.user)
      if (!store.issue(fullName, issueNumber))
        throw new Error(`no issue ${fullName}#${issueNumber}`)
      const comment = addComment(ctx, fullName, issueNumber, opts.user, opts.body)
      return {
        id: comment.id,
        event: emit('issue_comment', 'created', events.issueComment(comment)),
      }
    },
    review(fullName, number, opts) {
      addUser(opts.user)
      const pull = store.pull(fullName, number)
      addReview(ctx, pull, {
        user: opts.user,
        state: opts.state,
        body: opts.body ?? '',
        commitId: opts.commitId ?? pull.headSha,
      })
    },
    async mergePullRequestAsUser(fullName, number, user) {
      const pull = store.pull(fullName, number)
      const outcome = await refs.exclusive(fullName, () =>
        refs.merge(pull, user, { method: 'merge' }),
      )
      if ('refused' in outcome) throw new Error(`${fullName}#${number}: ${outcome.refused}`)
      return pullEvent(pull, 'closed', user)
    },
    async closePullRequestAsUser(fullName, number, user) {
      const pull = store.pull(fullName, number)
      await setPullState(ctx, pull, 'closed')
      return pullEvent(pull, 'closed', user)
    },
    async reopenPullRequestAsUser(fullName, number, user) {
      const pull = store.pull(fullName, number)
      await setPullState(ctx, pull, 'open')
      return pullEvent(pull, 'reopened', user)
    },
    statusEvent(fullName, sha, context) {
      const status = store
        .statuses(fullName, sha)
        .filter((candidate) => candidate.context === context)
        .at(-1)
      if (!status) throw new Error(`no status ${context} on ${sha}`)
      const dir = store.repo(fullName).path
      return emit(
        'status',
        undefined,
        events.status(status, commitInfoSync(dir, sha), branchesAt(dir, sha)),
      )
    },
    workflowDispatchEvent(
      fullName,
      ref,
      inputs = {},
      workflow = '.github/workflows/fleet-promote.yml',
    ) {
      return emit(
        'workflow_dispatch',
        undefined,
        events.workflowDispatch(fullName, ref, workflow, inputs, ADMIN_LOGIN),
      )
    },
    pushEvent(fullName, ref, before, after) {
      const head = /^0+$/.test(after) ? undefined : commitInfoSync(store.repo(fullName).path, after)
      return emit('push', undefined, events.push(fullName, ref, before, after, ADMIN_LOGIN, head))
    },

    state: store,
    requests,
    routeCounts() {
      const counts: Record<string, number> = {}
      for (const entry of requests) counts[entry.route] = (counts[entry.route] ?? 0) + 1
      return counts
    },
    resetRequests() {
      requests.length = 0
    },
    faults,
    validationErrors,
    rateLimits: limiter,
    async stop() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await rm(root, { recursive: true, force: true })
    },
  }
  return simulator
}
