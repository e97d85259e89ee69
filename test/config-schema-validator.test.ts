// The configuration's schema validator is compiled ahead of time
// (scripts/schema-validator.mjs, run by npm run docs): it must be what the
// schema compiles to now, and give the errors Ajv compiling at run time gives.
import { fileURLToPath } from 'node:url'
import { Ajv } from 'ajv'
import { expect, it } from 'vitest'
import { validateConfigSchema } from '../actions/lib/config/schema-validator.js'
import configSchema from '../actions/lib/fleet-promote.schema.json' with { type: 'json' }
import { runProcess } from '../actions/lib/process.js'

const root = fileURLToPath(new URL('..', import.meta.url))

it('actions/lib/config/schema-validator.ts is generated from the current schema', async () => {
  const check = await runProcess(process.execPath, ['scripts/schema-validator.mjs', '--check'], {
    cwd: root,
  })
  expect(check.stderr).toBe('')
  expect(check.code).toBe(0)
})

it('reports what Ajv compiling the schema at run time reports', () => {
  const runtime = new Ajv({ allErrors: true, verbose: true, strict: true }).compile(configSchema)
  const configs = [
    { version: 1 },
    { version: 2, stages: [{ name: '' }], unknown: true },
    { version: 1, environments: [{ glob: 7, branch: 'x'.repeat(300) }] },
    { version: 1, stages: 'dev' },
    // Lengths count code points, as Ajv's own helper does.
    { version: 1, stages: [{ name: '😀'.repeat(63) }, { name: '😀'.repeat(64) }] },
  ]
  for (const config of configs) {
    expect(validateConfigSchema(config)).toBe(runtime(config))
    expect(validateConfigSchema.errors ?? null).toEqual(runtime.errors ?? null)
  }
  expect(validateConfigSchema({ version: 2 })).toBe(false)
  expect(validateConfigSchema.errors?.[0]).toMatchObject({ keyword: 'const', data: 2 })
})
