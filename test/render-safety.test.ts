import { chmod, cp, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultConfig } from '../actions/lib/config/config.js'
import type { Environment } from '../actions/lib/config/types.js'
import { runProcess } from '../actions/lib/process.js'
import { hydrate } from '../actions/lib/render/hydrate.js'
import { checkEnvironment, type SafetyPolicy } from '../actions/lib/render/safety.js'
import { Sandbox } from '../actions/lib/render/sandbox.js'
import { findOnPath, kustomizeArgs, sealedToolEnv } from '../actions/lib/render/tools.js'
import { FIXTURES, fixtureRepo, type FixtureRepo } from './fixtures/render/fixture-repo.js'

const HOSTILE: [string, RegExp][] = [
  [
    'exec-plugin',
    /^refused: plugin someteam\.example\.com\/v1\/ValueAnnotator is not a kustomize builtin .* \(clusters\/exec-plugin\/plugin\.yaml:1\)$/,
  ],
  [
    'krm-function',
    /^refused: KRM-function plugin \(config\.kubernetes\.io\/function\) refused; only kustomize builtins run \(clusters\/krm-function\/fn\.yaml:1\)$/,
  ],
  [
    'symlink-passwd',
    /^refused: symlink clusters\/symlink-passwd\/passwd points outside the repository \(-> \/etc\/passw… \(clusters\/symlink-passwd\/kustomization\.yaml:4\)$/,
  ],
  [
    'values-escape',
    /^refused: chart toolbox valuesFile "\.\.\/\.\.\/parent-values\.yaml" is outside its kustomization root \(clusters\/values-escape\/kustomization\.yaml:4\)$/,
  ],
  [
    'remote-ref-dash',
    /^refused: remote base in resources has a ref starting with "-": https:\/\/github\.com\/example\/a… \(clusters\/remote-ref-dash\/kustomization\.yaml:2\)$/,
  ],
  [
    'dns-lookup',
    /^refused: templates\/configmap\.yaml calls getHostByName \(DNS lookups are refused\) \(chart clusters\/dns-lookup\/charts\/resolver\)$/,
  ],
  [
    'outside-root',
    /^refused: resources "\.\.\/\.\.\/parent-secret\.yaml" is outside its kustomization root \(clusters\/outside-root\/kustomization\.yaml:2\)$/,
  ],
  [
    'foreign-chart',
    /^refused: chart alpha: repo not in hydrate\.helm\.allowedRepos: oci:\/\/registry\.example\.com\/charts \(clusters\/foreign-chart\/kustomization\.yaml:3\)$/,
  ],
]

const policy: SafetyPolicy = {
  helmEnabled: true,
  allowedChartRepos: [],
  remoteBases: ['https://github.com/example/addons'],
}

describe('hydrate: hostile pull requests', () => {
  let repo: FixtureRepo
  let work: string
  let invocations: string

  beforeAll(async () => {
    repo = await fixtureRepo('hostile')
    await symlink('/etc/passwd', join(repo.dir, 'clusters/symlink-passwd/passwd'))
    await repo.commit('Add the symlink')
    work = await mkdtemp(join(tmpdir(), 'fleet-promote-hostile-'))
    // A kustomize that records every invocation, to prove nothing hostile was built.
    invocations = join(work, 'invocations.log')
    const wrapper = join(work, 'kustomize')
    await writeFile(
      wrapper,
      `#!/bin/sh\necho "$@" >> '${invocations}'\nexec '${await findOnPath('kustomize')}' "$@"\n`,
    )
    await chmod(wrapper, 0o755)
  })
  afterAll(async () => {
    await repo.cleanup()
    await rm(work, { recursive: true, force: true })
  })

  it('refuses every hostile environment with a clear reason and renders none of them', async () => {
    const environments: Environment[] = HOSTILE.map(([name]) => ({
      name,
      path: `clusters/${name}`,
      stage: 'testing',
      branch: `env/${name}`,
    }))
    const { result } = await hydrate({
      repoDir: repo.dir,
      environments,
      outputDir: join(work, 'out'),
      settings: { ...defaultConfig().hydrate, remoteBases: [] },
      kustomizePath: join(work, 'kustomize'),
      // The recording wrapper writes outside any sandbox; the refusals come before one matters.
      sandbox: await Sandbox.detect('off', { memoryBytes: 2 ** 32, tmpBytes: 2 ** 24 }),
    })
    for (const [name, reason] of HOSTILE) {
      const env = result.environments.find((e) => e.name === name)
      expect(env?.status, name).toBe('failed')
      expect(env?.reason, name).toMatch(reason)
      expect(env?.reason?.length ?? 0).toBeLessThanOrEqual(140)
      expect(env?.files).toEqual([])
      await expect(stat(join(work, 'out', name))).rejects.toThrow('ENOENT')
    }
    const log = await readFile(invocations, 'utf8')
    expect(log).not.toContain('build')
    expect(log).toContain('version')
    await expect(stat('/tmp/fleet-promote-pwned')).rejects.toThrow('ENOENT')
  })

  it('without the pre-check, helm renders getHostByName as "" (no DNS lookup is made)', async () => {
    const copy = join(work, 'dns-copy')
    await cp(join(FIXTURES, 'hostile/clusters/dns-lookup'), copy, { recursive: true })
    const env = await sealedToolEnv(join(work, 'dns-run'))
    const run = await runProcess(
      await findOnPath('kustomize'),
      kustomizeArgs(copy, await findOnPath('helm')),
      { env, timeoutMs: 60_000 },
    )
    expect(run.stderr).toBe('')
    expect(run.stdout).toContain('address: ""')
  })

  it('allows a remote base only when allowlisted and pinned to a 40-hex SHA', async () => {
    const dir = join(repo.dir, 'clusters/remote')
    await mkdir(dir, { recursive: true })
    const check = async (resource: string, remoteBases = policy.remoteBases) => {
      await writeFile(join(dir, 'kustomization.yaml'), `resources:\n  - ${resource}\n`)
      return checkEnvironment(repo.dir, 'clusters/remote', { ...policy, remoteBases })
    }
    const sha = 'a'.repeat(40)
    await expect(
      check(`https://github.com/example/addons//base?ref=${sha}`),
    ).resolves.toMatchObject({ roots: ['clusters/remote'] })
    await expect(check('https://github.com/example/addons//base?ref=main')).rejects.toThrow(
      'must pin ?ref= to a 40-hex commit SHA',
    )
    await expect(check(`https://github.com/example/addons-evil//base?ref=${sha}`)).rejects.toThrow(
      'is not in hydrate.remoteBases',
    )
    await expect(check(`github.com/other/repo//base?ref=${sha}`)).rejects.toThrow(
      'is not in hydrate.remoteBases',
    )
    await expect(
      check(`https://github.com/example/addons//base?ref=-${sha.slice(1)}`, ['https://']),
    ).rejects.toThrow('starting with "-"')
    await expect(check('https://raw.example.com/all.yaml', ['https://'])).rejects.toThrow(
      'must pin ?ref=',
    )
    await expect(
      check(`https://github.com/example/addons//base?ref=${sha}&upload-pack=x`),
    ).rejects.toThrow('has an unknown parameter upload-pack')
  })

  it('refuses paths that leave the repository and symlinked directories pointing outside it', async () => {
    const dir = join(repo.dir, 'clusters/escape')
    await mkdir(dir, { recursive: true })
    const check = async (kustomization: string) => {
      await writeFile(join(dir, 'kustomization.yaml'), kustomization)
      return checkEnvironment(repo.dir, 'clusters/escape', policy)
    }
    await expect(check('resources:\n  - ../../../../etc\n')).rejects.toThrow(
      '"../../../../etc" leaves the repository',
    )
    await expect(check('resources:\n  - /etc/kubernetes\n')).rejects.toThrow(
      'must be a relative path inside the repository',
    )
    await expect(check('resources:\n  - ../../.git\n')).rejects.toThrow(
      'resources "../../.git" is inside .git',
    )
    await expect(
      check('configMapGenerator:\n  - name: x\n    files: [https://example.com/x]\n'),
    ).rejects.toThrow('is a URL; remote files are not allowed')
    await symlink('/etc', join(dir, 'etc-link'))
    await expect(check('resources: []\n')).rejects.toThrow(
      'symlink clusters/escape/etc-link points outside the repository (-> /etc) (below clusters/escape)',
    )
    await rm(join(dir, 'etc-link'))
    await symlink('../../clusters/exec-plugin', join(dir, 'inside-link'))
    await expect(check('resources:\n  - inside-link\n')).rejects.toThrow('not a kustomize builtin')
    const inline = (apiVersion: string, kind: string) =>
      `transformers:\n  - |\n    apiVersion: ${apiVersion}\n    kind: ${kind}\n    metadata: {name: p}\n    prefix: a-\n`
    await expect(check(inline('builtin', 'PrefixTransformer'))).resolves.toMatchObject({
      roots: ['clusters/escape'],
    })
    await expect(check(inline('example.com/v1', 'Evil'))).rejects.toThrow(
      'plugin example.com/v1/Evil is not a kustomize builtin',
    )
    await rm(join(dir, 'inside-link'))
    await expect(
      check('helmCharts:\n  - name: toolbox\n    repo: http://127.0.0.1:1\n    version: 1.0.0\n'),
    ).rejects.toThrow('not in hydrate.helm.allowedRepos')
    await expect(
      checkEnvironment(repo.dir, 'clusters/values-escape', { ...policy, helmEnabled: false }),
    ).rejects.toThrow('uses Helm, which is disabled')
    await expect(check('helmGlobals:\n  configHome: /root/.config/helm\n')).rejects.toThrow(
      'helmGlobals.configHome is not allowed',
    )
  })
})
