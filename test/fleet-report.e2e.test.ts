// The fleet-report bundle, run as the runner runs it, against the GitHub and
// Argo CD simulators and a chart repository on 127.0.0.1 that serves newer
// cert-manager releases than the fleet deploys. First run: the inventory of
// every WET branch, the clusters behind the newest patch, no drift, the
// dashboard issue opened. Then each kind of drift is injected, and the second
// run names each with its fix and updates the same issue in place.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createArgoCdClient } from '../actions/lib/argocd/client.js'
import { Git } from '../actions/lib/git/git.js'
import { DASHBOARD_MARKER } from '../actions/lib/report/markdown.js'
import type { FleetReport } from '../actions/lib/report/types.js'
import { startArgoCdSimulator, type ArgoCdSimulator } from './support/argocd/index.js'
import type { ChartRepo } from './support/chart-repo.js'
import { actionBundles, type ActionBundles } from './support/bundles.js'
import { startGitHubSimulator, type GitHubSimulator } from './support/github/index.js'
import {
  createReportFleet,
  IDENTITY,
  startCertManagerRepo,
  unreachableUrl,
  type ReportFleet,
} from './support/report-fleet.js'
import { runAction } from './support/runner.js'

const REPO = 'acme/fleet'
const BOT = 'fleet-bot[bot]'

let gh: GitHubSimulator
let argocd: ArgoCdSimulator
let chartRepo: ChartRepo
let fleet: ReportFleet
let scratch: string
let botToken: string
let unreachable: string
let bundles: ActionBundles | undefined

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'fleet-promote-report-e2e-'))
  bundles = await actionBundles(['fleet-report'])
  gh = await startGitHubSimulator()
  argocd = await startArgoCdSimulator()
  chartRepo = await startCertManagerRepo()
  unreachable = await unreachableUrl()
  await gh.createRepo(REPO)
  botToken = gh.addUser(BOT, { type: 'Bot' }).token
  gh.setPermission(REPO, BOT, 'write')
  fleet = await createReportFleet({
    remote: gh.remoteUrl(REPO),
    token: gh.adminToken,
    serverUrl: gh.serverUrl,
    chartRepoUrl: chartRepo.url,
    unreachableRepo: unreachable,
  })
  await gh.refreshRefs(REPO)
  argocd.resolveRevision = (revision) =>
    /^[0-9a-f]{40}$/.test(revision)
      ? revision
      : (gh.state.refSha(REPO, `refs/heads/${revision}`) ?? '0'.repeat(40))
  for (const env of fleet.environments) {
    await argocd.addApplication({
      name: `${env.name}-addons`,
      repoURL: `${gh.serverUrl}/${REPO}`,
      path: '.',
      targetRevision: env.branch,
    })
  }
})

afterAll(async () => {
  await fleet?.cleanup()
  await bundles?.cleanup()
  await chartRepo?.close()
  await argocd?.stop()
  await gh?.stop()
  await rm(scratch, { recursive: true, force: true })
})

function runReport(inputs: Record<string, string> = {}) {
  return runAction('fleet-report', {
    github: gh,
    distDir: bundles?.distDir,
    eventName: 'schedule',
    event: {
      schedule: '17 6 * * *',
      repository: { full_name: REPO, default_branch: 'main', owner: { login: 'acme' } },
    },
    inputs: {
      token: botToken,
      'argocd-token': argocd.token,
      'argocd-server': argocd.url,
      ...inputs,
    },
    checkout: { depth: 0 },
  })
}

function dashboards() {
  return gh.state
    .issues(REPO)
    .filter((issue) => !issue.isPullRequest && (issue.body ?? '').startsWith(DASHBOARD_MARKER))
}

let firstBody = ''

it('first run: the inventory of every WET branch, who is behind the newest patch, no drift, one dashboard issue', async () => {
  const run = await runReport()
  try {
    expect(run.exitCode, run.stderr + run.stdout).toBe(0)
    const report = JSON.parse(run.outputs.report ?? '{}') as FleetReport
    // What each WET branch holds, read from its tip.
    expect(report.environments.map((env) => [env.name, env.wetSha])).toEqual(
      fleet.environments
        .map((env) => [env.name, gh.state.refSha(REPO, `refs/heads/${env.branch}`)])
        .sort(([a], [b]) => String(a).localeCompare(String(b))),
    )
    const cert = report.addons.find((addon) => addon.name === 'cert-manager')
    expect(cert?.versions.map((v) => [v.version, v.environments, v.newest.patch])).toEqual([
      [
        'v1.16.1',
        ['eu-prod-1', 'eu-prod-2', 'eu-test-1', 'sdbx-eu1', 'us-prod-1', 'us-prod-2', 'us-test-1'],
        'v1.16.3',
      ],
      ['v1.15.4', ['ap-prod-1'], 'v1.15.5'],
    ])
    expect(report.behind.filter((b) => b.belowMinimum).map((b) => b.environment)).toEqual([
      'ap-prod-1',
    ])
    expect(run.outputs['behind-patch']).toBe('8')
    expect(run.outputs['below-minimum']).toBe('1')
    expect(report.drift).toEqual([])
    expect(run.outputs.drift).toBe('0')
    // The unreachable repository of one chart is a warning for that chart; the run succeeds.
    expect(
      run.annotations.filter((a) => a.level === 'warning').map((a) => a.message),
    ).toContainEqual(
      expect.stringMatching(
        /^ingress-nginx: newest releases unknown: cannot reach http:\/\/127\.0\.0\.1:\d+\/index\.yaml/,
      ),
    )
    expect(run.summary).toContain('### cert-manager')
    expect(run.summary).toContain('```mermaid')

    const issues = dashboards()
    expect(issues).toHaveLength(1)
    expect(issues[0]).toMatchObject({
      user: BOT,
      state: 'open',
      title: 'fleet-promote dashboard',
      labels: ['fleet-promote'],
    })
    expect(run.outputs['issue-url']).toBe(`${gh.serverUrl}/${REPO}/issues/${issues[0]?.number}`)
    firstBody = issues[0]?.body ?? ''
    expect(firstBody).toContain(
      '| `v1.15.4` | 1: ap-prod-1 | `v1.15.5` | `v1.17.2` | 🔴 below the minimum v1.16.0 |',
    )
    expect(JSON.parse(await readFile(run.outputs['report-file'] ?? '', 'utf8'))).toEqual(report)
  } finally {
    await run.cleanup()
  }
  expect(gh.validationErrors).toEqual([])
  expect(argocd.validationErrors).toEqual([])
})

it('second run: each kind of drift with its fix, the same issue updated in place', async () => {
  const admin = await Git.clone(gh.remoteUrl(REPO), join(scratch, 'admin'), {
    token: gh.adminToken,
    env: IDENTITY,
  })
  // (a) someone scales eu-prod-1 by hand on its WET branch.
  await admin.run(['fetch', '--quiet', 'origin', 'env/eu-prod-1'])
  await admin.run(['checkout', '--quiet', '-B', 'edit', 'FETCH_HEAD'])
  const manifest = join(admin.dir, 'manifest.yaml')
  await writeFile(
    manifest,
    (await readFile(manifest, 'utf8')).replace('replicas: 2', 'replicas: 5'),
  )
  await admin.run(['-c', 'commit.gpgsign=false', 'commit', '--quiet', '-am', 'scale by hand'])
  await admin.run(['push', '--quiet', 'origin', 'HEAD:refs/heads/env/eu-prod-1'])
  // (c) eu-prod-2 runs the child branch of a parent that was closed; ap-prod-1 one whose branch is gone;
  //     us-test-1 the child branch of an open parent (a promotion, not drift).
  for (const branch of ['feature', 'other']) {
    await admin.run(['checkout', '--quiet', '-B', branch, 'origin/main'])
    await admin.run([
      '-c',
      'commit.gpgsign=false',
      'commit',
      '--quiet',
      '--allow-empty',
      '-m',
      branch,
    ])
  }
  await admin.run(['push', '--quiet', 'origin', 'feature', 'other'])
  await gh.refreshRefs(REPO)
  const closed = await gh.openPullRequest(REPO, {
    head: 'feature',
    base: 'main',
    title: 'bump',
    user: gh.adminLogin,
  })
  await gh.closePullRequestAsUser(REPO, closed.number, gh.adminLogin)
  const open = await gh.openPullRequest(REPO, {
    head: 'other',
    base: 'main',
    title: 'other',
    user: gh.adminLogin,
  })
  await admin.run([
    'push',
    '--quiet',
    'origin',
    `main:refs/heads/fleet-promote/pr-${closed.number}/eu-prod-2`,
    `main:refs/heads/fleet-promote/pr-${open.number}/us-test-1`,
  ])
  await gh.refreshRefs(REPO)
  // Argo CD is changed through its API, as `argocd app set` and `argocd app sync` would.
  const client = createArgoCdClient({ server: argocd.url, token: argocd.token })
  await client.setTargetRevision('eu-prod-2-addons', `fleet-promote/pr-${closed.number}/eu-prod-2`)
  await client.setTargetRevision('ap-prod-1-addons', 'fleet-promote/pr-999/ap-prod-1')
  await client.setTargetRevision('us-test-1-addons', `fleet-promote/pr-${open.number}/us-test-1`)
  // (b) us-prod-1 follows another branch, us-prod-2 turns Degraded and eu-test-1 OutOfSync after a sync.
  await client.setTargetRevision('us-prod-1-addons', 'hotfix')
  argocd.script('us-prod-2-addons', [{ health: 'Degraded', message: 'CrashLoopBackOff' }])
  argocd.script('eu-test-1-addons', [{ sync: 'OutOfSync' }])
  for (const name of [
    'eu-prod-2-addons',
    'ap-prod-1-addons',
    'us-test-1-addons',
    'us-prod-1-addons',
    'us-prod-2-addons',
    'eu-test-1-addons',
  ]) {
    await client.sync(name)
    // The simulator moves an Application through its script as it is read, like time passing.
    for (let i = 0; i < 3; i++) await client.getApplication(name)
  }

  const run = await runReport({ 'fail-on': 'drift' })
  try {
    expect(run.exitCode, run.stdout).toBe(1)
    expect(run.annotations.filter((a) => a.level === 'error').map((a) => a.message)).toContainEqual(
      expect.stringMatching(/^fleet report: \d+ drift findings \(fail-on\)$/),
    )
    const report = JSON.parse(run.outputs.report ?? '{}') as FleetReport
    const byKey = new Map(
      report.drift.map((finding) => [`${finding.kind} ${finding.environment}`, finding]),
    )
    expect([...byKey.keys()].sort()).toEqual([
      'argocd eu-prod-1',
      'argocd eu-test-1',
      'argocd us-prod-1',
      'argocd us-prod-2',
      'orphaned ap-prod-1',
      'orphaned eu-prod-2',
      'wet eu-prod-1',
    ])
    expect(byKey.get('wet eu-prod-1')).toMatchObject({
      problems: [
        expect.stringMatching(
          /^1 changed compared with the render of main [0-9a-f]{7} \(changed Deployment\/cert-manager\/cert-manager\)$/,
        ),
        expect.stringContaining('changed by hand'),
      ],
      command: 'fleet-promote render --env clusters/prod-eu/eu-prod-1 --remote origin --push',
    })
    // Argo CD still runs the tip from before the hand edit.
    expect(byKey.get('argocd eu-prod-1')?.command).toBe(
      'argocd app sync eu-prod-1-addons --revision env/eu-prod-1',
    )
    expect(byKey.get('argocd us-prod-1')).toMatchObject({
      problems: ['us-prod-1-addons targets hotfix, not its WET branch env/us-prod-1'],
      command: 'argocd app set us-prod-1-addons --revision env/us-prod-1',
      link: { url: `${argocd.url}/applications/us-prod-1-addons` },
    })
    expect(byKey.get('argocd us-prod-2')?.problems).toEqual([
      expect.stringMatching(/^us-prod-2-addons is Degraded: .*Degraded: CrashLoopBackOff$/),
    ])
    expect(byKey.get('argocd eu-test-1')).toMatchObject({
      problems: ['eu-test-1-addons is OutOfSync'],
      command: 'argocd app sync eu-test-1-addons',
    })
    expect(byKey.get('orphaned eu-prod-2')).toMatchObject({
      problems: [
        `eu-prod-2-addons runs fleet-promote/pr-${closed.number}/eu-prod-2, but parent #${closed.number} is closed`,
      ],
      command: 'argocd app set eu-prod-2-addons --revision env/eu-prod-2',
      link: { url: `${gh.serverUrl}/${REPO}/pull/${closed.number}` },
    })
    expect(byKey.get('orphaned ap-prod-1')?.problems).toEqual([
      'ap-prod-1-addons runs fleet-promote/pr-999/ap-prod-1, but branch fleet-promote/pr-999/ap-prod-1 no longer exists',
    ])
    expect(report.promotions).toEqual([
      {
        environment: 'us-test-1',
        application: 'us-test-1-addons',
        parent: open.number,
        branch: `fleet-promote/pr-${open.number}/us-test-1`,
      },
    ])

    // The same issue, updated in place: no second issue, no comment.
    const issues = dashboards()
    expect(issues).toHaveLength(1)
    expect(run.outputs['issue-url']).toBe(`${gh.serverUrl}/${REPO}/issues/${issues[0]?.number}`)
    expect(gh.state.comments(REPO, issues[0]?.number)).toEqual([])
    const body = issues[0]?.body ?? ''
    expect(body).not.toBe(firstBody)
    expect(body).toContain('### WET branch is not the render of the DRY branch (1)')
    expect(body).toContain('### Argo CD does not run the WET branch tip (4)')
    expect(body).toContain('### Application on the child branch of a closed or deleted parent (2)')
    expect(body).toContain('`argocd app set eu-prod-2-addons --revision env/eu-prod-2`')
  } finally {
    await run.cleanup()
  }
  expect(gh.validationErrors).toEqual([])
  expect(argocd.validationErrors).toEqual([])
})

it('a marker pasted into someone else’s issue is never adopted or edited', async () => {
  const mallory = gh.addUser('mallory')
  gh.setPermission(REPO, 'mallory', 'write')
  const before = dashboards()
  const { issue } = { issue: before[0] }
  // A writer opens an issue that starts with the marker: it is not the suite's.
  await fetch(`${gh.apiUrl}/repos/${REPO}/issues`, {
    method: 'POST',
    headers: { authorization: `token ${mallory.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'fleet-promote dashboard', body: `${DASHBOARD_MARKER}\nfake` }),
  })
  const run = await runReport()
  try {
    expect(run.exitCode, run.stdout).toBe(0)
    const fake = gh.state.issues(REPO).find((i) => i.user === 'mallory')
    expect(fake?.body).toBe(`${DASHBOARD_MARKER}\nfake`)
    expect(run.outputs['issue-url']).toBe(`${gh.serverUrl}/${REPO}/issues/${issue?.number}`)
  } finally {
    await run.cleanup()
  }
})
