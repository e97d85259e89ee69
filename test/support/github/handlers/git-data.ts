/**
 * The git data API (trees and commits made from JSON, as fleet-promote's
 * locks are) and the contents API (files read at a ref, as the configuration
 * is), on the real bare repository.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runChecked, runProcess } from '../../../../actions/lib/process.js'
import { blobBytes, commitInfo, commitTree, gitEnv, objectType, refSha } from '../git-repo.js'
import {
  HttpError,
  notFound,
  requireRepo,
  stringField,
  validationFailed,
  type ApiRequest,
  type RouteDef,
  type SimContext,
} from '../http.js'

async function git(
  dir: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  input?: string,
): Promise<string> {
  return (await runChecked('git', args, { cwd: dir, env: gitEnv(env), input })).stdout
}

function apiOf(ctx: SimContext, fullName: string): string {
  return `${ctx.urls.apiUrl}/repos/${fullName}`
}

interface TreeEntryInput {
  path: string
  mode: string
  type: string
  sha?: string | null
  content?: string
}

function treeEntries(req: ApiRequest): TreeEntryInput[] {
  const tree = req.body.tree
  if (!Array.isArray(tree))
    throw validationFailed('Tree', 'tree', 'tree is not an array', 'missing_field')
  return tree.map((raw, index) => {
    const entry = raw as Record<string, unknown>
    const path = entry.path
    const mode = entry.mode
    const type = entry.type
    if (
      typeof path !== 'string' ||
      path === '' ||
      path.startsWith('/') ||
      path.split('/').some((part) => part === '' || part === '.' || part === '..')
    ) {
      throw new HttpError(422, `tree.${index}.path is invalid`)
    }
    if (
      typeof mode !== 'string' ||
      !['100644', '100755', '040000', '160000', '120000'].includes(mode)
    ) {
      throw new HttpError(422, `tree.${index}.mode is invalid`)
    }
    if (typeof type !== 'string' || !['blob', 'tree', 'commit'].includes(type)) {
      throw new HttpError(422, `tree.${index}.type is invalid`)
    }
    const sha = entry.sha === null || typeof entry.sha === 'string' ? entry.sha : undefined
    const content = typeof entry.content === 'string' ? entry.content : undefined
    if ((sha === undefined) === (content === undefined)) {
      throw new HttpError(422, `tree.${index}: give exactly one of sha and content`)
    }
    return {
      path,
      mode,
      type,
      ...(sha !== undefined ? { sha } : {}),
      ...(content !== undefined ? { content } : {}),
    }
  })
}

/** `POST /git/trees`: entries over an optional base tree, built in a throwaway index. */
async function createTree(req: ApiRequest, ctx: SimContext) {
  const repo = requireRepo(req)
  const entries = treeEntries(req)
  const baseTree = stringField(req, 'base_tree')
  const scratch = await mkdtemp(join(tmpdir(), 'sim-index-'))
  const env = { GIT_INDEX_FILE: join(scratch, 'index') }
  try {
    if (baseTree) {
      if ((await objectType(repo.path, baseTree)) !== 'tree')
        throw new HttpError(422, 'base_tree is not a valid tree oid')
      await git(repo.path, ['read-tree', baseTree], env)
    } else {
      await git(repo.path, ['read-tree', '--empty'], env)
    }
    for (const entry of entries) {
      if (entry.sha === null) {
        await git(repo.path, ['update-index', '--force-remove', '--', entry.path], env)
        continue
      }
      const sha =
        entry.content !== undefined
          ? (await git(repo.path, ['hash-object', '-w', '--stdin'], {}, entry.content)).trim()
          : (entry.sha ?? '')
      if ((await objectType(repo.path, sha)) !== entry.type && entry.type !== 'commit') {
        throw new HttpError(422, `tree.sha ${sha} is not a valid ${entry.type}`)
      }
      await git(
        repo.path,
        ['update-index', '--add', '--cacheinfo', `${entry.mode},${sha},${entry.path}`],
        env,
      )
    }
    const tree = (await git(repo.path, ['write-tree'], env)).trim()
    return { status: 201, body: await treeJson(ctx, repo.fullName, repo.path, tree) }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

async function treeJson(ctx: SimContext, fullName: string, dir: string, tree: string) {
  const api = apiOf(ctx, fullName)
  const out = await git(dir, ['ls-tree', '-z', '--long', tree])
  const entries = out
    .split('\0')
    .filter(Boolean)
    .map((line) => {
      const tab = line.indexOf('\t')
      const [mode = '', type = '', sha = '', size = '-'] = line.slice(0, tab).split(/\s+/)
      return {
        path: line.slice(tab + 1),
        mode,
        type,
        sha,
        ...(type === 'blob' ? { size: Number(size) } : {}),
        url: `${api}/git/${type === 'tree' ? 'trees' : 'blobs'}/${sha}`,
      }
    })
  return { sha: tree, url: `${api}/git/trees/${tree}`, truncated: false, tree: entries }
}

function identityField(
  req: ApiRequest,
  name: string,
): { name: string; email: string; date?: string } | undefined {
  const value = req.body[name]
  if (value === undefined || value === null) return undefined
  const identity = value as Record<string, unknown>
  if (typeof identity.name !== 'string' || typeof identity.email !== 'string') {
    throw new HttpError(422, `${name} needs name and email`)
  }
  return {
    name: identity.name,
    email: identity.email,
    ...(typeof identity.date === 'string' ? { date: identity.date } : {}),
  }
}

function gitCommitJson(
  ctx: SimContext,
  fullName: string,
  info: NonNullable<Awaited<ReturnType<typeof commitInfo>>>,
) {
  const api = apiOf(ctx, fullName)
  const gitUser = (identity: typeof info.author) => ({
    name: identity.name,
    email: identity.email,
    date: identity.date.replace(/[+-]00:00$/, 'Z'),
  })
  return {
    sha: info.sha,
    node_id: `C_${Buffer.from(info.sha).toString('base64').slice(0, 20)}`,
    url: `${api}/git/commits/${info.sha}`,
    html_url: `${ctx.urls.serverUrl}/${fullName}/commit/${info.sha}`,
    author: gitUser(info.author),
    committer: gitUser(info.committer),
    message: info.message,
    tree: { sha: info.tree, url: `${api}/git/trees/${info.tree}` },
    parents: info.parents.map((parent) => ({
      sha: parent,
      url: `${api}/git/commits/${parent}`,
      html_url: `${ctx.urls.serverUrl}/${fullName}/commit/${parent}`,
    })),
    verification: {
      verified: false,
      reason: 'unsigned',
      signature: null,
      payload: null,
      verified_at: null,
    },
  }
}

/** `GET /git/commits/{commit_sha}` */
async function getCommit(req: ApiRequest, ctx: SimContext) {
  const repo = requireRepo(req)
  const sha = req.params.commit_sha ?? ''
  if (!/^[0-9a-f]{40}$/.test(sha) || (await objectType(repo.path, sha)) !== 'commit')
    throw notFound()
  const info = await commitInfo(repo.path, sha)
  if (!info) throw notFound()
  return { status: 200, body: gitCommitJson(ctx, repo.fullName, info) }
}

/** `POST /git/commits` */
async function createCommit(req: ApiRequest, ctx: SimContext) {
  const repo = requireRepo(req)
  const message = stringField(req, 'message', true) ?? ''
  const tree = stringField(req, 'tree', true) ?? ''
  const parents = req.body.parents ?? []
  if (!Array.isArray(parents) || !parents.every((p) => typeof p === 'string')) {
    throw new HttpError(422, 'parents must be an array of commit SHAs')
  }
  if ((await objectType(repo.path, tree)) !== 'tree')
    throw new HttpError(422, 'Tree SHA does not exist')
  for (const parent of parents) {
    if ((await objectType(repo.path, parent)) !== 'commit')
      throw new HttpError(422, 'Parent SHA does not exist or is not a commit object')
  }
  const user = req.user
  const fallback = {
    name: user?.login ?? repo.owner,
    email: `${user?.login ?? repo.owner}@users.noreply.github.com`,
  }
  const author = identityField(req, 'author') ?? fallback
  const committer = identityField(req, 'committer') ?? author
  const sha = await commitTree(repo.path, tree, parents, message, author, committer)
  const info = await commitInfo(repo.path, sha)
  if (!info) throw new Error(`commit ${sha} vanished`)
  return { status: 201, body: gitCommitJson(ctx, repo.fullName, info) }
}

/** The commit a `ref` query names (branch, tag, full ref or SHA), or the default branch. */
async function commitForRef(dir: string, ref: string): Promise<string | undefined> {
  const candidates = /^[0-9a-f]{40}$/i.test(ref)
    ? [ref]
    : [`refs/heads/${ref}`, `refs/tags/${ref}`, ref]
  for (const candidate of candidates) {
    const sha = await refSha(dir, `${candidate}^{commit}`)
    if (sha) return sha
  }
  return undefined
}

/** `GET /contents/{path}`: a file (base64) or a directory listing at `ref`. */
async function getContent(req: ApiRequest, ctx: SimContext) {
  const repo = requireRepo(req)
  const path = (req.params.path ?? '').replace(/^\/+|\/+$/g, '')
  const ref = req.query.get('ref') ?? repo.defaultBranch
  const commit = await commitForRef(repo.path, ref)
  if (!commit) throw new HttpError(404, `No commit found for the ref ${ref}`)
  const api = apiOf(ctx, repo.fullName)
  const links = (type: string, sha: string, itemPath: string) => {
    const self = `${api}/contents/${itemPath}?ref=${encodeURIComponent(ref)}`
    const gitUrl = `${api}/git/${type === 'dir' ? 'trees' : 'blobs'}/${sha}`
    const html = `${ctx.urls.serverUrl}/${repo.fullName}/${type === 'dir' ? 'tree' : 'blob'}/${ref}/${itemPath}`
    return { url: self, git_url: gitUrl, html_url: html, _links: { self, git: gitUrl, html } }
  }
  const listing = await runProcess('git', ['ls-tree', '-z', '--long', commit, '--', path], {
    cwd: repo.path,
    env: gitEnv(),
  })
  const line = listing.stdout.split('\0').find((entry) => entry.endsWith(`\t${path}`))
  if (listing.code !== 0 || !line) throw notFound()
  const [mode = '', type = '', sha = '', size = '0'] = line
    .slice(0, line.indexOf('\t'))
    .split(/\s+/)
  const name = path.split('/').pop() ?? path
  if (type === 'tree') {
    const tree = await treeJson(ctx, repo.fullName, repo.path, sha)
    return {
      status: 200,
      body: tree.tree.map((entry) => {
        const itemPath = `${path}/${entry.path}`
        const kind =
          entry.type === 'tree'
            ? 'dir'
            : entry.mode === '120000'
              ? 'symlink'
              : entry.type === 'commit'
                ? 'submodule'
                : 'file'
        return {
          type: kind,
          size: entry.size ?? 0,
          name: entry.path,
          path: itemPath,
          sha: entry.sha,
          download_url: null,
          ...links(kind, entry.sha, itemPath),
        }
      }),
    }
  }
  if (type !== 'blob' || mode === '120000')
    throw new HttpError(404, 'Not Found (the simulator serves files and directories only)')
  const bytes = await blobBytes(repo.path, sha)
  return {
    status: 200,
    body: {
      type: 'file',
      encoding: 'base64',
      size: Number(size),
      name,
      path,
      content: bytes.toString('base64'),
      sha,
      download_url: `${ctx.urls.serverUrl}/${repo.fullName}/raw/${commit}/${path}`,
      ...links('file', sha, path),
    },
  }
}

export const gitDataRoutes: RouteDef[] = [
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/git/trees',
    access: 'write',
    handler: createTree,
  },
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/git/commits',
    access: 'write',
    handler: createCommit,
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/git/commits/{commit_sha}',
    access: 'read',
    handler: getCommit,
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/contents/{path}',
    access: 'read',
    handler: getContent,
  },
]
