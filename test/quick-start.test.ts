// The README's Quick start configurations are real: each loads and finds the
// environments of the layout it is written for.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { discoverEnvironments, parseConfig } from '../actions/lib/config/config.js'

const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8')
const quickStart = readme.slice(
  readme.indexOf('## Quick start'),
  readme.indexOf('### Debug locally'),
)
const configs = [...quickStart.matchAll(/^ {3}```yaml\n([\s\S]*?)^ {3}```$/gm)].map((match) =>
  (match[1] ?? '').replace(/^ {3}/gm, ''),
)

// In the README's order: the grouped clusters, then one directory per environment.
it.each([
  [
    'clusters/<group>/<cluster>',
    ['clusters/eu/eu-test-1', 'clusters/eu/eu-prod-1', 'clusters/sandbox/sdbx-1'],
    ['testing/eu-test-1', 'testing/sdbx-1', 'production/eu-prod-1'],
  ],
  [
    'envs/<env>',
    ['envs/dev', 'envs/staging', 'envs/prod'],
    ['testing/dev', 'testing/staging', 'production/prod'],
  ],
])('the Quick start configuration for %s', (layout, dirs, expected) => {
  expect(configs).toHaveLength(2)
  const config = parseConfig(
    configs[layout.startsWith('clusters') ? 0 : 1] ?? '',
    'fleet-promote.yaml',
  )
  const files = dirs.map((dir) => `${dir}/kustomization.yaml`)
  expect(discoverEnvironments(config, files).map((env) => `${env.stage}/${env.name}`)).toEqual(
    expected,
  )
})
