import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv } from 'ajv'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import {
  DEFAULT_CONFIG_FILE,
  defaultConfig,
  invalidBranchReason,
  loadConfig,
  loadConfigFrom,
  parseConfig,
  unsafeNameReason,
} from '../actions/lib/config/config.js'
import type { FleetConfig } from '../actions/lib/config/types.js'
import configSchema from '../actions/lib/fleet-promote.schema.json' with { type: 'json' }
import { annotationText, UserError } from '../actions/lib/errors.js'

const fixtures = fileURLToPath(new URL('./fixtures/config/', import.meta.url))

function thrown(fn: () => unknown): UserError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(UserError)
    return error as UserError
  }
  throw new Error('expected a UserError')
}

/** A normalized config as the YAML a user could write (drops the bookkeeping fields). */
function withoutFile(config: FleetConfig): Omit<FleetConfig, 'file'> {
  const copy: Partial<FleetConfig> = { ...config }
  delete copy.file
  return copy as Omit<FleetConfig, 'file'>
}

function asUserYaml(config: FleetConfig): string {
  const rest = withoutFile(config)
  return stringify({
    ...rest,
    environments: rest.environments.map(({ line: _line, ...rule }) => rule),
  })
}

describe('the annotation of a configuration error', () => {
  it('names the place once: the runner shows file and line, the text does not repeat them', () => {
    let caught: unknown
    try {
      parseConfig('version: 1\nstages:\n  - name: x\n    approvals: -1\n', 'fleet-promote.yaml')
    } catch (error) {
      caught = error
    }
    if (!(caught instanceof UserError) || !caught.location) throw new Error('no located UserError')
    expect(caught.message).toBe(
      'fleet-promote.yaml:4:16: stages[0].approvals: must be >= 0, got -1',
    )
    expect(caught.location).toMatchObject({ file: 'fleet-promote.yaml', line: 4 })
    expect(annotationText(caught.message, caught.location)).toBe(
      'stages[0].approvals: must be >= 0, got -1',
    )
    // A message that does not start with its place is kept whole.
    expect(annotationText('graph at head: a.yaml:3: bad', { file: 'a.yaml', line: 3 })).toBe(
      'graph at head: a.yaml:3: bad',
    )
  })
})

describe('parseConfig', () => {
  it('reads a full configuration', async () => {
    const text = await readFile(join(fixtures, 'full.yaml'), 'utf8')
    const config = parseConfig(text, 'fleet-promote.yaml')
    expect(config.file).toBe('fleet-promote.yaml')
    expect(config.environments).toEqual([
      {
        glob: 'clusters/*/*',
        name: '{1}-{2}',
        branch: 'env/{name}',
        exclude: ['clusters/retired/*'],
        line: 4,
      },
      { glob: 'sandboxes/*', name: 'sdbx-{1}', branch: 'wet/{stage}/{name}', exclude: [], line: 8 },
    ])
    expect(config.stages).toEqual([
      {
        name: 'testing',
        match: ['*-test-*', 'sdbx-*'],
        requires: [],
        autoPromote: true,
        approvals: 0,
        permission: 'write',
        backend: 'external',
        production: false,
        waves: [],
        waveMode: 'auto',
        bakeSeconds: 0,
        verify: { http: [], prometheus: [] },
        failFast: true,
        rollback: false,
      },
      {
        name: 'staging',
        match: ['*-stage-*'],
        requires: ['testing'],
        autoPromote: false,
        approvals: 0,
        permission: 'write',
        backend: 'merge',
        production: false,
        waves: [],
        waveMode: 'auto',
        bakeSeconds: 0,
        verify: { http: [], prometheus: [] },
        failFast: true,
        rollback: false,
      },
      {
        name: 'production',
        match: ['*-prod-*'],
        requires: ['staging'],
        autoPromote: false,
        approvals: 1,
        permission: 'maintain',
        backend: 'argocd',
        production: true,
        waves: ['eu-prod-canary', 'eu-prod-*'],
        waveMode: 'manual',
        maxParallel: 2,
        bakeSeconds: 30,
        verify: {
          http: [
            {
              name: 'healthz',
              url: 'https://{name}.example.com/healthz',
              status: 200,
              field: 'status',
              equals: 'ok',
            },
          ],
          prometheus: [
            {
              name: 'prometheus',
              url: 'https://prometheus.example.com',
              query: 'sum(rate(http_errors_total{cluster="{name}"}[5m]))',
              condition: '< 0.01',
              times: 3,
              intervalSeconds: 10,
              tokenEnv: 'PROM_TOKEN',
            },
          ],
        },
        failFast: false,
        maxFailures: 2,
        rollback: true,
      },
    ])
    expect(config.impact.extra).toEqual([{ paths: ['global/**'], environments: ['*'] }])
    expect(config.hydrate).toEqual({
      layout: 'per-resource',
      helm: {
        enabled: true,
        allowedRepos: ['https://charts.jetstack.io', 'oci://ghcr.io/example/charts'],
      },
      remoteBases: ['https://github.com/example/bases'],
      deletionGuard: {
        maxDeleted: 5,
        maxDeletedPercent: 12.5,
        protectedKinds: ['Namespace', 'CustomResourceDefinition'],
      },
      timeoutSeconds: 90,
      maxOutputBytes: 1048576,
      maxMemoryMegabytes: 2048,
      sandbox: 'off',
    })
    expect(config.promote).toEqual({
      command: '.ship',
      permission: 'write',
      allowForks: true,
      allowBots: ['renovate[bot]'],
      requiredStages: 'pull-request',
    })
    expect(config.deploy).toEqual({
      backend: 'external',
      deployments: 'per-stage',
      argocd: {
        server: 'argocd.example.com',
        application: '{name}-addons',
        timeoutSeconds: 120,
        insecure: true,
      },
      external: { system: 'Kargo' },
    })
    expect(config.merge).toEqual({ mergeUnpromoted: false })
  })

  it('fills defaults for a minimal file', () => {
    const config = parseConfig('version: 1\n', 'fleet.yaml')
    expect(config).toEqual({ ...defaultConfig(), file: 'fleet.yaml' })
  })

  it('chains stages without `requires` and inherits permission and backend', () => {
    const config = parseConfig(
      [
        'version: 1',
        'promote: { permission: maintain }',
        'deploy: { backend: external }',
        'stages:',
        '  - name: a',
        '  - name: b',
        '    requires: []',
        '  - name: c',
        '    permission: admin',
      ].join('\n'),
      'f.yaml',
    )
    expect(config.stages.map((s) => [s.name, s.requires, s.permission, s.backend])).toEqual([
      ['a', [], 'maintain', 'external'],
      ['b', [], 'maintain', 'external'],
      ['c', ['b'], 'admin', 'external'],
    ])
  })

  it('defaults an environment name to the glob captures, or the basename without wildcards', () => {
    const config = parseConfig(
      'version: 1\nenvironments:\n  - glob: clusters/*/prod-*\n  - glob: special/one\n  - glob: fleet/**\n',
      'f.yaml',
    )
    expect(config.environments.map((rule) => rule.name)).toEqual(['{1}-{2}', '{basename}', '{1}'])
  })

  it('treats an empty file as missing `version`', () => {
    const error = thrown(() => parseConfig('', 'fleet-promote.yaml'))
    expect(error.message).toBe(
      'fleet-promote.yaml:1:1: (top level): missing required key "version"',
    )
  })

  it('reports every schema problem at once, in line order, located at the first', () => {
    const error = thrown(() =>
      parseConfig(
        'version: 1\npromote:\n  allowForks: "yes"\nmerge:\n  mergeUnpromotd: true\n',
        'fleet-promote.yaml',
      ),
    )
    expect(error.message.split('\n')).toEqual([
      'fleet-promote.yaml:3:15: promote.allowForks: must be a boolean, got "yes"',
      'fleet-promote.yaml:5:3: merge.mergeUnpromotd: unknown key "mergeUnpromotd" (did you mean "mergeUnpromoted"?); allowed keys: mergeUnpromoted',
    ])
    expect(error.location).toEqual({ file: 'fleet-promote.yaml', line: 3, column: 15 })
  })

  it('refuses YAML alias bombs', () => {
    const layers = ['a: &a [x, x, x, x, x, x, x, x, x, x]']
    for (const [name, previous] of [
      ['b', 'a'],
      ['c', 'b'],
      ['d', 'c'],
    ] as const) {
      layers.push(`${name}: &${name} [${Array(10).fill(`*${previous}`).join(', ')}]`)
    }
    const error = thrown(() => parseConfig(`${layers.join('\n')}\nversion: 1\n`, 'f.yaml'))
    expect(error.message).toMatch(/^f\.yaml: invalid YAML: Excessive alias count/)
  })

  it('does not suggest a far-off key', () => {
    const error = thrown(() => parseConfig('version: 1\nwhatever: 1\n', 'f.yaml'))
    expect(error.message).toContain('unknown key "whatever"; allowed keys: version, environments')
    expect(error.message).not.toContain('did you mean')
  })

  it('rejects a template with a stray brace', () => {
    const error = thrown(() =>
      parseConfig('version: 1\ndeploy:\n  argocd:\n    application: "{name"\n', 'f.yaml'),
    )
    expect(error.message).toBe(
      'f.yaml:4:18: deploy.argocd.application: application template: unbalanced "{" in template "{name"',
    )
  })

  it('rejects stage match patterns with a slash and impact globs leaving the repository', () => {
    const error = thrown(() =>
      parseConfig(
        [
          'version: 1',
          'stages:',
          '  - name: a',
          '    match: ["clusters/*"]',
          'impact:',
          '  extra:',
          '    - paths: ["/etc/**"]',
          '      environments: ["*"]',
        ].join('\n'),
        'f.yaml',
      ),
    )
    expect(error.message.split('\n')).toEqual([
      'f.yaml:4:13: stages[0].match[0]: pattern "clusters/*" matches environment names, which contain no "/"',
      'f.yaml:7:15: impact.extra[0].paths[0]: path glob "/etc/**" must be relative to the repository root (no leading "/")',
    ])
  })

  describe('invalid fixtures', async () => {
    const names = (await readdir(join(fixtures, 'invalid'))).sort()
    it('has fixtures', () => expect(names.length).toBeGreaterThan(15))
    for (const name of names) {
      it(name, async () => {
        const text = await readFile(join(fixtures, 'invalid', name), 'utf8')
        const header = /^# error: (\d+):(\d+) (.*)$/m.exec(text)
        expect(header, 'fixture needs an "# error: line:col message" header').not.toBeNull()
        const [, line, column, expected] = header!
        const file = `config/${name}`
        const error = thrown(() => parseConfig(text, file))
        expect(error.message).toContain(`${file}:${line}:${column}: ${expected}`)
        expect(error.message.startsWith(`${file}:${line}:${column}: `)).toBe(true)
        expect(error.location).toEqual({ file, line: Number(line), column: Number(column) })
      })
    }
  })
})

describe('schema and types agree', () => {
  const ajv = new Ajv({ strict: true })

  it('the schema is valid and accepts the defaults written out as YAML', () => {
    const validate = ajv.compile(configSchema)
    const rest = withoutFile(defaultConfig())
    expect(validate(JSON.parse(JSON.stringify(rest)))).toBe(true)
    expect(validate({ ...rest, surprise: 1 })).toBe(false)
  })

  it('a normalized config round-trips through YAML unchanged', async () => {
    const full = parseConfig(await readFile(join(fixtures, 'full.yaml'), 'utf8'), 'a.yaml')
    const again = parseConfig(asUserYaml(full), 'a.yaml')
    const withoutLines = (config: FleetConfig) => ({
      ...config,
      environments: config.environments.map(({ line: _line, ...rule }) => rule),
    })
    expect(withoutLines(again)).toEqual(withoutLines(full))
    const defaults = parseConfig(asUserYaml(defaultConfig()), '(defaults)')
    expect(withoutLines(defaults)).toEqual(defaultConfig())
  })

  it('every schema default equals the default the loader applies', () => {
    const minimal = parseConfig('version: 1\n', 'f.yaml')
    // One item per list of mappings, so item defaults are exercised too.
    const withItems = parseConfig(
      [
        'version: 1',
        'environments: [{ glob: "clusters/*" }]',
        'stages:',
        '  - name: only',
        '    backend: argocd',
        '    verify:',
        '      http: [{ url: "https://{name}.example.com/healthz" }]',
        '      prometheus: [{ url: "https://prom.example.com", query: up, condition: "> 0" }]',
        'deploy: { argocd: { server: "https://argocd.example.com" } }',
        'impact: { extra: [{ paths: ["x/**"], environments: ["*"] }] }',
        'hydrate: { helm: { allowedRepos: ["https://charts.example.com"] } }',
        'report:',
        '  minimumVersions: [{ chart: x, version: 1.0.0 }]',
        '  chartRepositories: [{ chart: x, repo: "https://charts.example.com" }]',
      ].join('\n'),
      'f.yaml',
    )
    type Node = { default?: unknown; properties?: Record<string, Node>; items?: Node }
    const checked: string[] = []
    const child = (value: unknown, key: string | number, path: string): unknown => {
      expect(value, path).toBeTypeOf('object')
      expect(Object.keys(value as object), path).toContain(String(key))
      return (value as Record<string, unknown>)[key]
    }
    const walk = (node: Node, defaults: unknown, items: unknown, path: string) => {
      if (node.default !== undefined) {
        expect(defaults, path).toEqual(node.default)
        checked.push(path)
      }
      for (const [key, sub] of Object.entries(node.properties ?? {})) {
        // An optional field without a default (stages[].maxParallel) stays absent.
        if (sub.default === undefined && !sub.properties && !sub.items) continue
        walk(sub, child(defaults, key, path), child(items, key, path), `${path}.${key}`)
      }
      if (node.items?.properties) {
        const item = child(items, 0, path)
        walk(node.items, item, item, `${path}[0]`)
      }
    }
    walk(configSchema as Node, minimal, withItems, '$')
    expect(checked).toContain('$.hydrate.deletionGuard.protectedKinds')
    expect(checked).toContain('$.environments[0].branch')
    expect(checked).toContain('$.stages[0].approvals')
    expect(checked).toContain('$.impact.extra')
    expect(checked).toContain('$.report.minimumVersions[0].reason')
    expect(checked.length).toBeGreaterThan(20)
  })

  it('protects the kinds whose deletion destroys a cluster by default', () => {
    expect(defaultConfig().hydrate.deletionGuard.protectedKinds).toEqual([
      'Namespace',
      'CustomResourceDefinition',
      'PersistentVolumeClaim',
      'PersistentVolume',
      'StatefulSet',
      'Application',
      'AppProject',
      'Kustomization',
    ])
  })

  it('defaultConfig returns a fresh object each time', () => {
    const a = defaultConfig()
    a.hydrate.deletionGuard.protectedKinds.push('Secret')
    a.stages[0]!.match.push('x')
    expect(defaultConfig().hydrate.deletionGuard.protectedKinds).not.toContain('Secret')
    expect(defaultConfig().stages[0]!.match).toEqual(['*'])
  })
})

describe('name and branch rules', () => {
  it.each([
    ['eu-prod-1', undefined],
    ['a.b_c-1', undefined],
    ['', 'is empty'],
    ['-x', 'must start with a letter or digit'],
    ['a b', 'may only contain'],
    ['a/b', 'may only contain'],
    ['a..b', 'may not contain ".."'],
    ['x.lock', 'end with'],
    ['x'.repeat(101), 'longer than 100'],
  ])('environment name %j', (name, problem) => {
    const reason = unsafeNameReason(name)
    if (problem === undefined) expect(reason).toBeUndefined()
    else expect(reason).toContain(problem)
  })

  it.each([
    ['env/eu-prod-1', undefined],
    ['fleet-promote/pr-12/eu-prod-1', undefined],
    ['-env', 'starts with "-"'],
    ['env//x', 'empty path component'],
    ['env/', 'empty path component'],
    ['env/x.', 'ends with "."'],
    ['env/.x', 'starts with "."'],
    ['env/x.lock', 'ends with ".lock"'],
    ['env/a..b', 'contains ".."'],
    ['env/a@{b', 'contains "@{"'],
    ['env/a b', 'character " "'],
    ['env/a~1', 'character "~"'],
    ['env/a:b', 'character ":"'],
    ['env/a\\b', 'character "\\\\"'],
    ['@', 'invalid branch name'],
  ])('branch %j', (branch, problem) => {
    const reason = invalidBranchReason(branch)
    if (problem === undefined) expect(reason).toBeUndefined()
    else expect(reason).toContain(problem)
  })
})

describe('loadConfig', () => {
  let repo: string
  beforeEach(async () => {
    repo = await mkdtemp(join(tmpdir(), 'fleet-config-'))
  })
  afterEach(async () => {
    await rm(repo, { recursive: true, force: true })
  })

  it('gives the defaults when the default file is missing', async () => {
    const config = await loadConfig(repo)
    expect(config).toEqual(defaultConfig())
    expect(config.file).toBe('(defaults)')
  })

  it('reads the default file and names it in errors', async () => {
    await writeFile(join(repo, DEFAULT_CONFIG_FILE), 'version: 1\nstages: [{ name: qa }]\n')
    expect((await loadConfig(repo)).stages.map((s) => s.name)).toEqual(['qa'])
    await writeFile(join(repo, DEFAULT_CONFIG_FILE), 'version: 1\nstages: 3\n')
    await expect(loadConfig(repo)).rejects.toThrow(
      'fleet-promote.yaml:2:9: stages: must be an array, got 3',
    )
  })

  it('reads a file in a subdirectory with its repository-relative name', async () => {
    await mkdir(join(repo, '.github'))
    await writeFile(join(repo, '.github/fleet.yaml'), 'version: 1\nbogus: true\n')
    const error = await loadConfig(repo, '.github/fleet.yaml').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UserError)
    expect((error as UserError).location).toEqual({
      file: '.github/fleet.yaml',
      line: 2,
      column: 1,
    })
  })

  it('says a configuration missing from a revision is to be committed there; a working tree without it is silent', async () => {
    const empty = { where: 'on main', revision: 'main', read: () => Promise.resolve(undefined) }
    const config = await loadConfigFrom(empty)
    expect(config.environments).toEqual(defaultConfig().environments)
    expect(config.defaultsNote).toMatch(
      /^fleet-promote\.yaml is not in main; commit it there \(the configuration is read from the base branch\)\. /,
    )
    expect((await loadConfig(repo)).defaultsNote).toBeUndefined()
  })

  it('fails when an explicitly named file is missing or outside the repository', async () => {
    await expect(loadConfig(repo, 'conf/fleet.yaml')).rejects.toThrow(
      'configuration file conf/fleet.yaml does not exist',
    )
    await expect(loadConfig(repo, '../fleet-promote.yaml')).rejects.toThrow(
      'is not inside the repository',
    )
  })

  it('passes other I/O errors on', async () => {
    await mkdir(join(repo, DEFAULT_CONFIG_FILE))
    const error = await loadConfig(repo).catch((e: unknown) => e)
    expect(error).not.toBeInstanceOf(UserError)
    expect((error as NodeJS.ErrnoException).code).toBe('EISDIR')
  })
})
