// `npm run demo -- --fleet grouped`: the same flow on shared WET branches, one
// per stage (env/testing, env/production), each cluster in its folder. One
// child pull request per stage holds every cluster's folder; the verdict is
// the demo's own convergence check (every folder equals the render of main,
// every Application on its WET branch at its folder and synced at its tip, no
// child branch or lock left) and its invariant check after every step.
import { expect, it } from 'vitest'
import { runDemoCommand } from './e2e/demo-command.js'

it(
  'drives one parent through a grouped fleet: one child pull request per stage, and converges',
  { timeout: 900_000 },
  async () => {
    const { exitCode, narration, result } = await runDemoCommand(['--fleet', 'grouped'])
    expect(exitCode, narration).toBe(0)
    expect(result.stoppedAt, narration).toBeUndefined()
    expect(result.problems).toEqual([])
    expect(result.converged).toBe(true)
    expect(result.mismatches).toEqual([])
    expect(result.pipeline).toBe('success')

    // One child pull request per (parent, shared WET branch): one per stage.
    expect([...result.children].sort()).toEqual([
      'fleet-promote/pr-1/env-production → env/production',
      'fleet-promote/pr-1/env-testing → env/testing',
    ])
    expect(result.rows).toHaveLength(8)
    for (const row of result.rows) {
      expect(row.application, row.environment).toBe(`env/${row.stage} Synced/Healthy`)
      expect(row.child, row.environment).toMatch(/^#\d+ merged$/)
      expect(row.status, row.environment).toBe('success')
      expect(row.converged, row.environment).toBe(true)
    }
    // The folders of one stage share its branch tip.
    const tips = new Map(result.rows.map((row) => [row.stage, row.wet]))
    for (const row of result.rows) expect(row.wet, row.environment).toBe(tips.get(row.stage))

    // Production still ran its canary wave first, each cluster's Application at its own folder.
    expect(result.production?.waves, narration).toEqual([
      '✅ wave 1 (eu-prod-1) of 2: done, 1/1 succeeded',
      '✅ wave 2 (the rest) of 2: done, 4/4 succeeded',
    ])
    expect(narration).toContain('2 child pull requests')
    expect(narration).toContain('2 branches pushed in one atomic push')
    expect(narration).toContain(
      'Converged: all 8 WET folders of the 2 shared WET branches equal the render of main',
    )
    expect(narration).toContain('drift: 0 WET, 0 Argo CD, 0 orphaned')
  },
)
