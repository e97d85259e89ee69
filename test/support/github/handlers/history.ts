/**
 * Reading history without a clone: a tree listing (`GET /git/trees`, with
 * `recursive`) and a comparison of two commits (`GET /compare/{base}...{head}`),
 * on the real bare repository, shaped as GitHub documents them.
 */
import { runChecked } from '../../../../actions/lib/process.js'
import { commitInfo, countCommits, gitEnv, objectType, refSha } from '../git-repo.js'
import {
  HttpError,
  notFound,
  requireRepo,
  type ApiRequest,
  type RouteDef,
  type SimContext,
} from '../http.js'

/** GitHub cuts a recursive listing at 100,000 entries and says so with `truncated`. */
const TREE_ENTRY_LIMIT = 100_000

async function git(dir: string, args: string[]): Promise<string> {
  return (await runChecked('git', args, { cwd: dir, env: gitEnv() })).stdout
}

/** A commit SHA, or a branch or tag name (GitHub accepts both in these paths). */
async function commitOf(dir: string, name: string): Promise<string | undefined> {
  const candidates = /^[0-9a-f]{40}$/.test(name)
    ? [name]
    : [`refs/heads/${name}`, `refs/tags/${name}`, ...(name.startsWith('refs/') ? [name] : [])]
  for (const candidate of candidates) {
    const sha = await refSha(dir, `${candidate}^{commit}`)
    if (sha) return sha
  }
  return undefined
}

/** `GET /git/trees/{tree_sha}`: a tree SHA, or a commit SHA or ref whose tree is listed. */
async function getTree(req: ApiRequest, ctx: SimContext) {
  const repo = requireRepo(req)
  const name = decodeURIComponent(req.params.tree_sha ?? '')
  const tree =
    /^[0-9a-f]{40}$/.test(name) && (await objectType(repo.path, name)) === 'tree'
      ? name
      : await commitOf(repo.path, name).then((commit) =>
          commit ? refSha(repo.path, `${commit}^{tree}`) : undefined,
        )
  if (!tree) throw notFound()
  const recursive = req.query.has('recursive')
  const listing = await git(repo.path, [
    'ls-tree',
    '-z',
    '-l',
    ...(recursive ? ['-r', '-t'] : []),
    tree,
  ])
  const api = `${ctx.urls.apiUrl}/repos/${repo.fullName}/git`
  const entries = listing
    .split('\0')
    .filter(Boolean)
    .map((line) => {
      const [meta = '', path = ''] = line.split('\t')
      const [mode = '', type = '', sha = '', size = '-'] = meta.split(/\s+/)
      return {
        path,
        mode,
        type,
        sha,
        ...(type === 'blob' ? { size: Number(size) } : {}),
        url: `${api}/${type === 'tree' ? 'trees' : 'blobs'}/${sha}`,
      }
    })
  return {
    status: 200,
    body: {
      sha: tree,
      url: `${api}/trees/${tree}`,
      tree: entries.slice(0, TREE_ENTRY_LIMIT),
      truncated: entries.length > TREE_ENTRY_LIMIT,
    },
  }
}

/** `GET /compare/{base}...{head}`: how head relates to base, and the commits base lacks. */
async function compare(req: ApiRequest, ctx: SimContext) {
  const repo = requireRepo(req)
  const basehead = decodeURIComponent(req.params.basehead ?? '')
  const [baseName, headName, extra] = basehead.split('...')
  if (!baseName || !headName || extra !== undefined) throw notFound()
  const base = await commitOf(repo.path, baseName)
  const head = await commitOf(repo.path, headName)
  if (!base || !head) throw notFound()
  const mergeBase = (
    await runChecked('git', ['merge-base', base, head], {
      cwd: repo.path,
      env: gitEnv(),
    }).catch(() => {
      throw new HttpError(404, `No common ancestor between ${baseName} and ${headName}.`)
    })
  ).stdout.trim()
  const aheadBy = await countCommits(repo.path, base, head)
  const behindBy = await countCommits(repo.path, head, base)
  const status =
    base === head ? 'identical' : behindBy === 0 ? 'ahead' : aheadBy === 0 ? 'behind' : 'diverged'
  const perPage = Math.min(Math.max(Number(req.query.get('per_page') ?? 250) || 250, 1), 250)
  const shas = (await git(repo.path, ['rev-list', '--reverse', `${base}..${head}`]))
    .split('\n')
    .filter(Boolean)
    .slice(0, perPage)
  const render = async (sha: string) => {
    const info = await commitInfo(repo.path, sha)
    if (!info) throw new Error(`commit ${sha} vanished`)
    return ctx.render.commit(repo.fullName, info)
  }
  const html = `${ctx.urls.serverUrl}/${repo.fullName}/compare/${basehead}`
  return {
    status: 200,
    body: {
      url: `${ctx.urls.apiUrl}/repos/${repo.fullName}/compare/${basehead}`,
      html_url: html,
      permalink_url: `${ctx.urls.serverUrl}/${repo.fullName}/compare/${base}...${head}`,
      diff_url: `${html}.diff`,
      patch_url: `${html}.patch`,
      base_commit: await render(base),
      merge_base_commit: await render(mergeBase),
      status,
      ahead_by: aheadBy,
      behind_by: behindBy,
      total_commits: aheadBy,
      commits: await Promise.all(shas.map(render)),
    },
  }
}

export const historyRoutes: RouteDef[] = [
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/git/trees/{tree_sha}',
    access: 'read',
    handler: getTree,
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/compare/{basehead}',
    access: 'read',
    handler: compare,
  },
]
