// dist/ is what the runner executes, so it must be exactly what the sources
// bundle to: rebuild into a temp dir and compare both ways, byte for byte.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, expect, it } from 'vitest'
import { runProcess } from '../actions/lib/process.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const scratch = mkdtempSync(join(tmpdir(), 'fleet-promote-dist-'))

afterAll(() => rmSync(scratch, { recursive: true, force: true }))

/** ncc echoes its own minified source on errors: keep the readable tail only. */
function readableTail(output: string): string {
  const lines = output.split('\n').filter((line) => line.length <= 400 && line.trim() !== '')
  return lines.slice(-40).join('\n')
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort()
}

it('dist/ matches a fresh bundle of the sources', { timeout: 600_000 }, async () => {
  const fresh = join(scratch, 'dist')
  const bundle = await runProcess('node', ['scripts/bundle.mjs', '--out', fresh], { cwd: root })
  expect(
    bundle.code,
    `bundling failed (run "npm run bundle" for the full error):\n${readableTail(bundle.stderr + bundle.stdout)}\n`,
  ).toBe(0)

  const distDir = join(root, 'dist')
  const built = listFiles(fresh)
  const committed = listFiles(distDir)
  expect(built.length, 'the bundler produced no files').toBeGreaterThan(0)

  const stale = [
    ...built.filter((file) => !committed.includes(file)).map((file) => `missing: dist/${file}`),
    ...committed.filter((file) => !built.includes(file)).map((file) => `extra:   dist/${file}`),
    ...built
      .filter((file) => committed.includes(file))
      .filter((file) => !readFileSync(join(fresh, file)).equals(readFileSync(join(distDir, file))))
      .map((file) => `differs: dist/${file}`),
  ]
  expect(stale, `dist/ is stale; run "npm run bundle":\n${stale.join('\n')}\n`).toEqual([])
})
