// Runs `npm run demo` itself, the command a user types, and reads back the
// result it writes with --report: the demo tests check that entry point.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runProcess } from '../../actions/lib/process.js'
import type { DemoResult } from './demo-scenario.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface DemoRun {
  exitCode: number
  /** What the demo printed: the narration a user reads. */
  narration: string
  result: Omit<DemoResult, 'stop'>
}

export async function runDemoCommand(args: readonly string[] = []): Promise<DemoRun> {
  const scratch = await mkdtemp(join(tmpdir(), 'fleet-promote-demo-report-'))
  try {
    const report = join(scratch, 'result.json')
    const run = await runProcess(
      'npm',
      ['run', '--silent', 'demo', '--', ...args, '--report', report],
      {
        cwd: ROOT,
        timeoutMs: 15 * 60_000,
      },
    )
    const narration = `${run.stdout}${run.stderr}`
    const text = await readFile(report, 'utf8').catch(() => {
      throw new Error(
        `npm run demo exited ${run.code} without a report:\n${narration.slice(-4000)}`,
      )
    })
    return { exitCode: run.code, narration, result: JSON.parse(text) as DemoRun['result'] }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}
