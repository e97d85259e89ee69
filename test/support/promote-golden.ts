// Golden reply files: replies are compared after replacing what changes from
// run to run (ports, SHAs, durations, PR numbers stay stable).
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'vitest'

const GOLDEN_DIR = fileURLToPath(new URL('../fixtures/promote/golden/', import.meta.url))

export function normalizeReply(
  body: string,
  fleet: { gh: { serverUrl: string }; argocd: { url: string } },
): string {
  return body
    .replaceAll(fleet.argocd.url, 'https://argocd.test')
    .replaceAll(fleet.gh.serverUrl, 'https://github.test')
    .replace(/\b[0-9a-f]{40}\b/g, '<sha>')
    .replace(/`[0-9a-f]{7}`/g, '`<sha>`')
    .replace(/\b(at|of|on|from|to|for|is) [0-9a-f]{7}\b/g, '$1 <sha>')
    .replace(/\| (\d+ ms|\d+\.\d s|\d+ min \d\d s) \|/g, '| <duration> |')
}

/** Compares with the golden file; UPDATE_GOLDEN=1 rewrites it. */
export async function expectGolden(name: string, actual: string): Promise<void> {
  const path = join(GOLDEN_DIR, name)
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(path)) {
    await writeFile(path, actual)
    if (process.env.UPDATE_GOLDEN !== '1')
      throw new Error(`wrote missing golden file ${name}; review it and run again`)
    return
  }
  expect(actual).toBe(await readFile(path, 'utf8'))
}
