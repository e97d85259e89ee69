// `npm run demo` end to end, run as a user runs it (CI runs the demo only
// here): the real action bundles (dist/ when fresh, else a fresh build)
// against the GitHub and Argo CD simulators, with real git, kustomize and
// helm. The verdict comes from the demo's own convergence check, which
// re-renders main with the render core and compares every WET branch.
import { expect, it } from 'vitest'
import { runDemoCommand } from './e2e/demo-command.js'

it(
  'drives one parent pull request through the fleet and converges',
  { timeout: 900_000 },
  async () => {
    const { exitCode, narration, result } = await runDemoCommand()
    expect(exitCode, narration).toBe(0)

    expect(result.stoppedAt, narration).toBeUndefined()
    expect(result.missing).toEqual([])
    expect(result.problems).toEqual([])
    expect(result.converged).toBe(true)
    expect(result.exitCode).toBe(0)
    expect(result.kept).toBe(false)
    expect(result.pipeline).toBe('success')
    // Everything the actions sent and received matched GitHub's and Argo CD's API descriptions.
    expect(result.mismatches).toEqual([])

    // Every cluster of examples/fleet uses cert-manager: all 8 went through a child PR.
    expect(result.rows).toHaveLength(8)
    expect(result.rows.map((row) => row.stage).sort()).toEqual([
      ...Array<string>(5).fill('production'),
      ...Array<string>(3).fill('testing'),
    ])
    for (const row of result.rows) {
      expect(row.child, row.environment).toMatch(/^#\d+ merged$/)
      expect(row.status, row.environment).toBe('success')
      expect(row.application, row.environment).toBe(`env/${row.environment} Synced/Healthy`)
      expect(row.wet, row.environment).toMatch(/^[0-9a-f]{7}$/)
      expect(row.converged, row.environment).toBe(true)
    }

    // Production ran in two waves: the canary eu-prod-1, baked, before any other cluster synced.
    const production = result.production
    expect(production?.waves, narration).toEqual([
      '✅ wave 1 (eu-prod-1) of 2: done, 1/1 succeeded',
      '✅ wave 2 (the rest) of 2: done, 4/4 succeeded',
    ])
    const [canary, ...rest] = production?.syncs ?? []
    expect(canary?.environment).toBe('eu-prod-1')
    expect(rest.map((sync) => sync.environment).sort()).toEqual([
      'ap-prod-1',
      'eu-prod-2',
      'us-prod-1',
      'us-prod-2',
    ])
    for (const sync of rest) {
      expect(sync.sync, sync.environment).toBeGreaterThan(canary?.lastLook ?? Infinity)
    }
    for (const [environment, description] of Object.entries(production?.descriptions ?? {})) {
      expect(description, environment).toMatch(/Synced and Healthy at [0-9a-f]{7}, Healthy for 3 s/)
    }
    expect(Object.keys(production?.descriptions ?? {})).toHaveLength(5)

    // The narration walks through every step a user would see on GitHub.
    for (const step of [
      'detect-impact exited 0',
      'hydrate exited 0',
      'open-child-prs exited 0',
      '8 child pull requests',
      '`.promote testing`',
      '`.promote production`',
      '(waves: eu-prod-1 → the rest; 3 s bake)',
      '**Waves of production**',
      'decision: deployed',
      'fleet-promote/pipeline: success',
      'merge-cleanup exited 0',
      'Converged: all 8 WET branches equal the render of main',
      'fleet-report exited 0',
      'drift: 0 WET, 0 Argo CD, 0 orphaned',
    ]) {
      expect(narration).toContain(step)
    }
    expect(narration).toMatch(/\[13\/14\] Final state/)
    // It ends with the report of the example fleet: every cluster's cert-manager chart, read from its WET branch.
    expect(narration).toMatch(/\[14\/14\] fleet-report/)
    expect(narration).toMatch(/^ {4}cert-manager +1\.16\.1 +8 \(/m)
  },
)
