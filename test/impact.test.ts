import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { Git } from '../actions/lib/git/git.js'
import { detectImpact } from '../actions/lib/kustomize/impact.js'
import { createTempRepo, type FileChanges, type TempRepo } from './support/fleet-gen.js'

const CM = (name: string, value = '1') =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`

const CONFIG = `version: 1
environments:
  - glob: clusters/*/*
    name: "{2}"
    branch: "env/{name}"
stages:
  - name: testing
    match: ["test-*"]
  - name: production
    match: ["prod-*"]
    requires: [testing]
impact:
  extra:
    - paths: ["global/**"]
      environments: ["prod-*"]
`

/** Two components, two stages, five clusters. */
function fleet(): FileChanges {
  return {
    'fleet-promote.yaml': CONFIG,
    'components/cert-manager/kustomization.yaml':
      'resources: [cm.yaml]\nconfigMapGenerator:\n  - name: cm\n    files: [conf/issuer.conf]\n',
    'components/cert-manager/cm.yaml': CM('cert-manager'),
    'components/cert-manager/conf/issuer.conf': 'issuer=letsencrypt\n',
    'components/ingress/kustomization.yaml': 'resources: [cm.yaml]\n',
    'components/ingress/cm.yaml': CM('ingress'),
    'components/ingress/values.yaml': 'replicas: 1\n',
    'clusters/testing/test-a/kustomization.yaml': 'resources: [../../../components/cert-manager]\n',
    'clusters/testing/test-b/kustomization.yaml': 'resources: [../../../components/ingress]\n',
    'clusters/production/prod-a/kustomization.yaml':
      'resources:\n  - ../../../components/cert-manager\n  - ../../../components/ingress\n',
    'clusters/production/prod-b/kustomization.yaml': 'resources: [../../../components/ingress]\n',
    'clusters/production/prod-c/kustomization.yaml': 'resources: [local.yaml]\n',
    'clusters/production/prod-c/local.yaml': CM('local'),
    'global/policy.md': 'policy\n',
    'docs/README.md': 'docs\n',
  }
}

// Every temp repository a test creates; `repo` is the latest one.
const repos: TempRepo[] = []
let repo: TempRepo | undefined
afterEach(async () => {
  await Promise.all(repos.splice(0).map((created) => created.cleanup()))
  repo = undefined
})

async function tempRepo(): Promise<TempRepo> {
  repo = await createTempRepo()
  repos.push(repo)
  return repo
}

async function scenario(change: FileChanges, base: FileChanges = fleet()) {
  const created = await tempRepo()
  const baseSha = await created.commit(base, 'base')
  const headSha = await created.commit(change, 'head')
  return { git: created.git, base: baseSha, head: headSha }
}

const names = (result: { environments: { name: string }[] }) =>
  result.environments.map((env) => env.name)

describe('detectImpact', () => {
  it('impacts exactly the environments that use a changed component file, in stage order', async () => {
    const result = await detectImpact(
      await scenario({ 'components/cert-manager/conf/issuer.conf': 'issuer=staging\n' }),
    )
    expect(names(result)).toEqual(['test-a', 'prod-a'])
    expect(result.stages).toEqual(['testing', 'production'])
    expect(result.count).toBe(2)
    expect(result.environments[0]).toEqual({
      name: 'test-a',
      path: 'clusters/testing/test-a',
      stage: 'testing',
      branch: 'env/test-a',
    })
    expect(result.reasons['prod-a']).toEqual([
      'components/cert-manager/conf/issuer.conf (modified)',
    ])
  })

  it('ignores changes outside every closure, and counts unreferenced files of a used directory', async () => {
    expect(names(await detectImpact(await scenario({ 'docs/README.md': 'new\n' })))).toEqual([])
    // values.yaml is not referenced, but it lives in the ingress kustomization directory.
    expect(
      names(
        await detectImpact(await scenario({ 'components/ingress/values.yaml': 'replicas: 2\n' })),
      ),
    ).toEqual(['test-b', 'prod-a', 'prod-b'])
  })

  it('counts a rename on both sides: old users and new users are impacted', async () => {
    const result = await detectImpact(
      await scenario({
        'components/cert-manager/conf/issuer.conf': null,
        'components/ingress/conf/issuer.conf': 'issuer=letsencrypt\n',
        'components/cert-manager/kustomization.yaml': 'resources: [cm.yaml]\n',
        'components/ingress/kustomization.yaml':
          'resources: [cm.yaml]\nconfigMapGenerator:\n  - name: cm\n    files: [conf/issuer.conf]\n',
      }),
    )
    expect(names(result)).toEqual(['test-a', 'test-b', 'prod-a', 'prod-b'])
    expect(result.reasons['test-a']).toContain(
      'components/cert-manager/conf/issuer.conf → components/ingress/conf/issuer.conf (renamed, old path)',
    )
  })

  it('counts a deleted file through the base closure', async () => {
    const base = fleet()
    base['clusters/production/prod-c/kustomization.yaml'] = 'resources: [local.yaml, extra.yaml]\n'
    base['clusters/production/prod-c/extra.yaml'] = CM('extra')
    repo = await tempRepo()
    const baseSha = await repo.commit(base)
    await repo.commit({
      'clusters/production/prod-c/extra.yaml': null,
      'clusters/production/prod-c/kustomization.yaml': 'resources: [local.yaml]\n',
    })
    const headSha = await repo.commit({ 'other.txt': 'x' })
    const result = await detectImpact({ git: repo.git, base: baseSha, head: headSha })
    expect(names(result)).toEqual(['prod-c'])
    expect(result.reasons['prod-c']).toContain('clusters/production/prod-c/extra.yaml (deleted)')
  })

  it('reports environments added and removed', async () => {
    const result = await detectImpact(
      await scenario({
        'clusters/testing/test-c/kustomization.yaml': 'resources: [../../../components/ingress]\n',
        'clusters/production/prod-c/kustomization.yaml': null,
        'clusters/production/prod-c/local.yaml': null,
      }),
    )
    expect(names(result)).toEqual(['test-c', 'prod-c'])
    expect(result.reasons['test-c']).toContain('environment added')
    expect(result.reasons['prod-c']).toContain('environment removed')
  })

  it('applies impact.extra rules from the base configuration', async () => {
    const result = await detectImpact(await scenario({ 'global/policy.md': 'stricter\n' }))
    expect(names(result)).toEqual(['prod-a', 'prod-b', 'prod-c'])
    expect(result.reasons['prod-a']).toEqual(['impact.extra[0] matches global/policy.md'])
  })

  it('re-evaluates a configuration change: renamed stages or branches, or everything when rules change', async () => {
    const stageMoved = CONFIG.replace('match: ["test-*"]', 'match: ["test-*", "prod-c"]')
    expect(names(await detectImpact(await scenario({ 'fleet-promote.yaml': stageMoved })))).toEqual(
      ['prod-c'],
    )
    const rulesChanged = CONFIG.replace('environments: ["prod-*"]', 'environments: ["*"]')
    const all = await detectImpact(await scenario({ 'fleet-promote.yaml': rulesChanged }))
    expect(all.count).toBe(5)
    expect(all.reasons['test-a']).toEqual([
      'fleet-promote.yaml changed (hydrate or impact settings)',
    ])
    // The base configuration still decides everything else: the head's new extra rule is not applied.
    const newRule = `${CONFIG}    - paths: ["docs/**"]\n      environments: ["*"]\n`
    const docs = await detectImpact(
      await scenario({ 'fleet-promote.yaml': newRule, 'docs/README.md': 'x\n' }),
    )
    expect(docs.reasons['test-b']).toEqual([
      'fleet-promote.yaml changed (hydrate or impact settings)',
    ])
  })

  it('reports remote references of impacted environments as external', async () => {
    const result = await detectImpact(
      await scenario({
        'components/ingress/kustomization.yaml':
          'resources:\n  - cm.yaml\n  - https://github.com/org/addons//ingress?ref=v1.2.3\n',
      }),
    )
    expect(result.external).toEqual([
      {
        kind: 'kustomize',
        reference: 'https://github.com/org/addons//ingress?ref=v1.2.3',
        file: 'components/ingress/kustomization.yaml',
        line: 3,
        environments: ['test-b', 'prod-a', 'prod-b'],
      },
    ])
  })

  it('impacts the environments a broken head graph breaks, with file and line, instead of failing', async () => {
    const missing = await detectImpact(
      await scenario({
        'components/ingress/kustomization.yaml': 'resources:\n  - cm.yaml\n  - gone.yaml\n',
      }),
    )
    const gone =
      'components/ingress/kustomization.yaml:3: resources entry "gone.yaml" does not exist (components/ingress/gone.yaml)'
    expect(names(missing)).toEqual(['test-b', 'prod-a', 'prod-b'])
    expect(missing.problems).toEqual({ 'test-b': [gone], 'prod-a': [gone], 'prod-b': [gone] })
    expect(missing.reasons['prod-a']).toContain(gone)
    const malformed = await detectImpact(
      await scenario({ 'components/ingress/kustomization.yaml': 'resources: [cm.yaml\n' }),
    )
    // The parser notices the unclosed flow sequence at the end of the file.
    expect(malformed.problems['prod-a']).toEqual([
      expect.stringMatching(/^components\/ingress\/kustomization.yaml:2: .*invalid YAML/),
    ])
    const cycle = await detectImpact(
      await scenario({
        'components/ingress/kustomization.yaml':
          'resources: [cm.yaml, ../../clusters/production/prod-b]\n',
      }),
    )
    expect(cycle.problems['prod-b']).toEqual([
      expect.stringMatching(
        /prod-b\/kustomization.yaml:1: reference cycle: components\/ingress -> clusters\/production\/prod-b -> components\/ingress/,
      ),
    ])
  })

  it('leaves out an environment main already breaks when the change does not reach it', async () => {
    const broken = fleet()
    broken['clusters/testing/test-a/kustomization.yaml'] = 'resources: [missing.yaml]\n'
    const result = await detectImpact(
      await scenario({ 'components/ingress/cm.yaml': CM('next') }, broken),
    )
    expect(names(result)).toEqual(['test-b', 'prod-a', 'prod-b'])
    expect(result.problems).toEqual({})
  })

  it('does not block on problems of the base revision, and impacts the environment that fixes them', async () => {
    const broken = fleet()
    broken['components/ingress/kustomization.yaml'] = 'resources: [cm.yaml, missing.yaml]\n'
    const result = await detectImpact(
      await scenario({ 'components/ingress/missing.yaml': CM('fixed') }, broken),
    )
    expect(names(result)).toEqual(['test-b', 'prod-a', 'prod-b'])
    expect(result.warnings).toEqual([
      expect.stringMatching(
        /^base \([0-9a-f]{12}\): components\/ingress\/kustomization.yaml:1: resources entry "missing.yaml" does not exist/,
      ),
    ])
  })

  it('rejects a base revision that does not exist and a configuration glob that matches nothing', async () => {
    const { git, head } = await scenario({ 'docs/README.md': 'x\n' })
    await expect(detectImpact({ git, base: 'no-such-branch', head })).rejects.toThrow(
      'base revision "no-such-branch" does not exist',
    )
    const nothing = await scenario(
      { 'docs/README.md': 'x\n' },
      { ...fleet(), 'fleet-promote.yaml': CONFIG.replace('clusters/*/*', 'fleets/*/*') },
    )
    await expect(detectImpact(nothing)).rejects.toMatchObject({
      location: { file: 'fleet-promote.yaml', line: 3 },
    })
  })

  it('takes explicit environment directories and globs instead of the configuration', async () => {
    const result = await detectImpact({
      ...(await scenario({
        'components/ingress/cm.yaml': CM('ingress', '2'),
        'clusters/production/prod-c/local.yaml': CM('local', '2'),
      })),
      environmentPatterns: ['clusters/production/*'],
    })
    expect(names(result)).toEqual([
      'clusters-production-prod-a',
      'clusters-production-prod-b',
      'clusters-production-prod-c',
    ])
  })

  it('fetches what a shallow clone lacks to find the merge base', async () => {
    repo = await tempRepo()
    const base = await repo.commit(fleet(), 'base')
    for (let i = 0; i < 5; i++) await repo.commit({ [`docs/${i}.md`]: `${i}\n` }, `filler ${i}`)
    await repo.git.run(['checkout', '--quiet', '-b', 'feature', base])
    await repo.commit({ 'components/ingress/cm.yaml': CM('ingress', '3') }, 'feature 1')
    const head = await repo.commit({ 'docs/feature.md': 'x\n' }, 'feature 2')
    const main = await repo.git.revParse('main')
    const cloneDir = await mkdtemp(join(tmpdir(), 'fleet-shallow-'))
    try {
      const clone = await Git.clone(`file://${repo.dir}`, cloneDir, { depth: 1, branch: 'main' })
      expect(await clone.isShallow()).toBe(true)
      expect(await clone.tryRevParse(head)).toBeUndefined()
      const result = await detectImpact({ git: clone, base: main, head })
      expect(result.mergeBase).toBe(base)
      expect(names(result)).toEqual(['test-b', 'prod-a', 'prod-b'])
    } finally {
      await rm(cloneDir, { recursive: true, force: true })
    }
  })
})

/** The CLI as a user runs it; a failing run resolves with its exit code and output. */
const cli = (args: string[]) =>
  promisify(execFile)('npx', ['tsx', 'actions/lib/cli/main.ts', ...args], {
    cwd: join(import.meta.dirname, '..'),
  }).then(
    (out) => ({ code: 0, ...out }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  )

describe('fleet-promote impact (CLI)', () => {
  it('prints the impact JSON', async () => {
    const { base, head } = await scenario({
      'components/cert-manager/cm.yaml': CM('cert-manager', '2'),
    })
    const out = await cli(['impact', '--repo', repo!.dir, '--base', base, '--head', head])
    expect(out.code).toBe(0)
    expect(JSON.parse(out.stdout)).toEqual({
      environments: [
        { name: 'test-a', path: 'clusters/testing/test-a', stage: 'testing', branch: 'env/test-a' },
        {
          name: 'prod-a',
          path: 'clusters/production/prod-a',
          stage: 'production',
          branch: 'env/prod-a',
        },
      ],
      stages: ['testing', 'production'],
      count: 2,
      external: [],
      reasons: {
        'test-a': ['components/cert-manager/cm.yaml (modified)'],
        'prod-a': ['components/cert-manager/cm.yaml (modified)'],
      },
    })
  })

  it('names the place of a configuration error once, and a configuration missing from the base what to do', async () => {
    const typo = await scenario(
      { 'docs/README.md': 'x\n' },
      { ...fleet(), 'fleet-promote.yaml': CONFIG.replace('clusters/*/*', 'fleets/*/*') },
    )
    const out = await cli(['impact', '--repo', repo!.dir, '--base', typo.base, '--head', typo.head])
    expect(out.code).toBe(1)
    expect(out.stderr).toBe(
      'fleet-promote impact: fleet-promote.yaml:3: environments[0] (glob "fleets/*/*") matches no ' +
        'directory holding a kustomization file (kustomization.yaml, kustomization.yml, Kustomization)\n',
    )
    // envs/<env> with fleet-promote.yaml only on the branch: the defaults (clusters/**) find nothing.
    const envs = await scenario(
      { 'fleet-promote.yaml': 'version: 1\nenvironments:\n  - glob: envs/*\n    name: "{1}"\n' },
      { 'envs/dev/kustomization.yaml': 'resources: [cm.yaml]\n', 'envs/dev/cm.yaml': CM('dev') },
    )
    const missing = await cli([
      'impact',
      '--repo',
      repo!.dir,
      '--base',
      envs.base,
      '--head',
      envs.head,
    ])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toBe(
      'fleet-promote impact: (defaults): environments[0] (glob "clusters/**") matches no directory ' +
        'holding a kustomization file (kustomization.yaml, kustomization.yml, Kustomization); ' +
        `fleet-promote.yaml is not in ${envs.base.slice(0, 12)}; commit it there (the configuration is read from ` +
        'the base branch). Until then the defaults apply: every directory below clusters/ holding a ' +
        'kustomization is an environment, in one stage.\n',
    )
  })

  it('exits non-zero with file and line, and prints nothing on stdout, for bad input', async () => {
    const { base, head } = await scenario({
      'components/ingress/kustomization.yaml': 'resources:\n  - nope.yaml\n',
    })
    const out = await cli([
      'impact',
      '--repo',
      repo!.dir,
      '--base',
      base,
      '--head',
      head,
      '--env',
      'clusters/*/*',
    ])
    expect(out.code).toBe(1)
    expect(out.stdout).toBe('')
    expect(out.stderr).toContain(
      'components/ingress/kustomization.yaml:2: resources entry "nope.yaml" does not exist',
    )
  })
})

describe('fleet-promote impact --env with odd directories (CLI)', () => {
  const LONG = `clusters/testing/test-${'x'.repeat(110)}`

  it('derives valid names (":" replaced, >100 characters shortened with a hash), takes NAME=DIR, and reports a bad --env without failing the others', async () => {
    const uses = 'resources: [../../../components/cert-manager]\n'
    const { base, head } = await scenario(
      { 'components/cert-manager/cm.yaml': CM('cert-manager', '2') },
      {
        ...fleet(),
        'clusters/testing/test:c/kustomization.yaml': uses,
        [`${LONG}/kustomization.yaml`]: uses,
      },
    )
    const out = await cli([
      ...['impact', '--repo', repo!.dir, '--base', base, '--head', head],
      ...['--env', 'clusters/testing/test:c', '--env', LONG],
      ...['--env', 'test-a=clusters/testing/test-a', '--env', 'clusters/nope'],
    ])
    expect(out.code).toBe(1)
    const long = 'clusters-testing-test-' + 'x'.repeat(69)
    const names = (JSON.parse(out.stdout) as { environments: { name: string }[] }).environments
    expect(names.map((env) => env.name)).toEqual([
      'clusters-testing-test-c',
      expect.stringMatching(new RegExp(`^${long}-[0-9a-f]{8}$`)),
      'test-a',
    ])
    expect(names[1]!.name).toHaveLength(100)
    expect(out.stderr.split('\n').filter(Boolean)).toEqual([
      'warning: --env clusters/testing/test:c: "clusters-testing-test:c" is no valid environment name (characters a name may not have); named "clusters-testing-test-c"',
      `warning: --env ${LONG}: "${LONG.replaceAll('/', '-')}" is no valid environment name (over 100 characters); named "${names[1]!.name}"`,
      'error: --env clusters/nope: no such directory in the repository',
    ])
  })
})

describe('Git.readBlobs', () => {
  it('reads many blobs through one cat-file process, also when one is not UTF-8', async () => {
    repo = await tempRepo()
    await repo.commit({ 'a.yaml': 'a: 1\n', 'b.yaml': 'b: ü\n' })
    await writeFile(join(repo.dir, 'latin1.txt'), Buffer.from([0x61, 0xe9, 0x0a]))
    const head = await repo.commit({}, 'binary-ish file')
    const tree = await repo.git.listBlobs(head)
    const oid = (path: string) => tree.get(path) ?? ''
    const blobs = await repo.git.readBlobs([
      oid('latin1.txt'),
      oid('a.yaml'),
      oid('b.yaml'),
      '0'.repeat(40),
    ])
    expect(blobs.get(oid('a.yaml'))).toBe('a: 1\n')
    expect(blobs.get(oid('b.yaml'))).toBe('b: ü\n')
    expect(blobs.has(oid('latin1.txt'))).toBe(true)
    expect(blobs.has('0'.repeat(40))).toBe(false)
  })
})
