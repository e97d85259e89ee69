// The suite's one process runner. Not @actions/exec: that streams into the job
// log and has no output cap, no kill after a timeout and no clean environment,
// which the renders of untrusted PR content (and the coming sandbox) need.
import { spawn } from 'node:child_process'

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
