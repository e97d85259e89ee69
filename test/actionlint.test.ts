// Every workflow we ship (CI, reusable workflows, the callers users copy) must
// pass the real actionlint with no findings.
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import { runProcess } from '../actions/lib/process.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const workflowDirs = ['.github/workflows', 'examples/workflows']

function workflowFiles(): string[] {
  return workflowDirs.flatMap((dir) =>
    existsSync(join(root, dir))
      ? readdirSync(join(root, dir))
          .filter((file) => /\.ya?ml$/.test(file))
          .map((file) => `${dir}/${file}`)
      : [],
  )
}

it('actionlint reports nothing on the workflows', async () => {
  const files = workflowFiles()
  expect(files, 'the CI workflow at least').toContain('.github/workflows/ci.yml')
  // shellcheck and pyflakes are left out so the verdict is the same on every
  // machine (they are optional actionlint integrations, present only on some).
  const lint = await runProcess(
    'actionlint',
    ['-no-color', '-shellcheck=', '-pyflakes=', ...files],
    { cwd: root },
  ).catch((error: unknown) => {
    throw new Error(`actionlint could not run (install it with "npm run tools"): ${String(error)}`)
  })
  expect(lint.stdout + lint.stderr, 'actionlint findings').toBe('')
  expect(lint.code).toBe(0)
})
