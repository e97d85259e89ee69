/** Repositories, branches, git refs, commits, collaborators, users and the rate limit. */
import {
  commitInfo,
  deleteRef,
  isAncestor,
  listRefs,
  objectType,
  refSha,
  updateRef,
} from '../git-repo.js'
import {
  HttpError,
  notFound,
  paginate,
  requireRepo,
  stringField,
  type ApiRequest,
  type RouteDef,
  type SimContext,
} from '../http.js'

/** `heads/main` from a path parameter that Octokit may have percent-encoded. */
function refParam(req: ApiRequest, name = 'ref'): string {
  return (req.params[name] ?? '').replace(/^refs\//, '')
}

async function resolveCommit(req: ApiRequest, ref: string): Promise<string> {
  const dir = requireRepo(req).path
  const candidates = /^[0-9a-f]{40}$/.test(ref)
    ? [ref]
    : [`refs/heads/${ref}`, `refs/tags/${ref}`, ref]
  for (const candidate of candidates) {
    const sha = await refSha(dir, `${candidate}^{commit}`)
    if (sha) return sha
  }
  throw new HttpError(422, `No commit found for SHA: ${ref}`)
}

export { resolveCommit }

async function branchJson(req: ApiRequest, ctx: SimContext, name: string, sha: string) {
  const repo = requireRepo(req)
  const info = await commitInfo(repo.path, sha)
  if (!info) throw notFound()
  const api = `${ctx.urls.apiUrl}/repos/${repo.fullName}/branches/${name}`
  return {
    name,
    commit: ctx.render.commit(repo.fullName, info),
    _links: { self: api, html: `${ctx.urls.serverUrl}/${repo.fullName}/tree/${name}` },
    protected: false,
    protection: {
      enabled: false,
      required_status_checks: { enforcement_level: 'off', contexts: [], checks: [] },
    },
    protection_url: `${api}/protection`,
  }
}

export const repoRoutes: RouteDef[] = [
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}',
    access: 'read',
    handler: (req, ctx) => ({
      status: 200,
      body: ctx.render.fullRepository(requireRepo(req), req.user?.login),
    }),
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/branches',
    access: 'read',
    handler: async (req, ctx) => {
      const repo = requireRepo(req)
      const branches = await listRefs(repo.path, 'refs/heads/')
      return paginate(
        req,
        ctx,
        branches.map(({ ref, sha }) => ({
          name: ref.slice('refs/heads/'.length),
          commit: { sha, url: `${ctx.urls.apiUrl}/repos/${repo.fullName}/commits/${sha}` },
          protected: false,
        })),
      )
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/branches/{branch}',
    access: 'read',
    handler: async (req, ctx) => {
      const name = req.params.branch ?? ''
      const sha = await refSha(requireRepo(req).path, `refs/heads/${name}`)
      if (!sha) throw new HttpError(404, 'Branch not found')
      return { status: 200, body: await branchJson(req, ctx, name, sha) }
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/git/ref/{ref}',
    access: 'read',
    handler: async (req, ctx) => {
      const repo = requireRepo(req)
      const ref = `refs/${refParam(req)}`
      const found = (await listRefs(repo.path, ref)).find((entry) => entry.ref === ref)
      if (!found) throw notFound()
      return { status: 200, body: ctx.render.gitRef(repo.fullName, ref, found.sha, found.type) }
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/git/matching-refs/{ref}',
    access: 'read',
    handler: async (req, ctx) => {
      const repo = requireRepo(req)
      const prefix = `refs/${refParam(req)}`
      const refs = (await listRefs(repo.path)).filter((entry) => entry.ref.startsWith(prefix))
      return {
        status: 200,
        body: refs.map((entry) =>
          ctx.render.gitRef(repo.fullName, entry.ref, entry.sha, entry.type),
        ),
      }
    },
  },
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/git/refs',
    access: 'write',
    handler: async (req, ctx) => {
      const repo = requireRepo(req)
      const ref = stringField(req, 'ref', true) ?? ''
      const sha = stringField(req, 'sha', true) ?? ''
      if (!/^refs\/.+\/.+/.test(ref)) {
        throw new HttpError(
          422,
          "Reference name must start with 'refs/' and have at least two slashes.",
        )
      }
      const type = await objectType(repo.path, sha)
      if (!type) throw new HttpError(422, 'Object does not exist')
      await ctx.refs.exclusive(repo.fullName, async () => {
        if (await refSha(repo.path, ref)) throw new HttpError(422, 'Reference already exists')
        const before = await ctx.refs.snapshot(repo.fullName)
        await updateRef(repo.path, ref, sha, '')
        await ctx.refs.afterRefsChanged(repo.fullName, before, req.user?.login ?? repo.owner)
      })
      return { status: 201, body: ctx.render.gitRef(repo.fullName, ref, sha, type) }
    },
  },
  {
    method: 'PATCH',
    template: '/repos/{owner}/{repo}/git/refs/{ref}',
    access: 'write',
    handler: async (req, ctx) => {
      const repo = requireRepo(req)
      const ref = `refs/${refParam(req)}`
      const sha = stringField(req, 'sha', true) ?? ''
      const force = req.body.force === true
      // The check and the update in one turn of the queue: the ref cannot move between them.
      const type = await ctx.refs.exclusive(repo.fullName, async () => {
        const current = await refSha(repo.path, ref)
        if (!current) throw new HttpError(422, 'Reference does not exist')
        const type = await objectType(repo.path, sha)
        if (!type) throw new HttpError(422, 'Object does not exist')
        if (!force && !(await isAncestor(repo.path, current, sha))) {
          throw new HttpError(422, 'Update is not a fast forward')
        }
        const before = await ctx.refs.snapshot(repo.fullName)
        await updateRef(repo.path, ref, sha, current)
        await ctx.refs.afterRefsChanged(repo.fullName, before, req.user?.login ?? repo.owner)
        return type
      })
      return { status: 200, body: ctx.render.gitRef(repo.fullName, ref, sha, type) }
    },
  },
  {
    method: 'DELETE',
    template: '/repos/{owner}/{repo}/git/refs/{ref}',
    access: 'write',
    handler: async (req, ctx) => {
      const repo = requireRepo(req)
      const ref = `refs/${refParam(req)}`
      await ctx.refs.exclusive(repo.fullName, async () => {
        if (!(await refSha(repo.path, ref))) throw new HttpError(422, 'Reference does not exist')
        const before = await ctx.refs.snapshot(repo.fullName)
        await deleteRef(repo.path, ref)
        await ctx.refs.afterRefsChanged(repo.fullName, before, req.user?.login ?? repo.owner)
      })
      return { status: 204 }
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/commits/{ref}',
    access: 'read',
    handler: async (req, ctx) => {
      const repo = requireRepo(req)
      const sha = await resolveCommit(req, req.params.ref ?? '')
      const info = await commitInfo(repo.path, sha)
      if (!info) throw notFound()
      return {
        status: 200,
        body: {
          ...ctx.render.commit(repo.fullName, info),
          files: [],
          stats: { total: 0, additions: 0, deletions: 0 },
        },
      }
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/collaborators/{username}/permission',
    access: 'read',
    handler: (req, ctx) => {
      const repo = requireRepo(req)
      const login = req.params.username ?? ''
      if (!ctx.store.users.has(login)) throw notFound()
      const role = ctx.store.roleOf(repo, login)
      // GitHub's legacy `permission` has no triage/maintain: they read as read/write.
      const legacy = {
        read: 'read',
        triage: 'read',
        write: 'write',
        maintain: 'write',
        admin: 'admin',
      } as const
      const permission = role ? legacy[role] : 'none'
      const rank = ['read', 'triage', 'write', 'maintain', 'admin'].indexOf(role ?? '')
      return {
        status: 200,
        body: {
          permission,
          role_name: role ?? 'none',
          user: {
            ...ctx.render.user(login),
            permissions: {
              pull: rank >= 0,
              triage: rank >= 1,
              push: rank >= 2,
              maintain: rank >= 3,
              admin: rank >= 4,
            },
            role_name: role ?? 'none',
          },
        },
      }
    },
  },
  {
    method: 'GET',
    template: '/users/{username}',
    access: 'none',
    handler: (req, ctx) => {
      const user = ctx.store.users.get(req.params.username ?? '')
      if (!user) throw notFound()
      return { status: 200, body: ctx.render.publicUser(user, '2020-01-01T00:00:00Z') }
    },
  },
  {
    method: 'GET',
    template: '/user',
    access: 'auth',
    handler: (req, ctx) => {
      if (!req.user) throw new HttpError(401, 'Requires authentication')
      return { status: 200, body: ctx.render.publicUser(req.user, '2020-01-01T00:00:00Z') }
    },
  },
  {
    method: 'GET',
    template: '/rate_limit',
    access: 'none',
    handler: (req, ctx) => {
      // This request is already counted, as on GitHub.
      const used = ctx.store.rateUsed.get(req.user?.login ?? '') ?? 0
      const rate = { limit: 5000, remaining: 5000 - used, reset: ctx.store.rateReset, used }
      return {
        status: 200,
        body: {
          resources: {
            core: { ...rate, resource: 'core' },
            search: { ...rate, limit: 30, remaining: 30, resource: 'search' },
          },
          rate: { ...rate, resource: 'core' },
        },
      }
    },
  },
]
