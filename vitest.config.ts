import { execFileSync } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { delimiter } from 'node:path'
import { defineConfig } from 'vitest/config'

// The real kustomize, helm and actionlint come from the pinned tool cache
// (scripts/install-tools.sh), ahead of anything else on PATH.
const toolPath = execFileSync('bash', ['scripts/install-tools.sh', '--path'], {
  encoding: 'utf8',
}).trim()

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The tests spend about half their time waiting on git, kustomize, helm and
    // node child processes: one worker more than the cores keeps them busy
    // (vitest's default, one fewer, left one of two cores idle).
    maxWorkers: availableParallelism() + 1,
    env: {
      PATH: `${toolPath}${delimiter}${process.env.PATH ?? ''}`,
      FLEET_PROMOTE_WRITE_INTERVAL_MS: '0',
      // Retried 5xx and resets back off n² × 10 ms instead of n² seconds.
      FLEET_PROMOTE_RETRY_BASE_MS: '10',
    },
  },
})
