// `fleet-promote report` from a plain local clone: no GitHub, no Argo CD; the
// WET branches come from the remote (a bare repository), the newest
// releases from a chart repository on 127.0.0.1.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { Git } from '../actions/lib/git/git.js'
import { runProcess } from '../actions/lib/process.js'
import type { FleetReport } from '../actions/lib/report/types.js'
import type { ChartRepo } from './support/chart-repo.js'
import { startGitHubSimulator } from './support/github/index.js'
import {
  createReportFleet,
  IDENTITY,
  startCertManagerRepo,
  unreachableUrl,
  type ReportFleet,
} from './support/report-fleet.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const tsx = join(root, 'node_modules', '.bin', 'tsx')

let scratch: string
let chartRepo: ChartRepo
let fleet: ReportFleet
let clone: string
let unreachable: string

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'fleet-promote-report-cli-'))
  chartRepo = await startCertManagerRepo()
  unreachable = await unreachableUrl()
  const remote = join(scratch, 'remote.git')
  await Git.init(remote, { bare: true })
  fleet = await createReportFleet({
    remote,
    chartRepoUrl: chartRepo.url,
    unreachableRepo: unreachable,
  })
  clone = join(scratch, 'clone')
  await Git.clone(remote, clone, { branch: 'main' })
})

afterAll(async () => {
  await fleet?.cleanup()
  await chartRepo?.close()
  await rm(scratch, { recursive: true, force: true })
})

function report(args: string[]) {
  return runProcess(tsx, ['actions/lib/cli/main.ts', 'report', '--repo', clone, ...args], {
    cwd: root,
    env: { ...process.env, ARGOCD_AUTH_TOKEN: '', FLEET_PROMOTE_GIT_TOKEN: '' },
  })
}

it('reports the inventory of every WET branch, the clusters behind the newest patch, and no drift', async () => {
  const run = await report(['--format', 'json'])
  expect(run.code, run.stderr).toBe(0)
  const result = JSON.parse(run.stdout) as FleetReport
  expect(result.dry).toEqual({ branch: 'main', sha: fleet.drySha })
  expect(result.environments.map((env) => env.name)).toEqual(
    fleet.environments.map((env) => env.name).sort(),
  )
  for (const env of result.environments) expect(env.wetSha).toBe(fleet.wetTips.get(env.branch))

  const cert = result.addons.find((addon) => addon.name === 'cert-manager')
  expect(cert).toMatchObject({
    kind: 'chart',
    repos: [chartRepo.url],
    latest: 'v1.17.2',
    releases: 'known',
  })
  expect(
    cert?.versions.map((v) => [
      v.version,
      v.environments.length,
      v.newest.patch,
      v.behindPatch,
      v.belowMinimum,
    ]),
  ).toEqual([
    ['v1.16.1', 7, 'v1.16.3', true, false],
    ['v1.15.4', 1, 'v1.15.5', true, true],
  ])
  expect(cert?.versions[1]?.environments).toEqual(['ap-prod-1'])
  // The version comes from the rendered helm.sh/chart label, and the images with it.
  const ap = result.environments.find((env) => env.name === 'ap-prod-1')
  expect(ap?.charts.find((c) => c.chart === 'cert-manager')).toMatchObject({
    version: 'v1.15.4',
    source: 'label',
    repo: chartRepo.url,
  })
  expect(ap?.images).toContainEqual(
    expect.objectContaining({
      addon: 'cert-manager',
      repository: 'quay.io/jetstack/cert-manager-controller',
      tag: 'v1.15.4',
    }),
  )
  // The vendored ingress-nginx chart: version from its Chart.yaml; its release repository does not answer.
  expect(result.addons.find((a) => a.name === 'ingress-nginx')).toMatchObject({
    releases: 'unreachable',
    versions: [{ version: '4.11.3' }],
  })
  expect(result.warnings).toContainEqual(
    expect.stringMatching(
      new RegExp(
        `^ingress-nginx: newest releases unknown: cannot reach ${unreachable}/index\\.yaml`,
      ),
    ),
  )
  expect(result.warnings).toContain('Argo CD not read: ARGOCD_AUTH_TOKEN is not set')
  expect(result.drift).toEqual([])
  expect(result.totals).toMatchObject({ environments: 8, behindPatch: 8, belowMinimum: 1 })
})

it('sees a hand-pushed WET branch as drift, names the fix, and fails with --fail-on drift', async () => {
  const author = new Git(clone, { env: IDENTITY })
  await author.run(['fetch', '--quiet', 'origin', 'env/eu-prod-1'])
  await author.run(['checkout', '--quiet', '-B', 'hotfix', 'FETCH_HEAD'])
  const { writeFile, readFile } = await import('node:fs/promises')
  const manifest = join(clone, 'manifest.yaml')
  await writeFile(
    manifest,
    (await readFile(manifest, 'utf8')).replace('replicas: 2', 'replicas: 5'),
  )
  await author.run(['-c', 'commit.gpgsign=false', 'commit', '--quiet', '-am', 'scale by hand'])
  await author.run(['push', '--quiet', 'origin', 'HEAD:refs/heads/env/eu-prod-1'])
  await author.run(['checkout', '--quiet', 'main'])

  const run = await report(['--fail-on', 'drift'])
  expect(run.code).toBe(1)
  expect(run.stderr).toContain('fleet-promote report: 1 drift finding')
  expect(run.stdout).toMatch(/^cert-manager\s+v1\.16\.1\s+7 \(/m)
  expect(run.stdout).toMatch(
    /^cert-manager\s+v1\.15\.4\s+1 \(ap-prod-1\)\s+v1\.15\.5\s+BELOW MINIMUM$/m,
  )
  expect(run.stdout).toContain('wet eu-prod-1: 1 changed compared with the render of main')
  expect(run.stdout).toContain('changed by hand')
  expect(run.stdout).toContain(
    'fix: fleet-promote render --env clusters/prod-eu/eu-prod-1 --remote origin --push',
  )

  // The fix it names, run as printed from the clone, ends the drift.
  const fix = await runProcess(
    tsx,
    [
      'actions/lib/cli/main.ts',
      'render',
      '--repo',
      clone,
      '--env',
      'clusters/prod-eu/eu-prod-1',
      '--remote',
      'origin',
      '--push',
    ],
    { cwd: root },
  )
  expect(fix.code, fix.stderr).toBe(0)
  expect(fix.stderr).toMatch(/^pushed [0-9a-f]{7} \(render of [0-9a-f]{7}\) to env\/eu-prod-1$/m)
  const after = await report(['--fail-on', 'drift'])
  expect(after.code, after.stdout).toBe(0)
  expect(after.stdout).toContain('drift: 0 WET, 0 Argo CD, 0 orphaned')
  // The repair is a new commit on top of the hand commit, which stays in the history.
  const git = new Git(clone)
  const tip = (await git.lsRemote('origin', ['refs/heads/env/eu-prod-1'])).get(
    'refs/heads/env/eu-prod-1',
  )
  expect(await git.run(['log', '--format=%s', '-2', tip ?? ''])).toBe(
    'fleet-promote: render eu-prod-1\nscale by hand\n',
  )
})

it('--local reads only the refs already in the clone', async () => {
  const run = await report(['--local', '--skip-render', '--format', 'json'])
  expect(run.code, run.stderr).toBe(0)
  const result = JSON.parse(run.stdout) as FleetReport
  // The clone fetched the WET branches into refs/remotes/origin during the earlier runs.
  expect(result.environments.every((env) => env.wetSha !== '')).toBe(true)
  expect(result.drift).toEqual([])
})

it('a remote that asks for credentials names FLEET_PROMOTE_GIT_TOKEN', async () => {
  const gh = await startGitHubSimulator()
  try {
    await gh.createRepo('acme/fleet')
    await new Git(clone).run(['remote', 'add', 'locked', gh.remoteUrl('acme/fleet')])
    const run = await report(['--remote', 'locked'])
    expect(run.code).toBe(1)
    const host = new URL(gh.remoteUrl('acme/fleet')).origin
    expect(run.stderr).toBe(
      `fleet-promote report: git ls-remote: the remote asks for credentials git does not have (fatal: ` +
        `could not read Username for '${host}': terminal prompts disabled): set FLEET_PROMOTE_GIT_TOKEN ` +
        `to a token that can read the repository of --remote locked (sent to ${host} only, as hydrate's ` +
        '`token` input), or give git a credential helper (`gh auth setup-git`)\n',
    )
  } finally {
    await new Git(clone).run(['remote', 'remove', 'locked'])
    await gh.stop()
  }
})

it('refuses a bad option with a usage hint', async () => {
  const run = await report(['--fail-on', 'sometimes'])
  expect(run.code).toBe(1)
  expect(run.stderr).toContain(
    '--fail-on: unknown value "sometimes"; use drift, below-minimum, behind-patch or none',
  )
})
