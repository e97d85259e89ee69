import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  defaultConfig,
  discoverEnvironments,
  environmentsFromPaths,
  expandTemplate,
  matchDirGlob,
  parseConfig,
  stageFor,
  stageOrder,
} from '../actions/lib/config/config.js'
import type { FleetConfig } from '../actions/lib/config/types.js'
import { UserError } from '../actions/lib/errors.js'
import { Git } from '../actions/lib/git/git.js'

const FLEET_CONFIG = `version: 1
environments:
  - glob: clusters/*/*
    name: "{1}-{2}"
    exclude: ["clusters/retired/*"]
  - glob: sandboxes/*
    name: "sdbx-{1}"
    branch: "wet/{stage}/{name}"
stages:
  - name: production
    match: ["*-prod-*"]
    requires: [staging]
  - name: testing
    match: ["*-test-*", "sdbx-*"]
    requires: []
  - name: staging
    match: ["*-stage-*"]
    requires: [testing]
`

const FLEET_FILES = [
  'fleet-promote.yaml',
  'clusters/eu/prod-1/kustomization.yaml',
  'clusters/eu/prod-1/values.yaml',
  'clusters/eu/test-1/kustomization.yml',
  'clusters/us/prod-1/Kustomization',
  'clusters/us/stage-1/kustomization.yaml',
  'clusters/us/notes/README.md',
  'clusters/retired/prod-0/kustomization.yaml',
  'sandboxes/alice/kustomization.yaml',
  'components/cert-manager/kustomization.yaml',
]

function thrown(fn: () => unknown): UserError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(UserError)
    return error as UserError
  }
  throw new Error('expected a UserError')
}

const fleet = () => parseConfig(FLEET_CONFIG, 'fleet-promote.yaml')

describe('discoverEnvironments', () => {
  it('finds kustomization directories, names them from captures, sorts by stage then name', () => {
    expect(discoverEnvironments(fleet(), FLEET_FILES)).toEqual([
      {
        name: 'eu-test-1',
        path: 'clusters/eu/test-1',
        stage: 'testing',
        branch: 'env/eu-test-1',
      },
      {
        name: 'sdbx-alice',
        path: 'sandboxes/alice',
        stage: 'testing',
        branch: 'wet/testing/sdbx-alice',
      },
      {
        name: 'us-stage-1',
        path: 'clusters/us/stage-1',
        stage: 'staging',
        branch: 'env/us-stage-1',
      },
      {
        name: 'eu-prod-1',
        path: 'clusters/eu/prod-1',
        stage: 'production',
        branch: 'env/eu-prod-1',
      },
      {
        name: 'us-prod-1',
        path: 'clusters/us/prod-1',
        stage: 'production',
        branch: 'env/us-prod-1',
      },
    ])
  })

  it('works on the file list of a real git revision', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleet-discover-'))
    try {
      for (const file of FLEET_FILES) {
        await mkdir(dirname(join(dir, file)), { recursive: true })
        await writeFile(join(dir, file), file === 'fleet-promote.yaml' ? FLEET_CONFIG : 'x: 1\n')
      }
      const git = await Git.init(dir)
      await git.run(['add', '-A'])
      await git.run([
        '-c',
        'user.name=Test',
        '-c',
        'user.email=test@example.com',
        'commit',
        '--quiet',
        '-m',
        'fleet',
      ])
      const files = await git.listFiles('HEAD')
      expect(discoverEnvironments(fleet(), files).map((env) => env.name)).toEqual([
        'eu-test-1',
        'sdbx-alice',
        'us-stage-1',
        'eu-prod-1',
        'us-prod-1',
      ])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('gives a directory to the first rule that matches it', () => {
    const config = parseConfig(
      [
        'version: 1',
        'environments:',
        '  - glob: clusters/special',
        '    name: vip',
        '  - glob: clusters/*',
      ].join('\n'),
      'f.yaml',
    )
    const envs = discoverEnvironments(config, [
      'clusters/special/kustomization.yaml',
      'clusters/plain/kustomization.yaml',
    ])
    expect(envs.map((env) => [env.name, env.path])).toEqual([
      ['plain', 'clusters/plain'],
      ['vip', 'clusters/special'],
    ])
  })

  it('captures whole segments for wildcard segments and joined segments for **', () => {
    const config = parseConfig(
      [
        'version: 1',
        'environments:',
        '  - glob: "fleet/{eu,us}/**/overlays/prod-*"',
        '    branch: "env/{1}/{3}"',
      ].join('\n'),
      'f.yaml',
    )
    expect(config.environments[0]!.name).toBe('{1}-{2}-{3}')
    const envs = discoverEnvironments(config, [
      'fleet/eu/a/b/overlays/prod-1/kustomization.yaml',
      'fleet/us/overlays/prod-2/kustomization.yaml',
      'fleet/ap/overlays/prod-3/kustomization.yaml',
      'fleet/eu/.hidden/overlays/prod-4/kustomization.yaml',
    ])
    expect(envs).toEqual([
      {
        name: 'eu-a-b-prod-1',
        path: 'fleet/eu/a/b/overlays/prod-1',
        stage: 'default',
        branch: 'env/eu/prod-1',
      },
      {
        name: 'us--prod-2',
        path: 'fleet/us/overlays/prod-2',
        stage: 'default',
        branch: 'env/us/prod-2',
      },
    ])
  })

  it('without configuration, every kustomization directory below clusters/ is an environment', () => {
    const envs = discoverEnvironments(defaultConfig(), [
      'clusters/kustomization.yaml',
      'clusters/eu/prod-1/kustomization.yaml',
      'clusters/eu/prod-1/addons/kustomization.yaml',
      'clusters/lab/kustomization.yaml',
      'clusters/.archive/old/kustomization.yaml',
      'kustomization.yaml',
    ])
    expect(envs).toEqual([
      { name: 'eu-prod-1', path: 'clusters/eu/prod-1', stage: 'default', branch: 'env/eu-prod-1' },
      {
        name: 'eu-prod-1-addons',
        path: 'clusters/eu/prod-1/addons',
        stage: 'default',
        branch: 'env/eu-prod-1-addons',
      },
      { name: 'lab', path: 'clusters/lab', stage: 'default', branch: 'env/lab' },
    ])
  })

  it('fails for a repository without configuration or clusters/', () => {
    const error = thrown(() => discoverEnvironments(defaultConfig(), ['apps/kustomization.yaml']))
    expect(error.message).toBe(
      '(defaults): environments[0] (glob "clusters/**") matches no directory holding a kustomization file (kustomization.yaml, kustomization.yml, Kustomization); without fleet-promote.yaml, every directory below clusters/ holding one is an environment',
    )
  })

  it('names the rule, file and line when a glob matches nothing', () => {
    const error = thrown(() =>
      discoverEnvironments(
        fleet(),
        FLEET_FILES.filter((file) => !file.startsWith('sandboxes/')),
      ),
    )
    expect(error.message).toMatch(
      /^fleet-promote\.yaml:6: environments\[1\] \(glob "sandboxes\/\*"\) matches no directory holding a kustomization file/,
    )
    expect(error.location).toEqual({ file: 'fleet-promote.yaml', line: 6 })
    // …unless the caller looks at a revision where that is expected.
    const envs = discoverEnvironments(
      fleet(),
      FLEET_FILES.filter((file) => !file.startsWith('sandboxes/')),
      { allowUnmatched: true },
    )
    expect(envs).toHaveLength(4)
  })

  it('counts excluded directories as matched, but leaves them out', () => {
    const config = parseConfig(
      'version: 1\nenvironments:\n  - glob: clusters/*\n    exclude: ["clusters/old-*"]\n',
      'f.yaml',
    )
    expect(discoverEnvironments(config, ['clusters/old-1/kustomization.yaml'])).toEqual([])
  })

  it('rejects two directories with the same name', () => {
    const config = parseConfig(
      'version: 1\nenvironments:\n  - glob: clusters/*/*\n    name: "{2}"\n',
      'f.yaml',
    )
    const error = thrown(() =>
      discoverEnvironments(config, [
        'clusters/eu/prod/kustomization.yaml',
        'clusters/us/prod/kustomization.yaml',
      ]),
    )
    expect(error.message).toBe(
      'f.yaml: directories clusters/eu/prod and clusters/us/prod both give the environment name "prod"; make the name template distinguish them or exclude one',
    )
  })

  it('rejects two environments sharing a WET branch', () => {
    const config = parseConfig(
      'version: 1\nenvironments:\n  - glob: clusters/*/*\n    branch: "env/{2}"\n',
      'f.yaml',
    )
    const error = thrown(() =>
      discoverEnvironments(config, [
        'clusters/eu/prod/kustomization.yaml',
        'clusters/us/prod/kustomization.yaml',
      ]),
    )
    expect(error.message).toContain('"eu-prod" and "us-prod" would share the branch "env/prod"')
  })

  it('rejects an environment that matches no stage, listing the stage patterns', () => {
    const error = thrown(() =>
      discoverEnvironments(fleet(), [...FLEET_FILES, 'clusters/eu/dev-1/kustomization.yaml']),
    )
    expect(error.message).toBe(
      'fleet-promote.yaml:3: environments[0] (glob "clusters/*/*"): environment "eu-dev-1" (clusters/eu/dev-1) matches no stage; stage patterns: production [*-prod-*]; testing [*-test-*, sdbx-*]; staging [*-stage-*]',
    )
    expect(error.location).toEqual({ file: 'fleet-promote.yaml', line: 3 })
  })

  it('derives a valid name from a directory that gives none, and says so', () => {
    const notes: string[] = []
    const long = `a${'b'.repeat(120)}`
    const envs = discoverEnvironments(
      defaultConfig(),
      ['my lab', '-x', 'a:b', 'v1..2.lock', long].map(
        (dir) => `clusters/${dir}/kustomization.yaml`,
      ),
      { notes },
    )
    const shortened = envs.find((env) => env.path === `clusters/${long}`)!.name
    expect(shortened).toMatch(new RegExp(`^a${'b'.repeat(90)}-[0-9a-f]{8}$`))
    expect(envs.map((env) => [env.path, env.name, env.branch])).toEqual(
      [
        ['clusters/a:b', 'a-b'],
        [`clusters/${long}`, shortened],
        ['clusters/my lab', 'my-lab'],
        ['clusters/v1..2.lock', 'v1.2'],
        ['clusters/-x', 'x'],
      ].map(([path, name]) => [path, name, `env/${name}`]),
    )
    expect(notes).toContain(
      '(defaults): environments[0] (glob "clusters/**"): clusters/a:b: "a:b" is no valid environment name (characters a name may not have); named "a-b"',
    )
    expect(notes).toHaveLength(5)
  })

  it('rejects a branch that becomes invalid for a particular directory', () => {
    const config = parseConfig(
      'version: 1\nenvironments:\n  - glob: clusters/*/app\n    name: app-{1}\n    branch: "env/{path}"\n',
      'f.yaml',
    )
    const ok = discoverEnvironments(config, ['clusters/a/app/kustomization.yaml'])
    expect(ok[0]!.branch).toBe('env/clusters/a/app')
    const error = thrown(() =>
      discoverEnvironments(config, ['clusters/a~1/app/kustomization.yaml']),
    )
    expect(error.message).toContain(
      'the branch of environment "app-a-1" is "env/clusters/a~1/app", which contains the character "~"',
    )
    const fixedName = parseConfig(
      'version: 1\nenvironments:\n  - glob: clusters/*/app\n    name: app\n    branch: "env/{path}"\n',
      'f.yaml',
    )
    const lock = thrown(() =>
      discoverEnvironments(fixedName, ['clusters/b.lock/app/kustomization.yaml']),
    )
    expect(lock.message).toBe(
      'f.yaml:3: environments[0] (glob "clusters/*/app"): the branch of environment "app" is "env/clusters/b.lock/app", where a component ends with ".lock"',
    )
    expect(lock.location).toEqual({ file: 'f.yaml', line: 3 })
  })
})

describe('shared WET branches (environments[].path)', () => {
  const GROUPED = `version: 1
environments:
  - glob: clusters/*/*
    name: "{1}-{2}"
    branch: "env/{stage}"
    path: "{1}/{name}"
stages:
  - name: testing
    match: ["*-test*"]
  - name: production
    match: ["*-prod*"]
`
  const FILES = [
    'clusters/eu/prod-1/kustomization.yaml',
    'clusters/us/prod-1/kustomization.yaml',
    'clusters/eu/test-1/kustomization.yaml',
  ]

  it('gives each environment of a shared branch its own folder', () => {
    const environments = discoverEnvironments(parseConfig(GROUPED, 'f.yaml'), FILES)
    expect(environments).toEqual([
      {
        name: 'eu-test-1',
        path: 'clusters/eu/test-1',
        stage: 'testing',
        branch: 'env/testing',
        folder: 'eu/eu-test-1',
      },
      {
        name: 'eu-prod-1',
        path: 'clusters/eu/prod-1',
        stage: 'production',
        branch: 'env/production',
        folder: 'eu/eu-prod-1',
      },
      {
        name: 'us-prod-1',
        path: 'clusters/us/prod-1',
        stage: 'production',
        branch: 'env/production',
        folder: 'us/us-prod-1',
      },
    ])
  })

  it('keeps per-environment branches without a folder, exactly as before', () => {
    const config = parseConfig('version: 1\nenvironments:\n  - glob: clusters/*/*\n', 'f.yaml')
    expect(config.environments[0]).not.toHaveProperty('path')
    const [first] = discoverEnvironments(config, FILES)
    expect(first).toEqual({
      name: 'eu-prod-1',
      path: 'clusters/eu/prod-1',
      stage: 'default',
      branch: 'env/eu-prod-1',
    })
  })

  it("a shared branch without paths is an error naming the file and the rule's line", () => {
    const config = parseConfig(
      'version: 1\nenvironments:\n  - glob: sandboxes/*\n  - glob: clusters/*/*\n    branch: "env/{2}"\n',
      'f.yaml',
    )
    const error = thrown(() =>
      discoverEnvironments(config, [...FILES, 'sandboxes/a/kustomization.yaml']),
    )
    expect(error.message).toBe(
      'f.yaml:4: environments[1] (glob "clusters/*/*"): environments "eu-prod-1" and "us-prod-1" would share the branch "env/prod-1", and "eu-prod-1" has no folder on it; set the rule\'s path (e.g. path: "{name}") to give each environment its own folder, or make the branch template include {name}',
    )
    expect(error.location).toEqual({ file: 'f.yaml', line: 4 })
  })

  it('two environments on one branch need distinct folders, none inside another', () => {
    const same = parseConfig(GROUPED.replace('path: "{1}/{name}"', 'path: "{1}"'), 'f.yaml')
    expect(
      thrown(() => discoverEnvironments(same, [...FILES, 'clusters/eu/prod-2/kustomization.yaml']))
        .message,
    ).toBe(
      'f.yaml:3: environments[0] (glob "clusters/*/*"): environments "eu-prod-1" and "eu-prod-2" would both write folder "eu" of the WET branch "env/production"; the path template must include {name}',
    )
    const nested = parseConfig(
      'version: 1\nenvironments:\n  - glob: clusters/**\n    branch: env/all\n    path: "{path}"\n',
      'f.yaml',
    )
    const files = ['clusters/eu/prod/kustomization.yaml', 'clusters/eu/prod/x/kustomization.yaml']
    expect(thrown(() => discoverEnvironments(nested, files)).message).toBe(
      'f.yaml:3: environments[0] (glob "clusters/**"): the folder "clusters/eu/prod/x" of environment "eu-prod-x" is inside the folder "clusters/eu/prod" of environment "eu-prod" on the WET branch "env/all"; folders on one branch may not nest',
    )
  })

  it("an environment named like a shared branch's child is an error naming the file and line", () => {
    // `env-testing` on its own branch and the shared `env/testing` would both be fleet-promote/pr-<n>/env-testing.
    const solo = `${GROUPED.replace('environments:\n', 'environments:\n  - glob: solo/*\n    branch: "solo/{name}"\n')}`
    const config = parseConfig(
      solo.replace('match: ["*-test*"]', 'match: ["*-test*", "env-*"]'),
      'f.yaml',
    )
    const files = [...FILES, 'solo/env-testing/kustomization.yaml']
    const error = thrown(() => discoverEnvironments(config, files))
    expect(error.message).toBe(
      'f.yaml:5: environments[1] (glob "clusters/*/*"): environment "env-testing" and the WET branch "env/testing" (environment "eu-test-1") would both have the child branch "fleet-promote/pr-<n>/env-testing"; rename the environment or change the branch template',
    )
    expect(error.location).toEqual({ file: 'f.yaml', line: 5 })
    // Two shared branches whose names differ only in "/" and "-" clash too.
    const branches = parseConfig(
      GROUPED.replace('branch: "env/{stage}"', 'branch: "{1}/{stage}"').replace(
        'stages:',
        '  - glob: other/*/*\n    name: "{1}-{2}"\n    branch: "eu-{stage}"\n    path: "{name}"\nstages:',
      ),
      'f.yaml',
    )
    expect(
      thrown(() => discoverEnvironments(branches, [...FILES, 'other/x/test-2/kustomization.yaml']))
        .message,
    ).toContain(
      'the WET branch "eu/testing" (environment "eu-test-1") and the WET branch "eu-testing"',
    )
    // Folders of one shared branch share its child: no clash.
    expect(discoverEnvironments(parseConfig(GROUPED, 'f.yaml'), FILES)).toHaveLength(3)
  })

  it("a merge-backend stage's waves may not split a shared branch; the argocd backend's may", () => {
    const waves = (backend: string) =>
      parseConfig(
        GROUPED.replace(
          'match: ["*-prod*"]',
          `match: ["*-prod*"]\n    backend: ${backend}\n    waves: [eu-prod-1]`,
        ) + 'deploy:\n  argocd:\n    server: https://argocd.example.com\n',
        'f.yaml',
      )
    expect(thrown(() => discoverEnvironments(waves('merge'), FILES)).message).toBe(
      'f.yaml:3: environments[0] (glob "clusters/*/*"): environments "eu-prod-1" and "us-prod-1" share the WET branch "env/production" but are in different waves of stage production, whose merge backend lands every folder of the branch at once; put them in one wave, or deploy the stage with the argocd backend (one folder at a time)',
    )
    expect(discoverEnvironments(waves('argocd'), FILES)).toHaveLength(3)
  })

  it('environments of one shared branch must be of one stage (its child lands every folder)', () => {
    const config = parseConfig(
      GROUPED.replace('branch: "env/{stage}"', 'branch: "env/{1}"'),
      'f.yaml',
    )
    expect(thrown(() => discoverEnvironments(config, FILES)).message).toBe(
      'f.yaml:3: environments[0] (glob "clusters/*/*"): environments "eu-prod-1" (stage production) and "eu-test-1" (stage testing) would share the WET branch "env/eu"; a shared branch\'s child lands all its folders at once, so they must be of one stage (e.g. branch: "env/{stage}")',
    )
  })

  it('an environment without a path may not share the branch of ones with folders', () => {
    const config = parseConfig(
      'version: 1\nenvironments:\n  - glob: clusters/eu/*\n    name: "{1}"\n    branch: env/all\n    path: "{name}"\n  - glob: clusters/us/*\n    name: "{1}"\n    branch: env/all\n',
      'f.yaml',
    )
    const error = thrown(() =>
      discoverEnvironments(config, [
        'clusters/eu/a/kustomization.yaml',
        'clusters/us/b/kustomization.yaml',
      ]),
    )
    expect(error.message).toMatch(
      /^f\.yaml:7: environments\[1\] \(glob "clusters\/us\/\*"\): environments "a" and "b" would share the branch "env\/all", and "b" has no folder on it/,
    )
  })

  it.each([
    ['{name}/', 'each "/"-separated segment'],
    ['.hidden/{name}', 'each "/"-separated segment'],
    ['../{name}', 'each "/"-separated segment'],
    ['{nope}', 'unknown placeholder {nope}'],
  ])('refuses the path template %j where it is written', (path, problem) => {
    const error = thrown(() =>
      parseConfig(
        `version: 1\nenvironments:\n  - glob: clusters/*\n    branch: env/all\n    path: "${path}"\n`,
        'f.yaml',
      ),
    )
    expect(error.message).toMatch(/^f\.yaml:5:\d+: environments\[0\]\.path: /)
    expect(error.message).toContain(problem)
  })

  it("the CLI's --env directories get their folder from the matching rule", () => {
    const [env] = environmentsFromPaths(parseConfig(GROUPED, 'f.yaml'), FILES, [
      'clusters/us/prod-1',
    ])
    expect(env).toMatchObject({
      name: 'clusters-us-prod-1',
      branch: 'env/production',
      folder: 'us/clusters-us-prod-1',
    })
  })
})

describe('environmentsFromPaths', () => {
  it('takes exact directories and globs, names them by path, assigns stage and branch', () => {
    const envs = environmentsFromPaths(fleet(), FLEET_FILES, [
      './sandboxes/alice/',
      'clusters/us/*',
      'components/cert-manager',
    ])
    expect(envs).toEqual([
      // no stage matches "components-cert-manager": the first stage in order
      {
        name: 'components-cert-manager',
        path: 'components/cert-manager',
        stage: 'testing',
        branch: 'env/components-cert-manager',
      },
      {
        name: 'sandboxes-alice',
        path: 'sandboxes/alice',
        stage: 'testing',
        branch: 'wet/testing/sandboxes-alice',
      },
      {
        name: 'clusters-us-stage-1',
        path: 'clusters/us/stage-1',
        stage: 'staging',
        branch: 'env/clusters-us-stage-1',
      },
      {
        name: 'clusters-us-prod-1',
        path: 'clusters/us/prod-1',
        stage: 'production',
        branch: 'env/clusters-us-prod-1',
      },
    ])
  })

  it('accepts an exact directory without a kustomization (plain YAML)', () => {
    const envs = environmentsFromPaths(defaultConfig(), ['plain/app/deploy.yaml'], ['plain/app'])
    expect(envs).toEqual([
      { name: 'plain-app', path: 'plain/app', stage: 'default', branch: 'env/plain-app' },
    ])
  })

  it('fails for a missing directory or a glob matching nothing', () => {
    expect(() => environmentsFromPaths(fleet(), FLEET_FILES, ['clusters/nope'])).toThrow(
      '--env clusters/nope: no such directory in the repository',
    )
    expect(() => environmentsFromPaths(fleet(), FLEET_FILES, ['apps/*'])).toThrow(
      '--env apps/* matches no directory holding a kustomization file',
    )
    expect(() => environmentsFromPaths(fleet(), FLEET_FILES, ['../x/*'])).toThrow(UserError)
  })

  it('takes NAME=DIR, and with problems reports a bad pattern without failing the others', () => {
    const problems: string[] = []
    const envs = environmentsFromPaths(
      fleet(),
      FLEET_FILES,
      ['alice=sandboxes/alice', 'clusters/nope', 'bad name=clusters/us/prod-1', 'x=clusters/us/*'],
      { problems },
    )
    expect(envs.map((env) => [env.name, env.path])).toEqual([['alice', 'sandboxes/alice']])
    expect(problems).toEqual([
      '--env clusters/nope: no such directory in the repository',
      '--env bad name=clusters/us/prod-1: the name "bad name" gives "bad name": names may only contain letters, digits, ".", "_" and "-", and must start with a letter or digit',
      '--env x=clusters/us/*: 2 directories match; NAME= names one',
    ])
  })

  it('merges duplicates from overlapping patterns', () => {
    const envs = environmentsFromPaths(fleet(), FLEET_FILES, [
      'clusters/eu/*',
      'clusters/eu/test-1',
    ])
    expect(envs.map((env) => env.path)).toEqual(['clusters/eu/test-1', 'clusters/eu/prod-1'])
  })
})

describe('stages', () => {
  it('orders stages by `requires`, keeping file order among independent stages', () => {
    expect(stageOrder(fleet())).toEqual(['testing', 'staging', 'production'])
    const implicit = () => parseConfig(FLEET_CONFIG.replace('    requires: []\n', ''), 'f.yaml')
    expect(implicit).toThrow(
      'f.yaml:12:15: stages[0].requires: stages require each other in a cycle: production → staging → testing → production (without `requires`, a stage requires the one listed before it: "testing" requires "production"; list stages in promotion order or write `requires: []`)',
    )
    const dag = parseConfig(
      [
        'version: 1',
        'stages:',
        '  - { name: prod, requires: [canary-eu, canary-us] }',
        '  - { name: canary-us, requires: [lab] }',
        '  - { name: canary-eu, requires: [lab] }',
        '  - { name: lab, requires: [] }',
        '  - { name: sandbox, requires: [] }',
      ].join('\n'),
      'f.yaml',
    )
    expect(stageOrder(dag)).toEqual(['lab', 'canary-us', 'canary-eu', 'prod', 'sandbox'])
  })

  it('rejects cycles and unknown stages in a config built in code', () => {
    const config: FleetConfig = defaultConfig()
    const stage = config.stages[0]!
    config.stages = [
      { ...stage, name: 'a', requires: ['b'] },
      { ...stage, name: 'b', requires: ['a'] },
    ]
    expect(() => stageOrder(config)).toThrow(
      '(defaults): stages require each other in a cycle: a → b → a',
    )
    config.stages = [{ ...stage, name: 'a', requires: ['zzz'] }]
    expect(() => stageOrder(config)).toThrow('stage "a" requires unknown stage "zzz"')
  })

  it('assigns an environment to the first stage whose pattern matches', () => {
    const config = parseConfig(
      'version: 1\nstages:\n  - { name: canary, match: ["eu-prod-1"] }\n  - { name: prod, match: ["*-prod-*"] }\n',
      'f.yaml',
    )
    expect(stageFor(config, 'eu-prod-1')?.name).toBe('canary')
    expect(stageFor(config, 'eu-prod-2')?.name).toBe('prod')
    expect(stageFor(config, 'eu-test-1')).toBeUndefined()
  })
})

describe('expandTemplate', () => {
  it('replaces every placeholder, repeated ones too', () => {
    expect(expandTemplate('{name}-addons/{name}/{1}', { name: 'eu', '1': 'x' })).toBe(
      'eu-addons/eu/x',
    )
    expect(expandTemplate('plain', {})).toBe('plain')
  })

  it('rejects unknown placeholders and stray braces', () => {
    expect(() => expandTemplate('{nme}', { name: 'x' })).toThrow(
      'unknown placeholder {nme} in "{nme}"; available: {name}',
    )
    expect(() => expandTemplate('{constructor}', {})).toThrow('unknown placeholder {constructor}')
    expect(() => expandTemplate('a}b', {})).toThrow('unbalanced "}" in template "a}b"')
    expect(() => expandTemplate('{a{b}}', { b: 'x' })).toThrow(UserError)
  })
})

describe('matchDirGlob', () => {
  it.each([
    ['clusters/*', 'clusters/a', ['a']],
    ['clusters/*', 'clusters/a/b', undefined],
    ['clusters/*', 'clusters/.a', undefined],
    ['clusters/**', 'clusters', undefined],
    ['clusters/**', 'clusters/a/b', ['a/b']],
    ['clusters/**/x', 'clusters/x', ['']],
    ['a/[bc]?/d', 'a/c1/d', ['c1']],
    ['a/{b,c}', 'a/c', ['c']],
    ['a/b', 'a/b', []],
    ['a/b', 'a/bb', undefined],
  ])('%s ~ %s', (glob, dir, captures) => {
    expect(matchDirGlob(glob, dir)).toEqual(captures)
  })

  it('rejects malformed globs', () => {
    for (const glob of ['/abs/*', 'a//b', 'a/./b', 'a/**b', 'a/{b/c}', 'a/[b', '!a', 'a\\b']) {
      expect(() => matchDirGlob(glob, 'a/b'), glob).toThrow(UserError)
    }
  })
})
