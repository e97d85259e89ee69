// The `--helm-command` kustomize gets is an allowlist: every argument shape
// kustomize v5.8.1 emits for `helm template` (api v0.21.1 HelmChart.AsHelmArgs)
// and `helm version --short` goes through; nothing else reaches helm.
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runProcess } from '../actions/lib/process.js'
import {
  findOnPath,
  kustomizeArgs,
  sealedToolEnv,
  writeHelmShim,
} from '../actions/lib/render/tools.js'
import { FIXTURES } from './fixtures/render/fixture-repo.js'

let work: string
let tree: string
let tmp: string
let env: NodeJS.ProcessEnv

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'fleet-promote-shim-'))
  tree = join(work, 'tree')
  env = await sealedToolEnv(join(work, 'run'))
  tmp = env.TMPDIR as string
  const chart = join(FIXTURES, 'fleet/clusters/local/charts/toolbox')
  await cp(chart, join(tree, 'every-option/charts/toolbox'), { recursive: true })
  await cp(chart, join(tree, 'defaults/charts/toolbox'), { recursive: true })
})

afterAll(() => rm(work, { recursive: true, force: true }))

const shell = '/bin/sh'

describe('the helm shim', () => {
  it('lets through every shape of helm template kustomize emits, and renders', async () => {
    const helm = await findOnPath('helm')
    const shim = await writeHelmShim(join(work, 'real'), helm, 'v3.21.4', { tree, tmp, shell })
    await writeFile(
      join(tree, 'every-option/kustomization.yaml'),
      [
        'helmCharts:',
        '  - name: toolbox',
        '    releaseName: toolbox.web',
        '    namespace: web',
        '    valuesFile: values.yaml',
        '    additionalValuesFiles: [more.yaml, most.yaml]',
        '    apiVersions: [monitoring.coreos.com/v1, batch/v1/CronJob]',
        '    kubeVersion: v1.31.2',
        '    includeCRDs: true',
        '    skipTests: true',
        '    skipHooks: true',
        '    debug: true',
        '    devel: true',
        '',
      ].join('\n'),
    )
    await writeFile(join(tree, 'every-option/values.yaml'), 'color: red\nreplicas: 1\n')
    await writeFile(join(tree, 'every-option/more.yaml'), 'replicas: 2\n')
    await writeFile(join(tree, 'every-option/most.yaml'), 'replicas: 3\n')
    // No release name (--generate-name), no namespace, inline values (kustomize's merged file in TMPDIR).
    await writeFile(
      join(tree, 'defaults/kustomization.yaml'),
      'helmCharts:\n  - name: toolbox\n    valuesInline: {color: green}\n',
    )
    for (const [dir, expected] of [
      ['every-option', 'replicas: 3'],
      ['defaults', 'color: green'],
    ] as const) {
      const run = await runProcess(
        await findOnPath('kustomize'),
        kustomizeArgs(join(tree, dir), shim),
        { env, timeoutMs: 60_000 },
      )
      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toContain(expected)
    }
  })

  describe('refuses anything else, before helm starts', () => {
    let shim: string
    let log: string
    beforeAll(async () => {
      // A helm that only records that it ran.
      log = join(work, 'helm.log')
      const recorder = join(work, 'recording-helm')
      await writeFile(recorder, `#!/bin/sh\necho "$@" >> '${log}'\n`)
      await chmod(recorder, 0o755)
      shim = await writeHelmShim(join(work, 'recording'), recorder, "v3.21.4+gabc'; touch x", {
        tree,
        tmp,
        shell,
      })
      await mkdir(join(tree, 'c'), { recursive: true })
    })

    it('answers version --short itself, with a harmless version', async () => {
      expect(await runProcess(shim, ['version', '--short'], { env })).toMatchObject({
        code: 0,
        stdout: 'v3.21.4+gabctouchx\n',
      })
    })

    const chart = () => join(tree, 'c/toolbox')
    it.each([
      [
        'pull',
        () => ['pull', 'alpha', '--repo', 'http://127.0.0.1:1'],
        'pull (charts come from the cache)',
      ],
      ['version without --short', () => ['version'], 'version (charts come from the cache)'],
      [
        'version with more',
        () => ['version', '--short', '--debug'],
        'version (charts come from the cache)',
      ],
      [
        'a release name that is a flag',
        () => ['template', '--set-file=x=/etc/passwd', chart()],
        'release name --set-file=x=/etc/passwd',
      ],
      ['a release name Helm refuses', () => ['template', 'Web_1', chart()], 'release name Web_1'],
      ['a chart outside the render tree', () => ['template', 'x', '/etc'], 'chart /etc'],
      [
        'a chart path leaving the tree',
        () => ['template', 'x', `${tree}/../etc`],
        'chart TREE/../etc',
      ],
      ['no chart', () => ['template', 'x'], 'template without a chart'],
      ['--output-dir', () => ['template', 'x', chart(), '--output-dir', '/tmp/x'], '--output-dir'],
      ['--set-file', () => ['template', 'x', chart(), '--set-file', 'a=/etc/passwd'], '--set-file'],
      [
        'a values file elsewhere',
        () => ['template', 'x', chart(), '-f', '/etc/passwd'],
        '-f /etc/passwd',
      ],
      ['a dangling -f', () => ['template', 'x', chart(), '-f'], 'template without a chart'],
      [
        '--dependency-update',
        () => ['template', 'x', chart(), '--dependency-update'],
        '--dependency-update',
      ],
      [
        '--post-renderer',
        () => ['template', 'x', chart(), '--post-renderer', '/bin/sh'],
        '--post-renderer',
      ],
      ['--enable-dns', () => ['template', 'x', chart(), '--enable-dns'], '--enable-dns'],
      ['--namespace=…', () => ['template', 'x', chart(), '--namespace=web'], '--namespace=web'],
      [
        'a namespace that is a flag',
        () => ['template', 'x', chart(), '--namespace', '--devel'],
        '--namespace --devel',
      ],
      [
        '--namespace twice',
        () => ['template', 'x', chart(), '--namespace', 'a', '--namespace', 'b'],
        '--namespace here',
      ],
      [
        'options out of kustomize order',
        () => ['template', 'x', chart(), '--kube-version', '1.30', '-f', `${tmp}/v.yaml`],
        '-f here',
      ],
      [
        'an API version that is a flag',
        () => ['template', 'x', chart(), '--api-versions', '--x'],
        '--api-versions --x',
      ],
    ])('refuses %s', async (_what, args, refused) => {
      const run = await runProcess(shim, args(), { env })
      expect(run).toMatchObject({
        code: 1,
        stdout: '',
        stderr: `fleet-promote: helm ${refused.replace('TREE', tree)} is not allowed during a render\n`,
      })
      await expect(readFile(log, 'utf8')).rejects.toThrow('ENOENT')
    })

    it('and passes an allowed command line on unchanged', async () => {
      const args = [
        'template',
        'x',
        chart(),
        '--namespace',
        'web',
        '-f',
        `${tmp}/kustomize-helm-1/v.yaml`,
        '--include-crds',
      ]
      expect((await runProcess(shim, args, { env })).code).toBe(0)
      expect(await readFile(log, 'utf8')).toBe(`${args.join(' ')}\n`)
    })
  })
})
