// What the whole flow asks of GitHub with shared WET branches (one per stage,
// a folder per environment) and per-stage statuses, counted on the simulator
// at two fleet sizes: no step may cost more for more environments, and the
// reads each step makes once stay once.
import { beforeAll, describe, expect, it } from 'vitest'
import type { RequestLogEntry } from './support/github/index.js'
import { SHARED_BRANCHES, startScaleFlow } from './support/scale-flow.js'

const SIZES = [5, 10]
const STEPS = [
  'open-child-prs',
  'promote testing',
  'promote staging',
  'promote production',
  'merge-cleanup',
]

/** Each step's requests by route (git smart-HTTP apart), for one fleet size. */
async function costs(n: number): Promise<Map<string, Record<string, number>>> {
  const flow = await startScaleFlow({
    n,
    stages: 3,
    backend: 'merge',
    ...SHARED_BRANCHES,
  })
  const steps = new Map<string, Record<string, number>>()
  const measure = async (step: string, action: () => Promise<unknown>) => {
    flow.gh.resetRequests()
    await action()
    steps.set(step, byRoute(flow.gh.requests))
  }
  try {
    await measure('open-child-prs', () => flow.openChildPrs())
    for (const stage of ['testing', 'staging', 'production']) {
      if (stage === 'production') flow.approve()
      await measure(`promote ${stage}`, async () => {
        const result = await flow.promote(stage)
        expect(result.decision, result.reason).toBe('deployed')
      })
    }
    await flow.mergeParent()
    await measure('merge-cleanup', async () => {
      const result = await flow.mergeCleanup()
      expect(result.environments.filter((env) => env.action !== 'merged')).toEqual([])
    })
    expect(flow.gh.validationErrors).toEqual([])
  } finally {
    await flow.stop()
  }
  return steps
}

function byRoute(requests: readonly RequestLogEntry[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const { route } of requests)
    if (!route.includes('.git/')) counts[route] = (counts[route] ?? 0) + 1
  return counts
}

const measured = new Map<number, Map<string, Record<string, number>>>()

beforeAll(async () => {
  for (const n of SIZES) measured.set(n, await costs(n))
}, 300_000)

describe('the shared-branch flow on GitHub', () => {
  it.each(STEPS)(`%s costs the same for ${SIZES.join(' and ')} environments`, (step) => {
    const [small, large] = SIZES.map((n) => measured.get(n)?.get(step))
    expect(small).toBeDefined()
    expect(large).toEqual(small)
  })

  it('each promotion reads the repository tree once and only the approving stage its reviews', () => {
    const steps = measured.get(SIZES[0]!)!
    for (const stage of ['testing', 'staging', 'production']) {
      const routes = steps.get(`promote ${stage}`)!
      expect(routes['GET /repos/{owner}/{repo}/git/trees/{tree_sha}'], stage).toBe(1)
      expect(routes['GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews'], stage).toBe(
        stage === 'production' ? 1 : undefined,
      )
    }
  })
})
