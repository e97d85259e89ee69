// The README's canary-then-rest stage is the one examples/fleet (and so the
// demo) deploys production with.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { parse } from 'yaml'
import { parseVerifyEnv } from '../actions/promote/verify.js'

const ROOT = join(import.meta.dirname, '..')
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
const section = readme.slice(
  readme.indexOf('## Waves, verification and rollback'),
  readme.indexOf('## Troubleshooting'),
)

it("the README's waves example is examples/fleet's production stage", () => {
  const snippet = /^```yaml\n([\s\S]*?)^```$/m.exec(section)?.[1]
  expect(snippet).toBeDefined()
  const shown = parse(snippet ?? '') as { stages: { name: string }[] }
  const example = parse(
    readFileSync(join(ROOT, 'examples', 'fleet', 'fleet-promote.yaml'), 'utf8'),
  ) as { stages: { name: string }[] }
  expect(shown.stages).toEqual(example.stages.filter((stage) => stage.name === 'production'))
  expect(shown.stages[0]).toMatchObject({ waves: ['eu-prod-1'], bakeSeconds: 3 })
})

it("the README's verify token example: the check's tokenEnv is a name its verify-env block sets", () => {
  const snippet = /^ {2}```yaml\n([\s\S]*?)^ {2}```$/m.exec(section)?.[1]
  expect(snippet).toBeDefined()
  const shown = parse(snippet ?? '') as {
    verify: { prometheus: { tokenEnv: string }[] }
    'verify-env': string
  }
  const tokenEnv = shown.verify.prometheus[0]?.tokenEnv ?? ''
  expect(tokenEnv).toBe('PROM_TOKEN')
  expect(parseVerifyEnv(shown['verify-env']).get(tokenEnv)).toBe(`\${{ secrets.${tokenEnv} }}`)
})
