// The pools hydrate runs its stages with: the preparation of environments
// works ahead while the renders take them one by one.
import { describe, expect, it } from 'vitest'
import { mapPool, startPool } from '../actions/lib/render/hydrate.js'

const tick = () => new Promise((resolve) => setTimeout(resolve, 5))

describe('startPool', () => {
  it('keeps at most `limit` in flight, starts items in order, and settles each on its own', async () => {
    let inFlight = 0
    let most = 0
    const started: number[] = []
    const promises = startPool([0, 1, 2, 3, 4], 2, async (item) => {
      started.push(item)
      most = Math.max(most, ++inFlight)
      await tick()
      inFlight--
      if (item === 3) throw new Error('three failed')
      return item * 10
    })
    expect(promises).toHaveLength(5)
    // The first item is ready while the last has not started yet.
    expect(await promises[0]).toBe(0)
    expect(started).not.toContain(4)
    await expect(promises[3]).rejects.toThrow('three failed')
    expect(await promises[4]).toBe(40)
    expect(started).toEqual([0, 1, 2, 3, 4])
    expect(most).toBe(2)
  })

  it('is what mapPool waits for, results in input order', async () => {
    const delays = [15, 1, 8, 3]
    const results = await mapPool(delays, 3, async (ms, index) => {
      await new Promise((resolve) => setTimeout(resolve, ms))
      return index
    })
    expect(results).toEqual([0, 1, 2, 3])
    expect(await mapPool([], 2, () => Promise.resolve(1))).toEqual([])
  })
})
