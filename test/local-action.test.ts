// The README's "Debug locally" recipe, as written, under GitHub's own
// @github/local-action: the dotenv file of its code block (with a real fleet
// for GITHUB_WORKSPACE) and its command run detect-impact from this checkout
// on a fleet in the Quick start's envs/<env> layout, configured with the
// Quick start's own configuration committed to main first.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { DEV_IDENTITY } from './support/dev-identity.js'

const root = join(import.meta.dirname, '..')
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const section = (from: string, to: string) => readme.slice(readme.indexOf(from), readme.indexOf(to))
const debugBlock = /```sh\n([\s\S]*?)```/.exec(
  section('### Debug locally', '### The reusable'),
)?.[1]
const envsConfig = [
  ...section('## Quick start', '### Debug locally').matchAll(/^ {3}```yaml\n([\s\S]*?)^ {3}```$/gm),
][1]?.[1]?.replace(/^ {3}/gm, '')

const dir = mkdtempSync(join(tmpdir(), 'local-action-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function git(cwd: string, ...args: string[]) {
  execFileSync('git', args, { cwd, env: { ...process.env, ...DEV_IDENTITY }, stdio: 'pipe' })
}

function write(path: string, text: string) {
  mkdirSync(join(path, '..'), { recursive: true })
  writeFileSync(path, text)
}

it("runs detect-impact as the README's Debug locally section says", () => {
  expect(debugBlock, 'the Debug locally code block').toBeDefined()
  expect(envsConfig, 'the Quick start envs/<env> configuration').toBeDefined()
  const fleet = join(dir, 'fleet')
  mkdirSync(fleet)
  git(fleet, 'init', '-q', '-b', 'main')
  write(join(fleet, 'fleet-promote.yaml'), envsConfig!)
  write(join(fleet, 'components/app/kustomization.yaml'), 'resources: [cm.yaml]\n')
  const configMap = (v: string) =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  v: "${v}"\n`
  write(join(fleet, 'components/app/cm.yaml'), configMap('1'))
  for (const env of ['dev', 'staging', 'prod'])
    write(join(fleet, `envs/${env}/kustomization.yaml`), 'resources: [../../components/app]\n')
  git(fleet, 'add', '-A')
  git(fleet, 'commit', '-qm', 'fleet and its configuration')
  git(fleet, 'checkout', '-qb', 'my-branch')
  write(join(fleet, 'components/app/cm.yaml'), configMap('2'))
  git(fleet, 'commit', '-qam', 'bump')

  // The dotenv file of the block, pointed at this fleet and a summary file of the test's own.
  const dotenv = /<<'END'\n([\s\S]*?)\nEND/.exec(debugBlock!)?.[1] ?? ''
  const summary = join(dir, 'summary.md')
  writeFileSync(summary, '')
  const envFile = join(dir, 'detect.env')
  writeFileSync(
    envFile,
    dotenv.replace('/path/to/your/fleet', fleet).replace('/tmp/summary.md', summary).concat('\n'),
  )
  expect(dotenv).toContain('INPUT_HEAD=my-branch')

  // Its command, word by word (the package is a dev dependency: npx runs it without a download).
  const command = debugBlock!
    .split('\n')
    .find((line) => line.startsWith('npx '))!
    .split(' ')
    .map((word) => (word === '/tmp/detect.env' ? envFile : word))
  const stdout = execFileSync(command[0]!, command.slice(1), {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, npm_config_offline: 'true' },
  })
  expect(stdout).toContain('::set-output name=count::3')
  const environments = /::set-output name=environments::(.*)/.exec(stdout)?.[1] ?? '[]'
  expect(
    (JSON.parse(environments) as { name: string; stage: string }[]).map(
      (env) => `${env.stage}/${env.name}`,
    ),
  ).toEqual(['testing/dev', 'testing/staging', 'production/prod'])
  expect(readFileSync(summary, 'utf8')).toContain('dev')
}, 120_000)
