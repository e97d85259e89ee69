// detectImpact lists only the head's tree and derives the base's from a tree
// diff, and resolves `--env` patterns once per directory for both revisions.
// These tests compare it with the direct computation (both trees listed, each
// pattern resolved on its own) where the shortcuts could go wrong: a base that
// moved past the merge base, files replaced by directories and back, symlinks,
// submodules, environments only one revision has.
import { rm, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  defaultConfig,
  environmentsFromPaths,
  missingConfigNote,
  stageOrder,
} from '../actions/lib/config/config.js'
import type { Environment } from '../actions/lib/config/types.js'
import { UserError } from '../actions/lib/errors.js'
import { analyzeImpact, detectImpact } from '../actions/lib/kustomize/impact.js'
import { KustomizationCache, RevisionTree, resolvePath } from '../actions/lib/kustomize/graph.js'
import { createTempRepo, type FileChanges, type TempRepo } from './support/fleet-gen.js'

const CM = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n`

function fleet(): FileChanges {
  return {
    'components/a/kustomization.yaml': 'resources: [cm.yaml, extra]\n',
    'components/a/cm.yaml': CM('a'),
    'components/a/extra/kustomization.yaml': 'resources: [cm.yaml]\n',
    'components/a/extra/cm.yaml': CM('extra'),
    'components/b/kustomization.yaml':
      'resources: [cm.yaml]\nconfigMapGenerator:\n  - name: b\n    files: [conf]\n',
    'components/b/cm.yaml': CM('b'),
    'components/b/conf': 'x=1\n',
    'clusters/one/kustomization.yaml': 'resources: [../../components/a]\n',
    'clusters/two/kustomization.yaml': 'resources: [../../components/b]\n',
    'clusters/three/kustomization.yaml': 'resources: [../../components/a, ../../components/b]\n',
    'clusters/gone/kustomization.yaml': 'resources: [../../components/b]\n',
  }
}

const repos: TempRepo[] = []
afterEach(async () => {
  await Promise.all(repos.splice(0).map((repo) => repo.cleanup()))
})

/**
 * A base branch and a pull request that diverge: the PR replaces a directory
 * with a file, a file with a directory, adds and deletes environments and a
 * symlink; main meanwhile gets its own commit, so base ≠ merge base.
 */
async function divergedRepo() {
  const repo = await createTempRepo()
  repos.push(repo)
  const start = await repo.commit(fleet(), 'fleet')
  await repo.git.run(['checkout', '--quiet', '-b', 'pr'])
  await symlink('cm.yaml', join(repo.dir, 'components/a/link.yaml'))
  // Two commits: the directory and the file must go before their replacements are written.
  await repo.commit(
    {
      'components/a/extra/kustomization.yaml': null,
      'components/a/extra/cm.yaml': null,
      'components/b/conf': null,
      'clusters/gone/kustomization.yaml': null,
    },
    'pr: removals',
  )
  await rm(join(repo.dir, 'components/a/extra'), { recursive: true, force: true })
  const head = await repo.commit(
    {
      'components/a/extra': CM('extra is a file now'),
      'components/b/conf/x.properties': 'x=2\n',
      'components/b/kustomization.yaml':
        'resources: [cm.yaml]\nconfigMapGenerator:\n  - name: b\n    files: [conf/x.properties]\n',
      'clusters/new/kustomization.yaml': 'resources: [../../components/a]\n',
    },
    'pr: replacements',
  )
  await repo.git.run(['checkout', '--quiet', 'main'])
  // A submodule entry (gitlink) on main only: neither side may treat it as a file.
  await repo.git.run(['update-index', '--add', '--cacheinfo', `160000,${start},vendor/lib`])
  const base = await repo.commit(
    { 'clusters/two/kustomization.yaml': 'resources: [../../components/a]\n' },
    'main moves',
  )
  return { repo, base, head }
}

/** The impact computed the direct way: both trees listed, every pattern resolved on its own. */
async function directImpact(repo: TempRepo, base: string, head: string, patterns: string[]) {
  const config = defaultConfig()
  const [baseBlobs, headBlobs, changed] = await Promise.all([
    repo.git.listBlobs(base),
    repo.git.listBlobs(head),
    repo.git.changedFiles(base, head),
  ])
  const baseTree = new RevisionTree(`base (${base.slice(0, 12)})`, baseBlobs)
  const headTree = new RevisionTree(`head (${head.slice(0, 12)})`, headBlobs)
  const baseEnvs = new Map<string, Environment>()
  for (const pattern of patterns) {
    try {
      for (const env of environmentsFromPaths(config, [...baseBlobs.keys()], [pattern]))
        baseEnvs.set(env.name, env)
    } catch (error) {
      if (!(error instanceof UserError)) throw error
    }
  }
  const cache = new KustomizationCache((oids) => repo.git.readBlobs(oids))
  await cache.preload([...baseTree.kustomizationBlobIds(), ...headTree.kustomizationBlobIds()])
  return analyzeImpact({
    base: { tree: baseTree, environments: [...baseEnvs.values()] },
    head: {
      tree: headTree,
      environments: environmentsFromPaths(config, [...headBlobs.keys()], patterns),
    },
    changed,
    cache,
    stageOrder: stageOrder(config),
  })
}

describe('the base tree derived from the head tree', () => {
  it('equals the listing of the base revision, past the merge base, with symlinks and submodules', async () => {
    const { repo, base, head } = await divergedRepo()
    const derived = new Map(await repo.git.listBlobs(head))
    for (const [path, oid] of await repo.git.treeChanges(head, base)) {
      if (oid === undefined) derived.delete(path)
      else derived.set(path, oid)
    }
    const listed = await repo.git.listBlobs(base)
    expect([...derived].sort()).toEqual([...listed].sort())
    expect(listed.has('components/a/extra/kustomization.yaml')).toBe(true)
    expect(listed.has('vendor/lib')).toBe(false)
    expect((await repo.git.listBlobs(head)).has('components/a/link.yaml')).toBe(true)
  })

  it('gives the same impact as listing both trees, for --env paths and globs only one side has', async () => {
    const { repo, base, head } = await divergedRepo()
    const patterns = ['clusters/one', 'clusters/two', 'clusters/new', 'clusters/*', 'components/a']
    const detected = await detectImpact({
      git: repo.git,
      base,
      head,
      environmentPatterns: patterns,
    })
    const direct = await directImpact(repo, base, head, patterns)
    expect(detected.environments).toEqual(direct.environments)
    expect(detected.reasons).toEqual(direct.reasons)
    expect(detected.external).toEqual(direct.external)
    // The fixture commits no fleet-promote.yaml, so detection also says the base lacks it.
    expect(detected.warnings).toEqual([
      missingConfigNote('fleet-promote.yaml', base.slice(0, 12)),
      ...direct.warnings,
    ])
    // The shortcut has something to get wrong: each side contributes environments.
    expect(detected.reasons['clusters-gone']).toContain('environment removed')
    expect(detected.reasons['clusters-new']).toContain('environment added')
    expect(detected.reasons['clusters-one']).toContain(
      'components/a/extra/kustomization.yaml (deleted)',
    )
  })
})

describe('resolvePath', () => {
  it.each([
    ['components/a', 'cm.yaml', 'components/a/cm.yaml'],
    ['components/a', 'sub/cm.yaml', 'components/a/sub/cm.yaml'],
    ['', 'cm.yaml', 'cm.yaml'],
    ['components/a', '', 'components/a'],
    ['components/a', './cm.yaml', 'components/a/cm.yaml'],
    ['components/a', 'sub/', 'components/a/sub'],
    ['components/a', 'sub//cm.yaml', 'components/a/sub/cm.yaml'],
    ['components/a', '../b/./cm.yaml', 'components/b/cm.yaml'],
    ['components/a', '.hidden/cm.yaml', 'components/a/.hidden/cm.yaml'],
    ['components/a', 'x..y', 'components/a/x..y'],
    ['components/a', '../../..', undefined],
  ])('resolves %j + %j to %j', (dir, relative, expected) => {
    expect(resolvePath(dir, relative)).toBe(expected)
  })
})
