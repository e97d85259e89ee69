/** Git plumbing on the simulator's bare repositories: what GitHub's backend does with refs and merges. */
import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'
import { runChecked, runProcess } from '../../../actions/lib/process.js'

const execFileAsync = promisify(execFile)

export interface Identity {
  name: string
  email: string
  date?: string
}

export interface CommitInfo {
  sha: string
  tree: string
  parents: string[]
  author: Identity & { date: string }
  committer: Identity & { date: string }
  message: string
}

export interface DiffFile {
  status: 'added' | 'removed' | 'modified' | 'renamed' | 'copied' | 'changed'
  filename: string
  previousFilename?: string
  additions: number
  deletions: number
  blobSha: string | null
}

/** Isolated from the machine's git configuration so behaviour does not depend on it. */
export function gitEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    ...extra,
  }
}

function identityEnv(author: Identity, committer: Identity = author): NodeJS.ProcessEnv {
  return {
    GIT_AUTHOR_NAME: author.name,
    GIT_AUTHOR_EMAIL: author.email,
    GIT_COMMITTER_NAME: committer.name,
    GIT_COMMITTER_EMAIL: committer.email,
    ...(author.date ? { GIT_AUTHOR_DATE: author.date } : {}),
    ...(committer.date ? { GIT_COMMITTER_DATE: committer.date } : {}),
  }
}

export const GITHUB_COMMITTER: Identity = { name: 'GitHub', email: 'noreply@github.com' }

async function git(dir: string, args: string[], env: NodeJS.ProcessEnv = {}, input?: string) {
  const result = await runChecked('git', args, { cwd: dir, env: gitEnv(env), input })
  return result.stdout
}

export function refShaSync(dir: string, ref: string): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--verify', '--quiet', '--end-of-options', ref], {
      cwd: dir,
      env: gitEnv(),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim()
  } catch {
    return undefined
  }
}

export async function refSha(dir: string, ref: string): Promise<string | undefined> {
  const result = await runProcess(
    'git',
    ['rev-parse', '--verify', '--quiet', '--end-of-options', ref],
    { cwd: dir, env: gitEnv() },
  )
  return result.code === 0 ? result.stdout.trim() : undefined
}

/** A blob's bytes, unmangled (binary files included). */
export async function blobBytes(dir: string, sha: string): Promise<Buffer> {
  const { stdout } = await execFileAsync('git', ['cat-file', 'blob', sha], {
    cwd: dir,
    env: gitEnv(),
    encoding: 'buffer',
    maxBuffer: 256 * 1024 * 1024,
  })
  return stdout
}

export async function objectType(dir: string, sha: string): Promise<string | undefined> {
  const result = await runProcess('git', ['cat-file', '-t', sha], { cwd: dir, env: gitEnv() })
  return result.code === 0 ? result.stdout.trim() : undefined
}

/** Refs under a prefix (e.g. `refs/heads/`), sorted by name. */
export async function listRefs(
  dir: string,
  prefix = 'refs/',
): Promise<Array<{ ref: string; sha: string; type: string }>> {
  const out = await git(dir, [
    'for-each-ref',
    '--sort=refname',
    '--format=%(refname) %(objectname) %(objecttype)',
    prefix,
  ])
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [ref = '', sha = '', type = ''] = line.split(' ')
      return { ref, sha, type }
    })
}

export async function updateRef(dir: string, ref: string, sha: string, oldSha?: string) {
  await git(dir, ['update-ref', ref, sha, ...(oldSha !== undefined ? [oldSha] : [])])
}

/** Applies several ref updates in one transaction (`update <ref> <sha>` / `delete <ref>` lines). */
export async function updateRefs(dir: string, commands: string[]) {
  if (commands.length > 0) await git(dir, ['update-ref', '--stdin'], {}, `${commands.join('\n')}\n`)
}

/** Commits, files and line counts of head against its merge base with base (GitHub's three-dot diff). */
export async function diffStats(dir: string, base: string, head: string) {
  const numstat = await git(dir, ['diff', '--numstat', '-z', '-M', `${base}...${head}`])
  let additions = 0
  let deletions = 0
  let files = 0
  const fields = numstat.split('\0')
  for (let i = 0; i < fields.length - 1;) {
    const [added = '0', deleted = '0', path = ''] = (fields[i++] ?? '').split('\t')
    if (path === '') i += 2 // a rename: the old and new paths follow
    additions += Number(added) || 0
    deletions += Number(deleted) || 0
    files += 1
  }
  return { commits: await countCommits(dir, base, head), additions, deletions, files }
}

export async function deleteRef(dir: string, ref: string) {
  await git(dir, ['update-ref', '-d', ref])
}

export async function isAncestor(dir: string, ancestor: string, descendant: string) {
  const result = await runProcess('git', ['merge-base', '--is-ancestor', ancestor, descendant], {
    cwd: dir,
    env: gitEnv(),
  })
  return result.code === 0
}

/** Commits reachable from head but not from base. */
export async function countCommits(dir: string, base: string, head: string): Promise<number> {
  return Number((await git(dir, ['rev-list', '--count', `${base}..${head}`])).trim())
}

/** Creates a bare repository that accepts pushes over HTTP, with one commit holding README.md. */
export async function initBareRepo(dir: string, defaultBranch: string, readme: string) {
  await git(process.cwd(), ['init', '--quiet', '--bare', `--initial-branch=${defaultBranch}`, dir])
  await git(dir, ['config', 'http.receivepack', 'true'])
  const blob = (await git(dir, ['hash-object', '-w', '--stdin'], {}, readme)).trim()
  const tree = (await git(dir, ['mktree'], {}, `100644 blob ${blob}\tREADME.md\n`)).trim()
  const commit = await commitTree(dir, tree, [], 'Initial commit', {
    name: 'simulator',
    email: 'simulator@example.com',
  })
  await updateRef(dir, `refs/heads/${defaultBranch}`, commit)
}

export async function commitTree(
  dir: string,
  tree: string,
  parents: string[],
  message: string,
  author: Identity,
  committer: Identity = author,
): Promise<string> {
  const args = ['commit-tree', tree, ...parents.flatMap((parent) => ['-p', parent])]
  return (await git(dir, args, identityEnv(author, committer), message)).trim()
}

/** The tree of head merged into base, or undefined on conflicts (`git merge-tree --write-tree`). */
export async function mergeTrees(dir: string, base: string, head: string) {
  const result = await runProcess(
    'git',
    ['merge-tree', '--write-tree', '--no-messages', base, head],
    {
      cwd: dir,
      env: gitEnv(),
    },
  )
  if (result.code === 0) return result.stdout.split('\n')[0]?.trim()
  if (result.code === 1) return undefined
  throw new Error(`git merge-tree failed: ${result.stderr}`)
}

export async function commitInfo(dir: string, sha: string): Promise<CommitInfo | undefined> {
  const result = await runProcess(
    'git',
    [
      'show',
      '-s',
      '--format=%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B',
      `${sha}^{commit}`,
      '--',
    ],
    { cwd: dir, env: gitEnv() },
  )
  if (result.code !== 0) return undefined
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
  ] = result.stdout.split('\0')
  return {
    sha: commit.trim(),
    tree,
    parents: parents.split(' ').filter(Boolean),
    author: { name: an, email: ae, date: ad },
    committer: { name: cn, email: ce, date: cd },
    message: message.replace(/\n+$/, ''),
  }
}

const STATUS_NAMES: Record<string, DiffFile['status']> = {
  A: 'added',
  D: 'removed',
  M: 'modified',
  R: 'renamed',
  C: 'copied',
  T: 'changed',
}

/** The files a pull request changes: merge-base diff with rename detection, like GitHub's three-dot diff. */
export async function diffFiles(dir: string, base: string, head: string): Promise<DiffFile[]> {
  const mergeBase = (await git(dir, ['merge-base', base, head])).trim()
  const raw = await git(dir, ['diff', '--raw', '-z', '-M', '--no-abbrev', mergeBase, head])
  const numstat = await git(dir, ['diff', '--numstat', '-z', '-M', mergeBase, head])
  const files: DiffFile[] = []
  const fields = raw.split('\0')
  for (let i = 0; i < fields.length - 1;) {
    const meta = fields[i++] ?? ''
    const [, , , dstSha = '', statusField = ''] = meta.slice(1).split(' ')
    const letter = statusField.charAt(0)
    const status = STATUS_NAMES[letter] ?? 'modified'
    if (letter === 'R' || letter === 'C') {
      const previousFilename = fields[i++] ?? ''
      const filename = fields[i++] ?? ''
      files.push({
        status,
        filename,
        previousFilename,
        additions: 0,
        deletions: 0,
        blobSha: dstSha,
      })
    } else {
      const filename = fields[i++] ?? ''
      files.push({
        status,
        filename,
        additions: 0,
        deletions: 0,
        blobSha: letter === 'D' ? null : dstSha,
      })
    }
  }
  // numstat -z: "add\tdel\tpath\0" or for renames "add\tdel\t\0old\0new\0".
  const stats = numstat.split('\0')
  for (let i = 0, index = 0; i < stats.length - 1; index++) {
    const [added = '0', deleted = '0', path = ''] = (stats[i++] ?? '').split('\t')
    if (path === '') i += 2
    const file = files[index]
    if (!file) break
    file.additions = Number(added) || 0
    file.deletions = Number(deleted) || 0
  }
  return files
}
