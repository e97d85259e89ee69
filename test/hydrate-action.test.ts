// End to end: the bundled hydrate action on a clone whose origin holds the
// WET branches, plus the render and merge-results CLI commands.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../actions/lib/cli/index.js'
import '../actions/lib/cli/render.js'
import '../actions/lib/cli/merge-results.js'
import { Git } from '../actions/lib/git/git.js'
import type { EnvironmentHydration, HydrationResult } from '../actions/lib/hydration-types.js'
import { actionBundles, type ActionBundles } from './support/bundles.js'
import { startChartRepo, type ChartRepo } from './support/chart-repo.js'
import { startGitHubSimulator } from './support/github/index.js'
import { runAction } from './support/runner.js'
import { fixtureRepo, GIT_IDENTITY, type FixtureRepo } from './fixtures/render/fixture-repo.js'
import { publishRender } from './fixtures/render/wet-branch.js'

const environments = ['test-a', 'test-b', 'prod-a', 'local'].map((name) => ({
  name,
  path: `clusters/${name}`,
  stage: name.startsWith('prod') ? 'production' : 'testing',
  branch: `env/${name}`,
}))

let scratch: string
let bundles: ActionBundles | undefined
let distDir: string
let chartRepo: ChartRepo
let origin: FixtureRepo
let workspace: string

async function captureStdout(
  fn: () => Promise<number>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = []
  const err: string[] = []
  const capture = (chunks: string[]) => (chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'))
    return true
  }
  const write = process.stdout.write.bind(process.stdout)
  const writeErr = process.stderr.write.bind(process.stderr)
  process.stdout.write = capture(out)
  process.stderr.write = capture(err)
  try {
    return { code: await fn(), stdout: out.join(''), stderr: err.join('') }
  } finally {
    process.stdout.write = write
    process.stderr.write = writeErr
  }
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hydrate-action-'))
  bundles = await actionBundles(['hydrate'])
  distDir = bundles.distDir
  chartRepo = await startChartRepo([{ name: 'alpha', version: '1.0.0' }])
  origin = await fixtureRepo('fleet', { __CHART_REPO__: chartRepo.url })
  await writeFile(
    join(origin.dir, 'fleet-promote.yaml'),
    [
      'version: 1',
      'environments:',
      '  - glob: clusters/*',
      '    name: "{1}"',
      '    branch: "env/{name}"',
      'stages:',
      '  - name: testing',
      '    match: ["test-*", "local"]',
      '  - name: production',
      '    match: ["prod-*"]',
      '    requires: [testing]',
      'hydrate:',
      `  helm: { allowedRepos: ["${chartRepo.url}"] }`,
      '',
    ].join('\n'),
  )
  await origin.commit('Configure fleet-promote')
  workspace = join(scratch, 'workspace')
  await Git.clone(origin.dir, workspace, { env: GIT_IDENTITY })
}, 300_000)

afterAll(async () => {
  await bundles?.cleanup()
  await chartRepo?.close()
  await origin?.cleanup()
  await rm(scratch, { recursive: true, force: true })
})

describe('hydrate action', () => {
  it('renders every environment, reports per environment, and fails naming the blocked one', async () => {
    // A WET branch for prod-a with an extra Namespace: the new render deletes it → blocked.
    const first = await runAction('hydrate', {
      distDir,
      workspace,
      inputs: { environments: JSON.stringify(environments), 'output-dir': join(scratch, 'out-1') },
    })
    expect(first.stderr).toBe('')
    expect(first.exitCode).toBe(0)
    const compact = JSON.parse(first.outputs.result ?? '[]') as { name: string; status: string }[]
    expect(compact.map((e) => `${e.name}:${e.status}`)).toEqual([
      'local:rendered',
      'prod-a:rendered',
      'test-a:rendered',
      'test-b:rendered',
    ])
    expect(Object.keys(compact[0] ?? {})).toEqual(['name', 'status', 'resources', 'diff'])
    expect(first.outputs.changed).toBe('true')
    expect(first.outputs['output-dir']).toBe(join(scratch, 'out-1'))
    expect(first.summary).toContain('| test-b | testing | 🆕 rendered | 0 → 5 | +5 ~0 -0 |  |')
    const result = JSON.parse(
      await readFile(join(scratch, 'out-1', 'hydration.json'), 'utf8'),
    ) as HydrationResult
    expect(result.repoURL).toMatch(/\/acme\/|https:\/\/github\.com\//)

    const extraNamespace = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: legacy\n'
    const prodManifest = await readFile(join(scratch, 'out-1', 'prod-a', 'manifest.yaml'), 'utf8')
    await publishRender(origin.git, 'env/prod-a', join(scratch, 'out-1', 'prod-a'), {
      'manifest.yaml': `${extraNamespace}---\n${prodManifest}`,
    })
    await publishRender(origin.git, 'env/test-a', join(scratch, 'out-1', 'test-a'))

    const second = await runAction('hydrate', {
      distDir,
      workspace,
      inputs: {
        environments: JSON.stringify(environments),
        'output-dir': join(scratch, 'out-2'),
        parallelism: 2,
      },
    })
    expect(second.exitCode).toBe(1)
    const statuses = Object.fromEntries(
      (
        JSON.parse(second.outputs.result ?? '[]') as {
          name: string
          status: string
          reason?: string
        }[]
      ).map((e) => [e.name, [e.status, e.reason]]),
    )
    expect(statuses).toEqual({
      local: ['rendered', undefined],
      'prod-a': ['blocked', 'would delete protected Namespace legacy'],
      'test-a': ['unchanged', undefined],
      'test-b': ['rendered', undefined],
    })
    expect(second.annotations.map((a) => a.message)).toContain(
      '1 environment(s) not rendered: prod-a (blocked: would delete protected Namespace legacy)',
    )
    expect(second.summary).toContain(
      '| prod-a | production | ⛔ blocked | 6 → 5 | +0 ~0 -1 | would delete protected Namespace legacy |',
    )

    // The authorized override lets it through.
    const third = await runAction('hydrate', {
      distDir,
      workspace,
      inputs: {
        environments: JSON.stringify(environments.slice(2, 3)),
        'output-dir': join(scratch, 'out-3'),
        'allow-deletions': true,
      },
    })
    expect(third.exitCode).toBe(0)
    expect(JSON.parse(third.outputs.result ?? '[]')).toEqual([
      {
        name: 'prod-a',
        status: 'rendered',
        reason: 'deletions allowed by override: would delete protected Namespace legacy',
        resources: { before: 6, after: 5 },
        diff: { added: 0, changed: 0, deleted: 1 },
      },
    ])
  })

  it('reads the configuration from the base revision, not the workspace', async () => {
    const base = await new Git(workspace).revParse('HEAD')
    // The "PR" allows no chart repository in its own copy of the configuration…
    await writeFile(
      join(workspace, 'fleet-promote.yaml'),
      'version: 1\nhydrate:\n  helm: { enabled: false }\n',
    )
    const fromWorkspace = await runAction('hydrate', {
      distDir,
      workspace,
      inputs: {
        environments: JSON.stringify(environments.slice(0, 1)),
        'output-dir': join(scratch, 'out-4'),
      },
    })
    expect(fromWorkspace.exitCode).toBe(1)
    expect(fromWorkspace.outputs.result).toContain('uses Helm, which is disabled')
    // …but the base revision's configuration is what counts.
    const fromBase = await runAction('hydrate', {
      distDir,
      workspace,
      inputs: {
        environments: JSON.stringify(environments.slice(0, 1)),
        'output-dir': join(scratch, 'out-5'),
        base,
      },
    })
    expect(fromBase.exitCode).toBe(0)
    await new Git(workspace).run(['checkout', '--', 'fleet-promote.yaml'])
  })

  it('a WET remote that asks for credentials names the token input', async () => {
    const gh = await startGitHubSimulator()
    const checkout = join(scratch, 'no-credentials')
    try {
      await gh.createRepo('acme/fleet')
      await Git.clone(origin.dir, checkout, { env: GIT_IDENTITY })
      await new Git(checkout).run(['remote', 'set-url', 'origin', gh.remoteUrl('acme/fleet')])
      const run = (token: string | undefined) =>
        runAction('hydrate', {
          distDir,
          workspace: checkout,
          inputs: {
            environments: JSON.stringify(environments.slice(0, 1)),
            'output-dir': join(scratch, 'out-credentials'),
            ...(token === undefined ? {} : { token }),
          },
        })
      const fix =
        ': set the `token` input to a token that can read this repository (its default is ' +
        '`${{ github.token }}`; the checkout leaves git no credentials with `persist-credentials: false`)'
      // No token: git has nothing to answer the server's 401 with.
      const without = await run(undefined)
      expect(without.exitCode).toBe(1)
      expect(without.annotations.map((a) => a.message)).toEqual([
        `git ls-remote: the remote asks for credentials git does not have (fatal: could not read ` +
          `Username for '${new URL(gh.remoteUrl('acme/fleet')).origin}': terminal prompts disabled)${fix}`,
      ])
      // A token the server refuses: the same advice.
      const refused = await run('ghp_not-a-token')
      expect(refused.exitCode).toBe(1)
      expect(refused.annotations.map((a) => a.message).join('\n')).toMatch(
        /^git ls-remote: the remote asks for credentials git does not have \(fatal: (Authentication failed|could not read Username).*\): set the `token` input/,
      )
    } finally {
      await gh.stop()
      await rm(checkout, { recursive: true, force: true })
    }
  })

  it('rejects malformed environments input clearly', async () => {
    const result = await runAction('hydrate', {
      distDir,
      workspace,
      inputs: { environments: '[{"name":"x"}]' },
    })
    expect(result.exitCode).toBe(1)
    expect(result.annotations.map((a) => a.message)).toContain(
      'input "environments": entry 0 needs a string "path"',
    )
  })
})

describe('fleet-promote render / merge-results', () => {
  it('renders one environment like the action and prints its result', async () => {
    const out = join(scratch, 'cli-out')
    const { code, stdout } = await captureStdout(() =>
      main([
        'render',
        '--repo',
        workspace,
        '--env',
        'clusters/test-b',
        '--out',
        out,
        '--remote',
        'origin',
      ]),
    )
    expect(code).toBe(0)
    const env = JSON.parse(stdout) as EnvironmentHydration
    expect(env).toMatchObject({
      name: 'test-b',
      path: 'clusters/test-b',
      stage: 'testing',
      branch: 'env/test-b',
      status: 'rendered',
    })
    expect(await readFile(join(out, 'test-b', 'manifest.yaml'), 'utf8')).toBe(
      await readFile(join(scratch, 'out-1', 'test-b', 'manifest.yaml'), 'utf8'),
    )
    const unchanged = await captureStdout(() =>
      main(['render', '--repo', workspace, '--env', 'clusters/test-a', '--remote', 'origin']),
    )
    expect((JSON.parse(unchanged.stdout) as EnvironmentHydration).status).toBe('unchanged')
  })

  it('render --remote names FLEET_PROMOTE_GIT_TOKEN when the remote asks for credentials, and fetches with it', async () => {
    const gh = await startGitHubSimulator()
    const checkout = join(scratch, 'cli-credentials')
    const saved = process.env.FLEET_PROMOTE_GIT_TOKEN
    try {
      await gh.createRepo('acme/fleet')
      await Git.clone(origin.dir, checkout, { env: GIT_IDENTITY })
      await new Git(checkout).run(['remote', 'set-url', 'origin', gh.remoteUrl('acme/fleet')])
      const render = () =>
        captureStdout(() =>
          main(['render', '--repo', checkout, '--env', 'clusters/test-a', '--remote', 'origin']),
        )
      delete process.env.FLEET_PROMOTE_GIT_TOKEN
      const without = await render()
      expect(without.code).toBe(1)
      const host = new URL(gh.remoteUrl('acme/fleet')).origin
      expect(without.stderr).toBe(
        `fleet-promote render: git ls-remote: the remote asks for credentials git does not have (fatal: ` +
          `could not read Username for '${host}': terminal prompts disabled): set FLEET_PROMOTE_GIT_TOKEN ` +
          `to a token that can read the repository of --remote origin (sent to ${host} only, as hydrate's ` +
          '`token` input), or give git a credential helper (`gh auth setup-git`)\n',
      )
      process.env.FLEET_PROMOTE_GIT_TOKEN = gh.adminToken
      const withToken = await render()
      expect(withToken.code).toBe(0)
      expect((JSON.parse(withToken.stdout) as EnvironmentHydration).status).toBe('rendered')
    } finally {
      if (saved === undefined) delete process.env.FLEET_PROMOTE_GIT_TOKEN
      else process.env.FLEET_PROMOTE_GIT_TOKEN = saved
      await gh.stop()
      await rm(checkout, { recursive: true, force: true })
    }
  })

  it('merges shard directories', async () => {
    const shard = (name: string, envs: typeof environments) =>
      runAction('hydrate', {
        distDir,
        workspace,
        inputs: {
          environments: JSON.stringify({ environments: envs }),
          'output-dir': join(scratch, name),
        },
      })
    expect(
      (await shard('shard-a', [environments[0], environments[3]] as typeof environments)).exitCode,
    ).toBe(0)
    expect((await shard('shard-b', [environments[1]] as typeof environments)).exitCode).toBe(0)
    const merged = join(scratch, 'merged')
    const { code, stdout } = await captureStdout(() =>
      main(['merge-results', '--out', merged, join(scratch, 'shard-a'), join(scratch, 'shard-b')]),
    )
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toEqual({ environments: 3, rendered: 2, unchanged: 1 })
    const result = JSON.parse(
      await readFile(join(merged, 'hydration.json'), 'utf8'),
    ) as HydrationResult
    expect(result.environments.map((e) => e.name)).toEqual(['local', 'test-a', 'test-b'])
    expect(await readFile(join(merged, 'local', 'manifest.yaml'), 'utf8')).toContain(
      'kind: Deployment',
    )
  })
})
