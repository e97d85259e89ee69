import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  chooseScratch,
  MIN_MEMORY_SCRATCH_BYTES,
  scratchParent,
  type ScratchCandidate,
} from '../actions/lib/render/scratch.js'

const GIB = 1024 ** 3

describe('where a render run keeps its scratch', () => {
  const disk = (path: string, freeBytes = 100 * GIB): ScratchCandidate => ({
    path,
    tmpfs: false,
    freeBytes,
  })
  const memory = (path: string, freeBytes: number): ScratchCandidate => ({
    path,
    tmpfs: true,
    freeBytes,
  })

  it.each([
    [
      'the OS temp dir is on disk, /dev/shm has room',
      [disk('/tmp'), memory('/dev/shm', 8 * GIB)],
      '/dev/shm',
    ],
    [
      'the OS temp dir is itself tmpfs',
      [memory('/tmp', 4 * GIB), memory('/dev/shm', 8 * GIB)],
      '/tmp',
    ],
    ["a container's 64 MiB /dev/shm", [disk('/tmp'), memory('/dev/shm', 64 * 2 ** 20)], '/tmp'],
    [
      'exactly the minimum free',
      [disk('/tmp'), memory('/dev/shm', MIN_MEMORY_SCRATCH_BYTES)],
      '/dev/shm',
    ],
    ['no memory file system', [disk('/tmp')], '/tmp'],
    ['nothing could be inspected', [], '/tmp'],
  ])('%s', (_case, candidates, expected) => {
    expect(chooseScratch(candidates, '/tmp')).toBe(expected)
  })

  afterEach(() => vi.unstubAllEnvs())

  it('keeps an explicit TMPDIR', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'scratch-tmpdir-'))
    try {
      vi.stubEnv('TMPDIR', dir)
      expect(await scratchParent(process.env)).toBe(dir)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
