import { CommandError, minimalEnv, runChecked, runProcess, type RunResult } from '../process.js'

/**
 * What git may see of the runner's environment besides PATH, HOME and locale:
 * proxy and CA settings a self-hosted runner may need. Never the runner's
 * tokens (INPUT_TOKEN, ACTIONS_RUNTIME_TOKEN…): a credential reaches git only
 * through GitOptions.token, as GIT_CONFIG_* variables.
 */
const GIT_HOST_ENV = [
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'GIT_SSL_CAINFO',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
]

function gitEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const host: NodeJS.ProcessEnv = {}
  for (const key of GIT_HOST_ENV) if (process.env[key] !== undefined) host[key] = process.env[key]
  return minimalEnv({ ...host, GIT_TERMINAL_PROMPT: '0', ...extra })
}

export interface GitOptions {
  /** Token for HTTP remotes, sent as GitHub expects (`x-access-token` basic auth). */
  token?: string
  /**
   * The server the token is for (GITHUB_SERVER_URL). actions/checkout saves its
   * own header under `http.<server>/.extraheader`, which outranks a general
   * one: naming the server lets ours replace it instead of being ignored.
   */
  serverUrl?: string
  /** Extra environment for every git call (e.g. author identity). */
  env?: NodeJS.ProcessEnv
}

export interface ChangedFile {
  /** A (added), M (modified), D (deleted), R (renamed), C (copied), T (type change). */
  status: 'A' | 'M' | 'D' | 'R' | 'C' | 'T'
  path: string
  /** For renames and copies: the path on the base side. */
  oldPath?: string
}

export interface PushLease {
  ref: string
  /** The SHA the remote ref must still have; '' means the ref must not exist. */
  expect: string
}

const SHA = /^[0-9a-f]{40}$/

/**
 * The one git wrapper: argument arrays only, never shell strings. Credentials
 * travel in GIT_CONFIG_* variables, so they never appear in argv or .git/config.
 */
export class Git {
  private readonly env: NodeJS.ProcessEnv

  constructor(
    readonly dir: string,
    options: GitOptions = {},
  ) {
    this.env = gitEnv(options.env)
    if (options.token) {
      const basic = Buffer.from(`x-access-token:${options.token}`).toString('base64')
      const key = options.serverUrl
        ? `http.${new URL(options.serverUrl).origin}/.extraheader`
        : 'http.extraheader'
      // An empty value first clears headers saved in the repository's config.
      this.env.GIT_CONFIG_COUNT = '2'
      this.env.GIT_CONFIG_KEY_0 = key
      this.env.GIT_CONFIG_VALUE_0 = ''
      this.env.GIT_CONFIG_KEY_1 = key
      this.env.GIT_CONFIG_VALUE_1 = `AUTHORIZATION: basic ${basic}`
    }
  }

  static async clone(
    url: string,
    dir: string,
    options: GitOptions & { branch?: string; depth?: number; bare?: boolean } = {},
  ): Promise<Git> {
    const args = ['clone', '--quiet']
    if (options.bare) args.push('--bare')
    if (options.branch) args.push('--branch', options.branch)
    if (options.depth) args.push('--depth', String(options.depth))
    args.push('--', url, dir)
    await new Git(process.cwd(), options).run(args)
    return new Git(dir, options)
  }

  static async init(dir: string, options: GitOptions & { branch?: string; bare?: boolean } = {}) {
    const args = ['init', '--quiet']
    if (options.bare) args.push('--bare')
    args.push(`--initial-branch=${options.branch ?? 'main'}`, '--', dir)
    await new Git(process.cwd(), options).run(args)
    return new Git(dir, options)
  }

  /** Runs git and returns stdout; throws CommandError (GitCredentialsError) on failure. */
  async run(args: readonly string[], input?: string | Buffer): Promise<string> {
    try {
      const result = await runChecked('git', args, { cwd: this.dir, env: this.env, input })
      return result.stdout
    } catch (error) {
      throw asCredentialsError(error)
    }
  }

  /** Runs git and returns the whole result, whatever the exit code. */
  raw(args: readonly string[], input?: string | Buffer): Promise<RunResult> {
    return runProcess('git', args, { cwd: this.dir, env: this.env, input })
  }

  async revParse(rev: string): Promise<string> {
    return (
      await this.run(['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`])
    ).trim()
  }

  /** The commit a revision names, or undefined when it does not exist here. */
  async tryRevParse(rev: string): Promise<string | undefined> {
    const result = await this.raw([
      'rev-parse',
      '--verify',
      '--quiet',
      '--end-of-options',
      `${rev}^{commit}`,
    ])
    return result.code === 0 ? result.stdout.trim() : undefined
  }

  async mergeBase(a: string, b: string): Promise<string | undefined> {
    const result = await this.raw(['merge-base', '--end-of-options', a, b])
    return result.code === 0 ? result.stdout.trim() : undefined
  }

  async isShallow(): Promise<boolean> {
    return (await this.run(['rev-parse', '--is-shallow-repository'])).trim() === 'true'
  }

  async fetch(
    remote: string,
    refspecs: readonly string[],
    options: { depth?: number; unshallow?: boolean; deepen?: number; prune?: boolean } = {},
  ) {
    const args = ['fetch', '--quiet', '--no-tags', '--no-write-fetch-head']
    if (options.prune) args.push('--prune')
    if (options.unshallow) args.push('--unshallow')
    if (options.depth) args.push(`--depth=${options.depth}`)
    if (options.deepen) args.push(`--deepen=${options.deepen}`)
    args.push('--', remote, ...refspecs)
    await this.run(args)
  }

  /** Files changed between the merge base of base and head, and head; renames found. */
  async changedFiles(base: string, head: string): Promise<ChangedFile[]> {
    const out = await this.run([
      'diff',
      '--name-status',
      '-z',
      '--find-renames',
      '--no-ext-diff',
      '--end-of-options',
      `${base}...${head}`,
      '--',
    ])
    const fields = out.split('\0')
    const files: ChangedFile[] = []
    for (let i = 0; i < fields.length - 1;) {
      const code = fields[i++] ?? ''
      const status = code.charAt(0) as ChangedFile['status']
      if (status === 'R' || status === 'C') {
        const oldPath = fields[i++] ?? ''
        const path = fields[i++] ?? ''
        files.push({ status, path, oldPath })
      } else {
        files.push({ status, path: fields[i++] ?? '' })
      }
    }
    return files
  }

  /** A file's bytes at a revision, or undefined when it does not exist there. */
  async showFile(rev: string, path: string): Promise<string | undefined> {
    const result = await this.raw(['cat-file', 'blob', `${rev}:${path}`])
    return result.code === 0 ? result.stdout : undefined
  }

  /** Every file path in a revision's tree (below `under`, when given). */
  async listFiles(rev: string, under?: string): Promise<string[]> {
    const args = ['ls-tree', '-r', '-z', '--name-only', '--full-tree', '--end-of-options', rev]
    if (under) args.push('--', under)
    const out = await this.run(args)
    return out.split('\0').filter((p) => p.length > 0)
  }

  /** Every file of a revision (blobs and symlinks; submodules left out), as path → blob id. */
  async listBlobs(rev: string): Promise<Map<string, string>> {
    const out = await this.run(['ls-tree', '-r', '-z', '--full-tree', '--end-of-options', rev])
    return parseBlobRecords(out)
  }

  /**
   * How the files of `to` differ from those of `from`, as path → blob id at `to`
   * (undefined: absent there). Git compares the trees by id, so an unchanged
   * directory costs nothing: one revision's listing plus this derives the other.
   */
  async treeChanges(from: string, to: string): Promise<Map<string, string | undefined>> {
    const out = await this.run([
      'diff-tree',
      '-r',
      '-z',
      '--no-renames',
      '--no-commit-id',
      '--end-of-options',
      from,
      to,
    ])
    const changes = new Map<string, string | undefined>()
    // Records are ":<old mode> <new mode> <old id> <new id> <status>\0<path>\0".
    for (let at = 0; at < out.length;) {
      const pathStart = out.indexOf('\0', at) + 1
      const pathEnd = out.indexOf('\0', pathStart)
      if (pathStart === 0 || pathEnd === -1) break
      const [, newMode = '', , newId = ''] = out.slice(at + 1, pathStart - 1).split(' ')
      changes.set(
        out.slice(pathStart, pathEnd),
        newMode === '000000' || newMode === '160000' ? undefined : newId,
      )
      at = pathEnd + 1
    }
    return changes
  }

  /**
   * The blob ids of `rev:path` specs, in order, through one `git cat-file
   * --batch-check` process; undefined where the path is not a blob there.
   */
  async blobIds(specs: readonly string[]): Promise<(string | undefined)[]> {
    if (specs.length === 0) return []
    const out = await this.run(
      ['cat-file', '--batch-check=%(objectname) %(objecttype)'],
      `${specs.join('\n')}\n`,
    )
    const lines = out.split('\n')
    return specs.map((_, index) => {
      const [oid = '', type] = (lines[index] ?? '').split(' ')
      return type === 'blob' && SHA.test(oid) ? oid : undefined
    })
  }

  /**
   * Reads many text blobs through one `git cat-file --batch` process, as
   * object id → content. Ids git does not have are left out.
   */
  async readBlobs(oids: Iterable<string>): Promise<Map<string, string>> {
    const wanted = [...new Set(oids)].filter((oid) => SHA.test(oid))
    const blobs = new Map<string, string>()
    if (wanted.length === 0) return blobs
    const out = Buffer.from(
      await this.run(['cat-file', '--batch'], `${wanted.join('\n')}\n`),
      'utf8',
    )
    let offset = 0
    while (offset < out.length) {
      const headerEnd = out.indexOf(0x0a, offset)
      if (headerEnd < 0) break
      const [oid = '', type, size] = out.toString('utf8', offset, headerEnd).split(' ')
      offset = headerEnd + 1
      if (type === 'missing' || size === undefined) continue
      const end = offset + Number(size)
      // Output is decoded as UTF-8 by the process layer: a blob that is not
      // valid UTF-8 changes length, so re-read the rest one blob at a time.
      if (!SHA.test(oid) || out[end] !== 0x0a) return this.readBlobsOneByOne(wanted, blobs)
      if (type === 'blob') blobs.set(oid, out.toString('utf8', offset, end))
      offset = end + 1
    }
    return blobs
  }

  private async readBlobsOneByOne(oids: readonly string[], blobs: Map<string, string>) {
    for (const oid of oids) {
      if (blobs.has(oid)) continue
      const result = await this.raw(['cat-file', 'blob', oid])
      if (result.code === 0) blobs.set(oid, result.stdout)
    }
    return blobs
  }

  /**
   * Pushes refspecs in one atomic transaction, each guarded by a lease so a
   * ref that moved since we read it is never overwritten.
   */
  async push(
    remote: string,
    refspecs: readonly string[],
    options: { atomic?: boolean; leases?: readonly PushLease[]; force?: boolean } = {},
  ) {
    const args = ['push', '--porcelain']
    if (options.atomic) args.push('--atomic')
    if (options.force) args.push('--force')
    for (const lease of options.leases ?? []) {
      if (lease.expect !== '' && !SHA.test(lease.expect)) {
        throw new Error(`push lease for ${lease.ref} needs a full SHA, got "${lease.expect}"`)
      }
      args.push(`--force-with-lease=${lease.ref}:${lease.expect}`)
    }
    args.push('--', remote, ...refspecs)
    try {
      return await this.run(args)
    } catch (error) {
      if (error instanceof CommandError) {
        const detail = `${error.result.stdout}\n${error.result.stderr}`
        if (/stale info|fetch first|non-fast-forward|atomic push failed|rejected/i.test(detail)) {
          throw new PushRejectedError(detail.trim())
        }
      }
      throw error
    }
  }

  /** Runs `fn` in a detached work tree of `sha` at `dir` (sharing this object store), removed afterwards. */
  async withWorktree<T>(sha: string, dir: string, fn: (dir: string) => Promise<T>): Promise<T> {
    await this.run(['worktree', 'add', '--quiet', '--detach', '--force', '--', dir, sha])
    try {
      return await fn(dir)
    } finally {
      await this.raw(['worktree', 'remove', '--force', '--', dir])
      await this.raw(['worktree', 'prune'])
    }
  }

  /** Local refs below the prefixes (e.g. `refs/heads/`), as ref → SHA: one process for any number. */
  async localRefs(...prefixes: string[]): Promise<Map<string, string>> {
    const out = await this.run([
      'for-each-ref',
      '--format=%(objectname) %(refname)',
      '--',
      ...prefixes,
    ])
    const refs = new Map<string, string>()
    for (const line of out.split('\n')) {
      const space = line.indexOf(' ')
      if (space > 0) refs.set(line.slice(space + 1), line.slice(0, space))
    }
    return refs
  }

  /** Remote refs matching the patterns, as ref → SHA. */
  async lsRemote(remote: string, patterns: readonly string[] = []): Promise<Map<string, string>> {
    const out = await this.run(['ls-remote', '--', remote, ...patterns])
    const refs = new Map<string, string>()
    for (const line of out.split('\n')) {
      const [sha, ref] = line.split('\t')
      if (sha && ref) refs.set(ref, sha)
    }
    return refs
  }
}

/**
 * A remote asked for credentials git did not have (none given, or refused):
 * with prompts off, git says "could not read Username" or "Authentication
 * failed". Callers name the input that gives git a token.
 */
export class GitCredentialsError extends CommandError {
  override name = 'GitCredentialsError'
  constructor(error: CommandError) {
    const said = error.result.stderr.trim().split('\n').at(-1) ?? ''
    super(error.command, error.args, error.result, 'credentials')
    // The subcommand only: an ls-remote of a fleet names hundreds of branches.
    this.message = `${error.command} ${error.args[0] ?? ''}: the remote asks for credentials git does not have (${said})`
  }
}

const CREDENTIALS_MISSING = /could not read (Username|Password)|Authentication failed/i

function asCredentialsError(error: unknown): unknown {
  if (!(error instanceof CommandError) || !CREDENTIALS_MISSING.test(error.result.stderr))
    return error
  return new GitCredentialsError(error)
}

/** The remote refused a push because a ref moved (lease) or is not a fast-forward. */
export class PushRejectedError extends Error {
  override name = 'PushRejectedError'
  constructor(readonly detail: string) {
    super(
      `push rejected: a branch moved on the remote since it was read (${detail.split('\n').find((l) => l.includes('!')) ?? detail.split('\n')[0]})`,
    )
  }
}

/** `ls-tree -z` records ("<mode> <type> <id>\t<path>") as path → blob id, without submodules. */
function parseBlobRecords(out: string): Map<string, string> {
  const files = new Map<string, string>()
  for (let at = 0, end = out.indexOf('\0'); end !== -1; at = end + 1, end = out.indexOf('\0', at)) {
    const tab = out.indexOf('\t', at)
    if (tab === -1 || tab > end || out.startsWith('160000 ', at)) continue
    files.set(out.slice(tab + 1, end), out.slice(out.lastIndexOf(' ', tab) + 1, tab))
  }
  return files
}
