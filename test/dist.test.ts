// dist/ is what the runner executes. CI compares it byte for byte with a fresh
// bundle once (npm run check-dist); here, instantly, that it was bundled from
// these sources (dist/inputs.sha256), so a stale dist/ cannot land silently.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compareTrees } from '../scripts/check-dist.mjs'
import {
  formatInputsFile,
  inputFiles,
  inputsHash,
  recordedHash,
  staleReason,
} from '../scripts/dist-inputs.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))

it('dist/ was bundled from the current sources', () => {
  expect(staleReason(root)).toBeUndefined()
})

describe('the bundle inputs hash', () => {
  let fixture: string
  beforeAll(async () => {
    fixture = await mkdtemp(join(tmpdir(), 'fleet-promote-dist-inputs-'))
    await mkdir(join(fixture, 'actions', 'lib'), { recursive: true })
    await mkdir(join(fixture, 'dist'))
    await writeFile(join(fixture, 'actions', 'lib', 'a.ts'), 'export const a = 1\n')
    await writeFile(join(fixture, 'actions', 'lib', 'schema.json'), '{}\n')
    await writeFile(join(fixture, 'actions', 'lib', 'README.md'), '# a\n')
    await writeFile(join(fixture, 'package-lock.json'), '{}\n')
  })
  afterAll(() => rm(fixture, { recursive: true, force: true }))

  it('covers the sources, their JSON and the lockfile, not the READMEs', () => {
    expect(inputFiles(fixture)).toEqual([
      'actions/lib/a.ts',
      'actions/lib/schema.json',
      'package-lock.json',
    ])
    expect(inputFiles(root)).toContain('actions/lib/config/config.ts')
    expect(inputFiles(root)).toContain('scripts/bundle.mjs')
  })

  it('names a missing, then a stale record, and accepts a current one', async () => {
    expect(staleReason(fixture)).toMatch(/dist\/inputs\.sha256 is missing/)
    await writeFile(join(fixture, 'dist', 'inputs.sha256'), formatInputsFile(inputsHash(fixture)))
    expect(recordedHash(join(fixture, 'dist'))).toBe(inputsHash(fixture))
    expect(staleReason(fixture)).toBeUndefined()

    await writeFile(join(fixture, 'actions', 'lib', 'README.md'), '# edited prose\n')
    expect(staleReason(fixture)).toBeUndefined()
    await writeFile(join(fixture, 'actions', 'lib', 'a.ts'), 'export const a = 2\n')
    expect(staleReason(fixture)).toMatch(/bundled from other sources.*npm run bundle/)
  })
})

it('compares a fresh bundle with dist/ both ways, byte for byte', async () => {
  const scratch = await mkdtemp(join(tmpdir(), 'fleet-promote-dist-compare-'))
  try {
    const tree = async (name: string, files: Record<string, string>) => {
      for (const [file, content] of Object.entries(files)) {
        await mkdir(join(scratch, name, file, '..'), { recursive: true })
        await writeFile(join(scratch, name, file), content)
      }
      return join(scratch, name)
    }
    const fresh = await tree('fresh', { 'a/index.js': 'a', 'b/index.js': 'b', 'c/index.js': 'c' })
    const committed = await tree('committed', {
      'a/index.js': 'a',
      'b/index.js': 'B',
      'd/index.js': 'd',
    })
    expect(compareTrees(fresh, committed)).toEqual([
      'missing: dist/c/index.js',
      'extra:   dist/d/index.js',
      'differs: dist/b/index.js',
    ])
    expect(compareTrees(fresh, fresh)).toEqual([])
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
})
