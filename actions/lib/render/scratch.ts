// Where a render run keeps its scratch: the render tree (every vetted file of
// the fleet copied once, thousands of files and directories), the chart cache
// and the helm shim. It is written once, read by the renders and removed at the
// end. On a disk file system each of those creations is a journaled metadata
// write (about 0.6 ms of CPU each on the benchmark VM, as much as rendering a
// small environment); on tmpfs it is a memory operation. So the run uses a
// memory file system when one is writable with room to spare, and the OS temp
// directory otherwise. An explicit TMPDIR is the user's choice and is kept.
import { access, constants, statfs } from 'node:fs/promises'
import { tmpdir } from 'node:os'

/** `statfs` type of tmpfs (linux/magic.h). */
const TMPFS_MAGIC = 0x01021994
/** Free space a memory file system must have: far above a large fleet's tree and charts. */
export const MIN_MEMORY_SCRATCH_BYTES = 1024 ** 3
/** The usual memory file system on Linux (GitHub-hosted runners have one, sized to half the RAM). */
const SHARED_MEMORY = '/dev/shm'

export interface ScratchCandidate {
  path: string
  tmpfs: boolean
  freeBytes: number
}

/** The first memory file system with room, else `fallback` (the OS temp directory). */
export function chooseScratch(candidates: readonly ScratchCandidate[], fallback: string): string {
  return (
    candidates.find(
      (candidate) => candidate.tmpfs && candidate.freeBytes >= MIN_MEMORY_SCRATCH_BYTES,
    )?.path ?? fallback
  )
}

/** The parent directory of a render run's scratch directory. */
export async function scratchParent(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const fallback = tmpdir()
  if (env.TMPDIR) return fallback
  const candidates: ScratchCandidate[] = []
  for (const path of [fallback, SHARED_MEMORY]) {
    try {
      await access(path, constants.W_OK)
      const stats = await statfs(path)
      candidates.push({
        path,
        tmpfs: stats.type === TMPFS_MAGIC,
        freeBytes: stats.bavail * stats.bsize,
      })
    } catch {
      // Missing or not writable: not a candidate.
    }
  }
  return chooseScratch(candidates, fallback)
}
