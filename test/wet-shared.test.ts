// Shared WET branches (environments[].path): hydrate diffs each environment
// against its own folder, and one commit on the branch holds every rendered
// environment's folder, leaving the other folders and unmanaged files alone.
// Real git and kustomize.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { defaultConfig, discoverEnvironments, parseConfig } from '../actions/lib/config/config.js'
import type { Environment } from '../actions/lib/config/types.js'
import { UserError } from '../actions/lib/errors.js'
import { Git } from '../actions/lib/git/git.js'
import {
  buildBranchCommit,
  buildWetCommit,
  MANAGED_LIST,
  readDryCommit,
  type DryCommit,
} from '../actions/lib/git/wet-commit.js'
import type { HydrationResult } from '../actions/lib/hydration-types.js'
import { hydrate } from '../actions/lib/render/hydrate.js'
import { readWetStates, wetKey } from '../actions/lib/render/wet.js'
import { commitTree, DEV_IDENTITY } from './support/dev-identity.js'

const identity = DEV_IDENTITY

const CONFIG = `version: 1
environments:
  - glob: clusters/*
    branch: "env/{stage}"
    path: "{name}"
stages:
  - name: testing
    match: ["*"]
`

function configMap(name: string, color: string): string {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  color: ${color}\n`
}

let dir: string
let repoDir: string
let git: Git
let dry: DryCommit
let wetTip: string
let environments: Environment[]

async function commitFiles(files: Record<string, string>, message: string): Promise<string> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(repoDir, path, '..'), { recursive: true })
    await writeFile(join(repoDir, path), content)
  }
  await git.run(['add', '-A'])
  await git.run(['commit', '-qm', message])
  return git.revParse('HEAD')
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wet-shared-test-'))
  repoDir = join(dir, 'repo')
  git = await Git.init(repoDir, { env: identity })
  const dryFiles: Record<string, string> = { 'fleet-promote.yaml': CONFIG }
  for (const name of ['a', 'b', 'c']) {
    dryFiles[`clusters/${name}/kustomization.yaml`] = 'resources: [cm.yaml]\n'
    dryFiles[`clusters/${name}/cm.yaml`] = configMap(name, 'blue')
  }
  dry = (await readDryCommit(git, await commitFiles(dryFiles, 'dry')))!
  // The shared branch as an earlier render left it: a (older), c (not impacted now), no b yet.
  await git.run(['checkout', '-q', '--orphan', 'env/testing'])
  await git.run(['rm', '-rfq', '--ignore-unmatch', '.'])
  wetTip = await commitFiles(
    {
      '.github/CODEOWNERS': '* @team\n',
      'hydrator.metadata': '{"drySha": "old"}\n',
      'a/manifest.yaml': configMap('a', 'red'),
      'a/stale.yaml': 'gone: 1\n',
      [`a/${MANAGED_LIST}`]: 'manifest.yaml\nstale.yaml\n',
      'c/manifest.yaml': configMap('c', 'green'),
      'c/hydrator.metadata': '{"drySha": "old"}\n',
      [`c/${MANAGED_LIST}`]: 'hydrator.metadata\nmanifest.yaml\n',
    },
    'wet',
  )
  await git.run(['checkout', '-q', dry.sha])
  const config = parseConfig(CONFIG, 'fleet-promote.yaml')
  environments = discoverEnvironments(config, await git.listFiles(dry.sha)).filter(
    (env) => env.name !== 'c',
  )
})

afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

const tree = (sha: string) => commitTree(git, sha)

async function render(out: string): Promise<HydrationResult> {
  const run = await hydrate({
    repoDir,
    environments,
    outputDir: join(dir, out),
    settings: defaultConfig().hydrate,
    parallelism: 2,
  })
  return run.result
}

describe('shared WET branches: hydrate and the WET commit', () => {
  it('reads each environment against its own folder of the shared branch', async () => {
    expect(environments.map((env) => [env.name, env.branch, env.folder])).toEqual([
      ['a', 'env/testing', 'a'],
      ['b', 'env/testing', 'b'],
    ])
    const states = await readWetStates(git, [...environments.map(wetKey), 'env/testing:c'])
    expect([...(states.get('env/testing:a')?.files.keys() ?? [])]).toEqual(['manifest.yaml'])
    expect(states.get('env/testing:b')).toMatchObject({ sha: wetTip, files: new Map() })
    expect(states.get('env/testing:c')?.metadata).toBe('{"drySha": "old"}\n')

    const result = await render('rendered')
    const [a, b] = result.environments
    expect(a).toMatchObject({
      name: 'a',
      folder: 'a',
      status: 'rendered',
      baseSha: wetTip,
      resources: { before: 1, after: 1 },
      diff: { added: 0, changed: 1, deleted: 0 },
      files: ['README.md', 'hydrator.metadata', 'manifest.yaml'],
    })
    expect(b).toMatchObject({
      name: 'b',
      folder: 'b',
      status: 'rendered',
      baseSha: wetTip,
      resources: { before: 0, after: 1 },
      diff: { added: 1, changed: 0, deleted: 0 },
    })
  })

  it('one commit holds every rendered folder, prunes only inside them and writes the root metadata', async () => {
    const result = await render('rendered')
    const commit = await buildBranchCommit(git, {
      environments: result.environments,
      renderedDir: join(dir, 'rendered'),
      parent: 7,
      dry,
    })
    expect(commit).toMatchObject({
      environments: ['a', 'b'],
      branch: 'env/testing',
      baseSha: wetTip,
      changed: true,
    })
    const files = await tree(commit.sha)
    const metadata = await readFile(join(dir, 'rendered', 'a', 'hydrator.metadata'), 'utf8')
    expect(JSON.parse(metadata)).toMatchObject({ drySha: dry.sha })
    expect(Object.keys(files).sort()).toEqual([
      '.github/CODEOWNERS',
      `a/${MANAGED_LIST}`,
      'a/README.md',
      'a/hydrator.metadata',
      'a/manifest.yaml',
      `b/${MANAGED_LIST}`,
      'b/README.md',
      'b/hydrator.metadata',
      'b/manifest.yaml',
      `c/${MANAGED_LIST}`,
      'c/hydrator.metadata',
      'c/manifest.yaml',
      'hydrator.metadata',
    ])
    expect(files['hydrator.metadata']).toBe(metadata)
    expect(files['a/manifest.yaml']).toContain('color: blue')
    expect(files[`a/${MANAGED_LIST}`]).toBe('README.md\nhydrator.metadata\nmanifest.yaml\n')
    // c's folder and the unmanaged file are byte for byte what they were.
    expect(files['c/manifest.yaml']).toBe(configMap('c', 'green'))
    expect(files['c/hydrator.metadata']).toBe('{"drySha": "old"}\n')
    expect(files['.github/CODEOWNERS']).toBe('* @team\n')
    const message = await git.run(['log', '-1', '--format=%B', commit.sha])
    expect(message.split('\n')[0]).toBe(
      'fleet-promote: render 2 environments of env/testing for #7',
    )
    expect(message).toContain('Fleet-Promote-Environment: a\nFleet-Promote-Environment: b\n')

    // Landed, the same render is unchanged in both folders, and commits nothing.
    await git.run(['update-ref', 'refs/heads/env/testing', commit.sha])
    const again = await render('again')
    expect(again.environments.map((env) => [env.name, env.status, env.baseSha])).toEqual([
      ['a', 'unchanged', commit.sha],
      ['b', 'unchanged', commit.sha],
    ])
    const same = await buildBranchCommit(git, {
      environments: again.environments,
      renderedDir: join(dir, 'again'),
      dry,
    })
    expect(same).toMatchObject({ changed: false, sha: commit.sha })
  })

  it('one environment of a shared branch commits its folder alone', async () => {
    const result = await render('rendered')
    const commit = await buildWetCommit(git, {
      environment: result.environments[1]!,
      renderedDir: join(dir, 'rendered'),
      dry,
    })
    expect(commit).toMatchObject({ environment: 'b', branch: 'env/testing', changed: true })
    expect(commit).not.toHaveProperty('environments')
    const files = await tree(commit.sha)
    expect(files['a/manifest.yaml']).toBe(configMap('a', 'red'))
    expect(files['a/stale.yaml']).toBe('gone: 1\n')
    expect(files['b/manifest.yaml']).toContain('name: b')
    expect(files['hydrator.metadata']).toContain(dry.sha)
  })

  it('refuses environments of different branches or tips, and a shared branch without folders', async () => {
    const result = await render('rendered')
    const [a, b] = result.environments as [
      HydrationResult['environments'][number],
      HydrationResult['environments'][number],
    ]
    const renderedDir = join(dir, 'rendered')
    await expect(
      buildBranchCommit(git, {
        environments: [a, { ...b, branch: 'env/other' }],
        renderedDir,
        dry,
      }),
    ).rejects.toThrow(/cannot share one WET commit/)
    await expect(
      buildBranchCommit(git, { environments: [a, { ...b, baseSha: '' }], renderedDir, dry }),
    ).rejects.toThrow(UserError)
    const rootless = { ...b }
    delete rootless.folder
    await expect(
      buildBranchCommit(git, { environments: [a, rootless], renderedDir, dry }),
    ).rejects.toThrow(/shares the WET branch env\/testing but has no folder on it/)
    await expect(
      buildBranchCommit(git, { environments: [a, { ...b, folder: 'a' }], renderedDir, dry }),
    ).rejects.toThrow(/unsafe or repeated folder "a"/)
  })
})
