// The fleet-promote CLI, from source (tsx) and from its bundle (dist/cli):
// help lists the commands, each command has its own help, and a typo is a
// usage error (exit 2) rather than a silent no-op.
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runProcess } from '../actions/lib/process.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const tsx = join(root, 'node_modules', '.bin', 'tsx')

const entryPoints = {
  source: (args: string[]) => runProcess(tsx, ['actions/lib/cli/main.ts', ...args], { cwd: root }),
  bundle: (args: string[]) => runProcess('node', ['dist/cli/index.js', ...args], { cwd: root }),
}

/** Command names from the "Commands:" section of the top-level help. */
function listedCommands(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? ''
  return [...section.matchAll(/^ {2}(\S+) {2,}/gm)].map((match) => match[1] ?? '')
}

for (const [kind, cli] of Object.entries(entryPoints)) {
  describe(`fleet-promote CLI (${kind})`, () => {
    it('--help exits 0 and lists the commands, each with its own help', async () => {
      const help = await cli(['--help'])
      expect(help.code, help.stderr).toBe(0)
      expect(help.stdout).toContain('Usage: fleet-promote <command>')
      const commands = listedCommands(help.stdout)
      expect(commands).toContain('help')
      for (const command of commands.filter((name) => name !== 'help')) {
        const usage = await cli([command, '--help'])
        expect(usage.code, `${command} --help: ${usage.stderr}`).toBe(0)
        expect(usage.stdout.trim(), `${command} --help prints its usage`).not.toBe('')
      }
    })

    it('an unknown command exits 2 and says so', async () => {
      const result = await cli(['no-such-command'])
      expect(result.code).toBe(2)
      expect(result.stderr).toContain('unknown command "no-such-command"')
      const helpTopic = await cli(['help', 'no-such-command'])
      expect(helpTopic.code).toBe(2)
      expect(helpTopic.stderr).toContain('unknown command "no-such-command"')
    })
  })
}

it('the bundled CLI offers the same commands as the source', async () => {
  const [source, bundle] = await Promise.all([
    entryPoints.source(['--help']),
    entryPoints.bundle(['--help']),
  ])
  expect(bundle.stdout, 'dist/cli is stale: run "npm run bundle"').toBe(source.stdout)
})
