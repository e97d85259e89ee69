// The suite's one process runner. Not @actions/exec: that streams into the job
// log and has no output cap, no kill after a timeout and no clean environment,
// which the renders of untrusted PR content (and the coming sandbox) need.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'

export interface RunOptions {
  cwd?: string
  /** The child's whole environment: nothing is inherited unless the caller passes it. */
  env?: NodeJS.ProcessEnv
  input?: string | Buffer
  /** Kill the process after this many milliseconds. */
  timeoutMs?: number
  /** Kill the process when stdout grows past this many bytes. */
  maxOutputBytes?: number
}

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

export class CommandError extends Error {
  override name = 'CommandError'
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly result: RunResult,
    reason: string,
  ) {
    super(`${command} ${args.join(' ')}: ${reason}`)
  }
}

/** Environment for tools that must see nothing secret: PATH, HOME and locale only. */
export function minimalEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'SYSTEMROOT']
  const env: NodeJS.ProcessEnv = {}
  for (const key of keep) {
    const value = process.env[key]
    if (value !== undefined) env[key] = value
  }
  return { ...env, ...extra }
}

/** SIGKILL to a whole process group; it may be gone already. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // ESRCH: every process of the group has exited.
  }
}

/**
 * Runs a program with an argument array (never a shell), capturing output.
 * Resolves with the exit code; never rejects for a non-zero exit. The child
 * leads its own process group, and the whole group is killed at a limit and
 * when the child ends: a grandchild (kustomize's helm) never outlives it.
 */
export function runProcess(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult & { killedFor?: 'timeout' | 'output-limit' }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      shell: false,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
    })
    const stop = () => (process.platform === 'win32' ? child.kill('SIGKILL') : killGroup(child.pid))
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    let stdoutBytes = 0
    let killedFor: 'timeout' | 'output-limit' | undefined
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            killedFor = 'timeout'
            stop()
          }, options.timeoutMs)
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length
      if (options.maxOutputBytes !== undefined && stdoutBytes > options.maxOutputBytes) {
        if (!killedFor) {
          killedFor = 'output-limit'
          stop()
        }
        return
      }
      stdout.push(chunk)
    })
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
    child.on('error', (error) => {
      if (timer) clearTimeout(timer)
      reject(error)
    })
    // A grandchild holding the pipes would keep 'close' from firing: end the group with its leader.
    child.on('exit', stop)
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer)
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        ...(killedFor ? { killedFor } : {}),
      })
    })
    child.stdin.on('error', () => {
      // The child may exit before reading its input; its exit code tells what happened.
    })
    child.stdin.end(options.input)
  })
}

/** Like runProcess, but throws a CommandError on a non-zero exit. */
export async function runChecked(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const result = await runProcess(command, args, options)
  if (result.killedFor === 'timeout') {
    throw new CommandError(command, args, result, `timed out after ${options.timeoutMs} ms`)
  }
  if (result.killedFor === 'output-limit') {
    throw new CommandError(command, args, result, `output over ${options.maxOutputBytes} bytes`)
  }
  if (result.code !== 0) {
    const detail = result.stderr.trim() || result.stdout.trim() || `exit code ${result.code}`
    throw new CommandError(command, args, result, detail)
  }
  return result
}

export interface SessionAnswer {
  stdout: string
  stderr: string
  /** The status the marker lines carried (an exit code), or the session's own when it ended. */
  code: number
  killedFor?: 'timeout' | 'output-limit'
  /** The session ended: it answers nothing more. */
  ended?: boolean
}

/**
 * A long-running child answering one request at a time: the request is
 * written to its stdin, and its answer is what stdout and stderr carry until
 * each ends with the line `<marker> <status>`. Like runProcess, the child leads
 * its own process group, killed whole at a limit (which ends the session) and
 * when the child exits.
 */
export class ProcessSession {
  private readonly child: ChildProcessWithoutNullStreams
  private readonly streams = { stdout: new SessionStream(), stderr: new SessionStream() }
  private current?: {
    end: RegExp
    maxOutputBytes?: number
    done: (answer: SessionAnswer) => void
  }
  private endedCode?: number
  private readonly stop: () => void

  constructor(command: string, args: readonly string[], options: RunOptions = {}) {
    this.child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      shell: false,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    })
    this.stop = () => killGroup(this.child.pid)
    for (const name of ['stdout', 'stderr'] as const) {
      this.child[name].on('data', (chunk: Buffer) => this.receive(name, chunk))
    }
    this.child.on('error', () => this.finish(127))
    this.child.on('exit', this.stop)
    this.child.on('close', (code, signal) => this.finish(code ?? (signal ? 128 : 1)))
    this.child.stdin.on('error', () => {
      // The child may be gone; its exit ends the session.
    })
  }

  get ended(): boolean {
    return this.endedCode !== undefined
  }

  /**
   * Sends one request (`marker`: random hex, so no answer can end early); never
   * rejects: a session that ended answers with `ended`.
   */
  request(
    input: string,
    marker: string,
    limits: { timeoutMs?: number; maxOutputBytes?: number } = {},
  ): Promise<SessionAnswer> {
    if (this.current) throw new Error('a session answers one request at a time')
    if (this.endedCode !== undefined) {
      return Promise.resolve({ stdout: '', stderr: '', code: this.endedCode, ended: true })
    }
    if (!/^[0-9a-f]{16,}$/.test(marker)) throw new Error('a session marker is 16+ hex digits')
    return new Promise((resolve) => {
      const timer =
        limits.timeoutMs === undefined
          ? undefined
          : setTimeout(() => this.kill('timeout'), limits.timeoutMs)
      this.current = {
        end: new RegExp(`\\n${marker} (\\d+)\\n$`),
        ...(limits.maxOutputBytes !== undefined ? { maxOutputBytes: limits.maxOutputBytes } : {}),
        done: (answer) => {
          if (timer) clearTimeout(timer)
          this.current = undefined
          resolve(answer)
        },
      }
      this.child.stdin.write(input)
    })
  }

  /** Ends the session and everything it started. */
  close(): void {
    this.child.stdin.end()
    this.stop()
  }

  private killedFor?: 'timeout' | 'output-limit'

  private kill(reason: 'timeout' | 'output-limit'): void {
    this.killedFor ??= reason
    this.stop()
  }

  private receive(name: 'stdout' | 'stderr', chunk: Buffer): void {
    const stream = this.streams[name]
    const current = this.current
    if (!current || this.killedFor) return
    stream.push(chunk, current.end)
    const limit = current.maxOutputBytes
    if (name === 'stdout' && limit !== undefined && stream.bytes > limit) {
      this.kill('output-limit')
      return
    }
    const { stdout, stderr } = this.streams
    if (stdout.status === undefined || stderr.status === undefined) return
    const code = Number(stdout.status)
    current.done({ stdout: stdout.take(), stderr: stderr.take(), code })
  }

  private finish(code: number): void {
    if (this.endedCode !== undefined) return
    this.endedCode = code
    const { stdout, stderr } = this.streams
    this.current?.done({
      stdout: stdout.take(),
      stderr: stderr.take(),
      code,
      ended: true,
      ...(this.killedFor ? { killedFor: this.killedFor } : {}),
    })
  }
}

/** One stream of a session: its answer so far, and the status once the marker line ends it. */
class SessionStream {
  private chunks: Buffer[] = []
  private tail = ''
  private endBytes = 0
  bytes = 0
  status?: string

  push(chunk: Buffer, end: RegExp): void {
    this.chunks.push(chunk)
    this.bytes += chunk.length
    // The marker line is ASCII: a latin1 tail of the last bytes is enough to find it.
    this.tail = (this.tail + chunk.toString('latin1')).slice(-64)
    const found = end.exec(this.tail)
    if (found) {
      this.status = found[1]
      this.endBytes = found[0].length
      this.bytes -= this.endBytes
    }
  }

  /** The answer without the marker line (and the newline before it, which the marker adds). */
  take(): string {
    const all = Buffer.concat(this.chunks)
    const text = all.subarray(0, all.length - this.endBytes).toString('utf8')
    this.chunks = []
    this.tail = ''
    this.endBytes = 0
    this.bytes = 0
    this.status = undefined
    return text
  }
}
