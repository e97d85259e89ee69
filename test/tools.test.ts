// The real tools the suite runs must be the versions scripts/install-tools.sh
// pins: a missing or different tool fails here, with the way to fix it.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runProcess } from '../actions/lib/process.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const installScript = readFileSync(new URL('../scripts/install-tools.sh', import.meta.url), 'utf8')

function pinnedVersion(variable: string): string {
  const match = new RegExp(`^${variable}=(\\S+)$`, 'm').exec(installScript)
  if (!match?.[1]) throw new Error(`scripts/install-tools.sh does not pin ${variable}`)
  return match[1]
}

const tools = [
  { name: 'kustomize', pin: 'KUSTOMIZE_VERSION', args: ['version'] },
  { name: 'helm', pin: 'HELM_VERSION', args: ['version', '--template', '{{.Version}}'] },
  { name: 'actionlint', pin: 'ACTIONLINT_VERSION', args: ['-version'] },
]

describe('pinned tools on PATH', () => {
  for (const tool of tools) {
    it(`${tool.name} reports the pinned version`, async () => {
      const expected = pinnedVersion(tool.pin)
      const result = await runProcess(tool.name, tool.args, { cwd: root }).catch(
        (error: unknown) => {
          throw new Error(
            `${tool.name} is not on PATH (${String(error)}); run "npm run tools" to install ${tool.name} ${expected}`,
          )
        },
      )
      expect(result.code, result.stderr).toBe(0)
      const reported = result.stdout.split('\n')[0]?.trim()
      expect(reported, `${tool.name} ${expected} is pinned; run "npm run tools"`).toBe(expected)
    })
  }
})
