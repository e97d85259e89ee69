// `npm run demo -- --cd kargo`: the demo with its testing stage handed to
// Kargo through the external backend and deployed by examples/kargo (played
// from the manifests). The same convergence check decides, with the testing
// Applications allowed to stay at the commit Kargo deployed.
import { expect, it } from 'vitest'
import { runDemoCommand } from './e2e/demo-command.js'

it(
  'deploys testing through Kargo and production through Argo CD, and converges',
  { timeout: 900_000 },
  async () => {
    const { exitCode, narration, result } = await runDemoCommand(['--cd', 'kargo'])
    expect(exitCode, narration).toBe(0)

    expect(result.stoppedAt, narration).toBeUndefined()
    expect(result.problems).toEqual([])
    expect(result.converged).toBe(true)
    expect(result.exitCode).toBe(0)
    expect(result.pipeline).toBe('success')
    // Every request the Kargo steps and the actions sent matched GitHub's and Argo CD's API descriptions.
    expect(result.mismatches).toEqual([])

    expect(result.rows).toHaveLength(8)
    for (const row of result.rows) {
      expect(row.child, row.environment).toMatch(/^#\d+ merged$/)
      expect(row.status, row.environment).toBe('success')
      expect(row.converged, row.environment).toBe(true)
      expect(row.application, row.environment).toEqual(
        row.stage === 'testing'
          ? expect.stringMatching(/^[0-9a-f]{7} \(Kargo\) Synced\/Healthy$/)
          : `env/${row.environment} Synced/Healthy`,
      )
    }

    for (const step of [
      '--cd kargo: stages[testing].backend external',
      'tags {component}-pr-{pr} on the child commits',
      'handed to Kargo (pending "waiting for Kargo"): ',
      'Kargo: each testing Warehouse sees its child tag',
      'Warehouse sdbx-eu1: Freight sdbx-eu1-pr-',
      'pending: progressing: syncing sdbx-eu1-addons to ',
      'success: Healthy and Synced: us-test-1-addons at ',
      'fleet-promote/pipeline: pending — 3/8 succeeded',
      '`.promote production`',
      'fleet-promote/pipeline: success',
      'the testing ones stay at the commit Kargo deployed',
    ]) {
      expect(narration).toContain(step)
    }
    // testing was never promoted by comment: Kargo did it.
    expect(narration).not.toContain('`.promote testing`')
  },
)
