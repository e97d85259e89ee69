// The sandbox every kustomize and helm process of a render runs in (SPEC §6):
// bubblewrap with its own user, PID, network, IPC, UTS and cgroup namespaces,
// a read-only view of exactly the paths a run names (the render tree, the tool
// binaries, the helm shim and the shell it needs) and nothing else of the
// host, a private size-limited /tmp, and an address-space limit. Without
// bubblewrap (or where unprivileged user namespaces are refused) renders of
// untrusted content are refused unless the configuration says
// `hydrate.sandbox: off`; the memory limit applies either way. A render slot
// keeps one sandbox for the commands it runs one after another (SandboxPool).
import { constants } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { access, realpath } from 'node:fs/promises'
import { minimalEnv, ProcessSession, runProcess, type RunResult } from '../process.js'

export type SandboxMode = 'required' | 'off'

export type Isolation =
  { kind: 'bubblewrap'; bwrap: string; version: string } | { kind: 'none'; reason: string }

export interface Limits {
  /** Address space of each process (RLIMIT_AS), in bytes. */
  memoryBytes: number
  /** Size of the private /tmp, in bytes. */
  tmpBytes: number
}

export interface SandboxRun {
  /** Paths bound read-only at the same place (directories or files). */
  readOnly: readonly string[]
  /** Paths bound writable at the same place (a chart pull's destination). */
  writable?: readonly string[]
  /** Only the suite's own chart pulls from allowlisted repositories get the network. */
  network?: boolean
  cwd: string
}

const BWRAP_CANDIDATES = ['/usr/bin/bwrap', '/usr/local/bin/bwrap']
/** What name resolution and TLS need, for chart pulls only. */
const NETWORK_FILES = [
  '/etc/resolv.conf',
  '/etc/hosts',
  '/etc/nsswitch.conf',
  '/etc/ssl/certs',
  '/etc/pki/tls/certs',
]
/**
 * Applies the memory limit, then becomes the tool. A constant script: the
 * limit and the command are arguments, never text in it.
 */
const LIMIT_SCRIPT = 'ulimit -v "$1" || exit 125; shift; exec "$@"'
/**
 * A session's driver: under the memory limit, runs one command per request
 * read from stdin (a marker line, an argument count, one argument a line),
 * with stdin from /dev/null; then kills every other process of the sandbox's
 * PID namespace (nothing a render started outlives it) and ends both streams
 * with `<marker> <exit code>`. Constant: requests are data, never script text.
 */
const SESSION_SCRIPT = `ulimit -v "$1" || exit 125
while IFS= read -r marker && IFS= read -r count; do
  set --
  while [ "$count" -gt 0 ]; do IFS= read -r arg; set -- "$@" "$arg"; count=$((count - 1)); done
  "$@" </dev/null
  code=$?
  kill -9 -1 2>/dev/null
  printf '\\n%s %s\\n' "$marker" "$code" >&2
  printf '\\n%s %s\\n' "$marker" "$code"
done`

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** Renders run in a sandbox, or without one only when the configuration says `hydrate.sandbox: off`. */
export function sandboxRefusal(mode: SandboxMode, isolation: Isolation): string | undefined {
  if (isolation.kind === 'bubblewrap' || mode === 'off') return undefined
  return `no sandbox for kustomize and Helm: ${isolation.reason}; nothing is rendered (hydrate.sandbox: off renders without one)`
}

/** The shared libraries a dynamic executable loads (none for a static one, like the Go tools). */
export async function sharedLibraries(program: string): Promise<string[]> {
  const run = await runProcess('ldd', [program], { env: minimalEnv(), timeoutMs: 10_000 }).catch(
    () => undefined,
  )
  if (!run || run.code !== 0) return []
  const libraries = new Set<string>()
  for (const match of run.stdout.matchAll(/(?:=>\s*|^\s*)(\/\S+)/gm)) {
    const library = match[1] as string
    libraries.add(library)
    libraries.add(await realpath(library).catch(() => library))
  }
  return [...libraries].sort()
}

/** The whole bwrap command line for one process (exported for the tests). */
export function bwrapArgs(
  run: SandboxRun,
  limits: Limits,
  program: readonly string[],
  shell: string,
  script = LIMIT_SCRIPT,
): string[] {
  const args = ['--unshare-all', '--unshare-user', '--disable-userns']
  if (run.network) args.push('--share-net')
  args.push('--die-with-parent', '--new-session', '--cap-drop', 'ALL')
  // Mounts apply in order: the private /tmp first (the render tree may live below
  // the host's /tmp), then the read-only paths, then writable ones inside them.
  args.push(
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--size',
    String(limits.tmpBytes),
    '--tmpfs',
    '/tmp',
  )
  for (const path of run.readOnly) args.push('--ro-bind', path, path)
  if (run.network) for (const path of NETWORK_FILES) args.push('--ro-bind-try', path, path)
  for (const path of run.writable ?? []) args.push('--bind', path, path)
  args.push('--chdir', run.cwd, '--', shell, '-c', script, 'limit')
  args.push(String(Math.floor(limits.memoryBytes / 1024)), ...program)
  return args
}

export class Sandbox {
  private constructor(
    readonly mode: SandboxMode,
    readonly isolation: Isolation,
    /** The shell running the limit script and the helm shim, and what it needs to start. */
    readonly shell: string,
    private readonly shellFiles: readonly string[],
    readonly limits: Limits,
  ) {}

  /**
   * Detects what isolation this machine gives: bubblewrap is found and a
   * probe process is started in it (Ubuntu 24.04's AppArmor refuses
   * unprivileged user namespaces unless bwrap has a profile allowing them).
   */
  static async detect(
    mode: SandboxMode,
    limits: Limits,
    /** Where bubblewrap is looked for. */
    candidates: readonly string[] = BWRAP_CANDIDATES,
  ): Promise<Sandbox> {
    const shell = await realpath('/bin/sh')
    const shellFiles = [shell, ...(await sharedLibraries(shell))]
    if (mode === 'off') {
      return new Sandbox(
        mode,
        { kind: 'none', reason: 'hydrate.sandbox is off' },
        shell,
        [],
        limits,
      )
    }
    let bwrap: string | undefined
    for (const candidate of candidates) {
      if (await executable(candidate)) {
        bwrap = candidate
        break
      }
    }
    if (!bwrap) {
      return new Sandbox(
        mode,
        { kind: 'none', reason: 'bubblewrap is not installed (apt-get install -y bubblewrap)' },
        shell,
        shellFiles,
        limits,
      )
    }
    const [version, probe] = await Promise.all([
      runProcess(bwrap, ['--version'], { env: minimalEnv(), timeoutMs: 10_000 }),
      runProcess(
        bwrap,
        bwrapArgs({ readOnly: shellFiles, cwd: '/' }, limits, [shell, '-c', ':'], shell),
        { env: minimalEnv(), timeoutMs: 10_000 },
      ),
    ])
    if (probe.code !== 0) {
      const detail = probe.stderr.trim().split('\n')[0] || `exit ${probe.code}`
      const hint = /uid map|Permission denied|Operation not permitted/.test(detail)
        ? ' (unprivileged user namespaces are refused here; on Ubuntu 24.04 give bwrap an AppArmor profile, see the README)'
        : ''
      return new Sandbox(
        mode,
        { kind: 'none', reason: `bubblewrap cannot start a sandbox: ${detail}${hint}` },
        shell,
        shellFiles,
        limits,
      )
    }
    return new Sandbox(
      mode,
      { kind: 'bubblewrap', bwrap, version: version.stdout.trim() },
      shell,
      shellFiles,
      limits,
    )
  }

  /** One line for logs, the job summary and the CLI. */
  describe(): string {
    const memory = `${Math.round(this.limits.memoryBytes / 2 ** 20)} MiB address space per process`
    if (this.isolation.kind === 'bubblewrap') {
      return `sandbox: ${this.isolation.version} (no network, own PID namespace, read-only render tree and tools, private /tmp, ${memory})`
    }
    if (this.mode === 'off') return `sandbox: off (hydrate.sandbox: off; ${memory} only)`
    return `sandbox: none: ${this.isolation.reason}`
  }

  /** Why renders may not run here, if they may not (see sandboxRefusal). */
  refusal(): string | undefined {
    return sandboxRefusal(this.mode, this.isolation)
  }

  /** The command line running `program` under this sandbox (or under the memory limit alone). */
  command(program: string, args: readonly string[], run: SandboxRun): [string, string[]] {
    const limitKb = String(Math.floor(this.limits.memoryBytes / 1024))
    if (this.isolation.kind !== 'bubblewrap') {
      return [this.shell, ['-c', LIMIT_SCRIPT, 'limit', limitKb, program, ...args]]
    }
    const readOnly = [...new Set([...this.shellFiles, program, ...run.readOnly])]
    return [
      this.isolation.bwrap,
      bwrapArgs({ ...run, readOnly }, this.limits, [program, ...args], this.shell),
    ]
  }

  /**
   * Many commands, one after another, in one sandbox with these mounts (a
   * render slot): saves a bubblewrap start and a fork of node per command.
   * Only with bubblewrap, whose PID namespace lets the driver end every
   * process a command left behind; undefined otherwise.
   */
  session(run: SandboxRun, env: NodeJS.ProcessEnv): SandboxSession | undefined {
    if (this.isolation.kind !== 'bubblewrap') return undefined
    const readOnly = [...new Set([...this.shellFiles, ...run.readOnly])]
    const args = bwrapArgs({ ...run, readOnly }, this.limits, [], this.shell, SESSION_SCRIPT)
    return new SandboxSession(this.isolation.bwrap, args, run.cwd, env)
  }
}

/**
 * A running sandbox that runs one command at a time, as runProcess would run
 * it alone. At a limit the whole sandbox is killed and the next command
 * starts a fresh one.
 */
export class SandboxSession {
  private process?: ProcessSession

  constructor(
    private readonly bwrap: string,
    private readonly args: readonly string[],
    private readonly cwd: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** `program` must be one of the session's read-only paths; no argument may hold a line break. */
  async run(
    program: string,
    args: readonly string[],
    limits: { timeoutMs?: number; maxOutputBytes?: number },
  ): Promise<RunResult & { killedFor?: 'timeout' | 'output-limit' }> {
    const argv = [program, ...args]
    if (argv.some((arg) => /[\n\r]/.test(arg)))
      throw new Error(`a sandboxed argument holds a line break: ${JSON.stringify(argv)}`)
    if (!this.process || this.process.ended) {
      this.process = new ProcessSession(this.bwrap, this.args, { cwd: this.cwd, env: this.env })
    }
    const marker = randomBytes(16).toString('hex')
    const answer = await this.process.request(
      `${marker}\n${argv.length}\n${argv.join('\n')}\n`,
      marker,
      limits,
    )
    return {
      code: answer.code,
      stdout: answer.stdout,
      stderr: answer.stderr,
      ...(answer.killedFor ? { killedFor: answer.killedFor } : {}),
    }
  }

  /** Ends the sandbox and everything in it. */
  close(): void {
    this.process?.close()
  }
}

/**
 * At most `limit` sandboxes with the same mounts, for commands run
 * concurrently: a command takes an idle session, starts one, or waits for one
 * (so the render slots are held by the tool processes only, not by what the
 * caller does with their output). Without bubblewrap, each command runs alone
 * under the limits, `limit` at a time.
 */
export class SandboxPool {
  private readonly idle: SandboxSession[] = []
  private readonly all: SandboxSession[] = []
  private readonly waiting: (() => void)[] = []
  private busy = 0

  constructor(
    private readonly sandbox: Sandbox,
    private readonly mounts: SandboxRun,
    private readonly env: NodeJS.ProcessEnv,
    private readonly limit = Infinity,
  ) {}

  async run(
    program: string,
    args: readonly string[],
    limits: { timeoutMs?: number; maxOutputBytes?: number },
  ): Promise<RunResult & { killedFor?: 'timeout' | 'output-limit' }> {
    if (this.busy >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve))
    this.busy++
    try {
      return await this.runNow(program, args, limits)
    } finally {
      this.busy--
      this.waiting.shift()?.()
    }
  }

  private async runNow(
    program: string,
    args: readonly string[],
    limits: { timeoutMs?: number; maxOutputBytes?: number },
  ): Promise<RunResult & { killedFor?: 'timeout' | 'output-limit' }> {
    let session = this.idle.pop()
    if (!session) {
      session = this.sandbox.session(this.mounts, this.env)
      if (!session) {
        const [command, argv] = this.sandbox.command(program, args, this.mounts)
        return runProcess(command, argv, { cwd: this.mounts.cwd, env: this.env, ...limits })
      }
      this.all.push(session)
    }
    try {
      return await session.run(program, args, limits)
    } finally {
      this.idle.push(session)
    }
  }

  /** Ends every sandbox of the pool. */
  close(): void {
    for (const session of this.all) session.close()
  }
}
