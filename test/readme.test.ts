// README.md's configuration and command references are generated (npm run docs)
// from the JSON Schema and the command grammar; these tests fail when they are stale.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, expect, it } from 'vitest'
import { renderConfigReference, type SchemaNode } from '../actions/lib/config/reference.js'
import { runProcess } from '../actions/lib/process.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const tsx = join(root, 'node_modules', '.bin', 'tsx')
const scratch = join(root, 'test', '.work', 'readme')

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true })
})

function checkDocs(file: string) {
  return runProcess(tsx, ['scripts/action-readme.mjs', '--check', file], { cwd: root })
}

it('README.md holds the current generated references', async () => {
  const check = await checkDocs('README.md')
  expect(check.stderr, 'README.md is stale: run "npm run docs"').toBe('')
  expect(check.code).toBe(0)
})

it('the configuration reference covers every key of the schema', async () => {
  const readme = await readFile(join(root, 'README.md'), 'utf8')
  const schema = JSON.parse(
    await readFile(join(root, 'actions', 'lib', 'fleet-promote.schema.json'), 'utf8'),
  ) as SchemaNode
  const section = readme.slice(
    readme.indexOf('<!-- config-reference:start -->'),
    readme.indexOf('<!-- config-reference:end -->'),
  )
  const keys: string[] = []
  const walk = (path: string, node: SchemaNode) => {
    keys.push(path)
    for (const [key, child] of Object.entries(node.items?.properties ?? {}))
      walk(`${path}[].${key}`, child)
    for (const [key, child] of Object.entries(node.properties ?? {})) walk(`${path}.${key}`, child)
  }
  for (const [key, node] of Object.entries(schema.properties ?? {})) walk(key, node)
  expect(keys).toContain('hydrate.deletionGuard.protectedKinds')
  expect(keys).toContain('stages[].autoPromote')
  for (const key of keys) expect(section, key).toContain(`\`${key}\``)
  expect(renderConfigReference(schema)).toContain('### `deploy`')
})

it('flags a README whose generated section was edited by hand', async () => {
  const readme = await readFile(join(root, 'README.md'), 'utf8')
  const stale = readme.replace(
    /(\| `hydrate\.deletionGuard\.maxDeleted`\s+\|[^|]+\|\s+)`10`/,
    '$1`99`',
  )
  expect(stale, 'the fixture edit applies').not.toBe(readme)
  await mkdir(scratch, { recursive: true })
  const file = join(scratch, 'README.md')
  await writeFile(file, stale)
  const check = await checkDocs(file)
  expect(check.code).toBe(1)
  expect(check.stderr).toContain('README.md')
})
