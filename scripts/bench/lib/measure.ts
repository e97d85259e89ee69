// Measuring a command as a user would run it: a fresh process under
// /usr/bin/time -v (wall clock, CPU of the process and of the children it
// waited for, peak resident set size). Shared by the benchmarks.
import { readFile } from 'node:fs/promises'
import { cpus, availableParallelism, totalmem } from 'node:os'
import { runProcess } from '../../../actions/lib/process.js'

export interface TimeResult {
  wallMs: number
  /** User + system CPU of the process and the processes it waited for. */
  cpuMs: number
  maxRssMb: number
  stdout: string
}

export const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN

/** Runs a command under /usr/bin/time -v (in `env`, else this process's); throws with its stderr when it fails. */
export async function timed(
  command: string,
  args: string[],
  cwd: string,
  env?: NodeJS.ProcessEnv,
): Promise<TimeResult> {
  const started = performance.now()
  const result = await runProcess('/usr/bin/time', ['-v', command, ...args], {
    cwd,
    ...(env ? { env } : {}),
  })
  const wallMs = performance.now() - started
  if (result.code !== 0)
    throw new Error(`${command} ${args.join(' ')} failed:\n${result.stderr.slice(-2000)}`)
  const field = (name: string) => Number(new RegExp(`${name}: ([\\d.]+)`).exec(result.stderr)?.[1])
  return {
    wallMs,
    cpuMs: (field('User time \\(seconds\\)') + field('System time \\(seconds\\)')) * 1000,
    maxRssMb: field('Maximum resident set size \\(kbytes\\)') / 1024,
    stdout: result.stdout,
  }
}

/** "Intel(R) Xeon(R) Processor, 2 CPUs (nproc 2), 23.5 GiB, node v20…, load 1.2 0.9 0.8". */
export async function machineLine(): Promise<string> {
  const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')
  return `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} CPUs (nproc ${availableParallelism()}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}, load average ${load}`
}

// Bundled like the actions: one ESM file that node runs as it is.
export const ACTION_BUNDLE = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'error',
  banner: {
    js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
} as const
