import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runChecked } from '../actions/lib/process.js'
import { startGitHubSimulator, type GitHubSimulator } from './support/github/index.js'
import { inputVariable, parseAnnotations, parseFileCommand, runAction } from './support/runner.js'

// A throwaway action using node builtins only: it writes outputs, a summary and state
// through the file commands and reports an annotation like @actions/core would.
const SCRIPT = `
import { appendFileSync, readFileSync, existsSync } from 'node:fs'
const x = process.env['INPUT_X'] ?? ''
const multi = process.env['INPUT_MULTI-WORD NAME'.replace(/ /g, '_').toUpperCase()] ?? ''
const event = JSON.parse(readFileSync(process.env.GITHUB_EVENT_PATH, 'utf8'))
appendFileSync(process.env.GITHUB_OUTPUT, 'echo=' + x + '\\n')
appendFileSync(process.env.GITHUB_OUTPUT, 'multi<<ghadelimiter_1\\nline one\\nline two=' + multi + '\\nghadelimiter_1\\n')
appendFileSync(process.env.GITHUB_OUTPUT, 'context<<EOF\\n' + JSON.stringify({
  event: process.env.GITHUB_EVENT_NAME, repo: process.env.GITHUB_REPOSITORY, owner: process.env.GITHUB_REPOSITORY_OWNER,
  sha: process.env.GITHUB_SHA, ref: process.env.GITHUB_REF, actions: process.env.GITHUB_ACTIONS, ci: process.env.CI,
  cwd: process.cwd(), workspace: process.env.GITHUB_WORKSPACE, temp: process.env.RUNNER_TEMP, number: event.number,
  readme: existsSync('README.md') ? readFileSync('README.md', 'utf8') : null,
  app: existsSync('app.yaml') ? readFileSync('app.yaml', 'utf8') : null,
  extra: process.env.EXTRA ?? null,
}) + '\\nEOF\\n')
appendFileSync(process.env.GITHUB_STEP_SUMMARY, '## Result\\n\\nx is ' + x + '\\n')
appendFileSync(process.env.GITHUB_STATE, 'cleanup=yes\\n')
console.log('::warning::careful%0Anext line')
console.log('::error file=a.yaml,line=3::bad')
process.exitCode = x === 'fail' ? 1 : 0
`

let gh: GitHubSimulator
let dir: string
let script: string

beforeAll(async () => {
  gh = await startGitHubSimulator()
  dir = await mkdtemp(join(tmpdir(), 'runner-harness-'))
  script = join(dir, 'action.mjs')
  await writeFile(script, SCRIPT)
})

afterAll(async () => {
  await gh.stop()
  await rm(dir, { recursive: true, force: true })
})

describe('runner harness', () => {
  it('names inputs like the runner', () => {
    expect(inputVariable('github-token')).toBe('INPUT_GITHUB-TOKEN')
    expect(inputVariable('multi word')).toBe('INPUT_MULTI_WORD')
  })

  it('parses file commands and annotations', () => {
    expect(parseFileCommand('a=1\nb<<D\nx\ny\nD\nc=\n')).toEqual({ a: '1', b: 'x\ny', c: '' })
    expect(() => parseFileCommand('b<<D\nx\n')).toThrow(/missing delimiter/)
    expect(parseAnnotations('::notice title=T,file=x%2Cy.ts,line=2,col=5::a%25b\nplain\n')).toEqual(
      [{ level: 'notice', title: 'T', file: 'x,y.ts', line: 2, col: 5, message: 'a%b' }],
    )
  })

  it('runs a script action with inputs, event, outputs, summary, state and annotations', async () => {
    const result = await runAction('throwaway', {
      script,
      inputs: { x: 'hello', 'multi-word name': 'mw' },
      eventName: 'workflow_dispatch',
      event: {
        ref: 'refs/heads/main',
        repository: { full_name: 'acme/app', default_branch: 'main' },
        sender: { login: 'dev' },
      },
      sha: 'a'.repeat(40),
      env: { EXTRA: 'extra-value' },
    })
    try {
      expect(result.exitCode).toBe(0)
      expect(result.outputs.echo).toBe('hello')
      expect(result.outputs.multi).toBe('line one\nline two=mw')
      const context = JSON.parse(result.outputs.context ?? '{}') as Record<string, unknown>
      expect(context).toMatchObject({
        event: 'workflow_dispatch',
        repo: 'acme/app',
        owner: 'acme',
        sha: 'a'.repeat(40),
        ref: 'refs/heads/main',
        actions: 'true',
        ci: 'true',
        workspace: result.workspace,
        extra: 'extra-value',
      })
      expect(context.cwd).toBe(result.workspace)
      expect(result.summary).toBe('## Result\n\nx is hello\n')
      expect(result.state).toEqual({ cleanup: 'yes' })
      expect(result.annotations).toEqual([
        { level: 'warning', message: 'careful\nnext line' },
        { level: 'error', message: 'bad', file: 'a.yaml', line: 3 },
      ])
    } finally {
      await result.cleanup()
    }
  })

  it('reports a failing exit code', async () => {
    const result = await runAction('throwaway', { script, inputs: { x: 'fail' } })
    await result.cleanup()
    expect(result.exitCode).toBe(1)
  })

  it('refuses a missing bundle', async () => {
    await expect(runAction('no-such-action', { distDir: dir })).rejects.toThrow(/does not exist/)
  })

  it('checks out refs/pull/N/merge like actions/checkout for a pull_request event', async () => {
    await gh.createRepo('acme/app')
    const seed = join(dir, 'seed')
    const basic = Buffer.from(`x-access-token:${gh.adminToken}`).toString('base64')
    const env = {
      ...process.env,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'http.extraHeader',
      GIT_CONFIG_VALUE_0: `Authorization: basic ${basic}`,
      GIT_AUTHOR_NAME: 'Dev',
      GIT_AUTHOR_EMAIL: 'dev@example.com',
      GIT_COMMITTER_NAME: 'Dev',
      GIT_COMMITTER_EMAIL: 'dev@example.com',
    }
    const git = (args: string[]) => runChecked('git', args, { cwd: seed, env })
    await runChecked('git', ['clone', '--quiet', gh.remoteUrl('acme/app'), seed], { env })
    await git(['switch', '--quiet', '-c', 'feature'])
    await writeFile(join(seed, 'app.yaml'), 'image: v2\n')
    await git(['add', '.'])
    await git(['commit', '--quiet', '-m', 'bump'])
    await git(['push', '--quiet', 'origin', 'feature'])
    const { number, event } = await gh.openPullRequest('acme/app', {
      head: 'feature',
      base: 'main',
      title: 'Bump',
      user: 'dev',
    })

    const result = await runAction('throwaway', {
      script,
      github: gh,
      eventName: 'pull_request',
      event,
      inputs: { x: 'pr' },
      checkout: {},
    })
    try {
      expect(result.exitCode).toBe(0)
      const mergeSha = gh.state.refSha('acme/app', `refs/pull/${number}/merge`)
      const context = JSON.parse(result.outputs.context ?? '{}') as Record<string, unknown>
      expect(context).toMatchObject({
        ref: `refs/pull/${number}/merge`,
        sha: mergeSha,
        number,
        readme: '# app\n',
        app: 'image: v2\n',
      })
      const ws = (args: string[]) =>
        runChecked('git', args, {
          cwd: result.workspace,
          env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' },
        })
      expect((await ws(['rev-parse', 'HEAD'])).stdout.trim()).toBe(mergeSha)
      expect((await ws(['rev-parse', '--is-shallow-repository'])).stdout.trim()).toBe('true')
      // The merge commit's parents are the base head and the PR head.
      const parents = (await ws(['cat-file', '-p', 'HEAD'])).stdout
        .split('\n')
        .filter((line) => line.startsWith('parent '))
      expect(parents).toEqual([
        `parent ${gh.state.refSha('acme/app', 'refs/heads/main')}`,
        `parent ${gh.state.refSha('acme/app', 'refs/heads/feature')}`,
      ])
      const config = await readFile(join(result.workspace, '.git', 'config'), 'utf8')
      expect(config).toContain('extraheader')
      expect(gh.routeCounts()['POST /{owner}/{repo}.git/git-upload-pack']).toBeGreaterThan(0)
      expect(gh.validationErrors).toEqual([])
    } finally {
      await result.cleanup()
    }
  })
})
