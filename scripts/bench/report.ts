// Benchmark: the fleet report for 500 environments. A generated fleet (500
// clusters in 10 groups; cert-manager from a chart repository on 127.0.0.1,
// an older minor on two groups; external-dns and a per-cluster ConfigMap as
// plain kustomize), every WET branch rendered and pushed to the GitHub
// simulator, one Argo CD Application per cluster. Then the fleet-report bundle
// runs as the runner runs it (drift render included) and, from a plain clone,
// `fleet-promote report`. Counts REST calls, git smart-HTTP requests, Argo CD
// requests and chart index downloads. Writes the `## report` section of
// BENCHMARKS.md.
//   npx tsx scripts/bench/report.ts [--envs 500] [--no-write]
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { discoverEnvironments, parseConfig } from '../../actions/lib/config/config.js'
import { Git } from '../../actions/lib/git/git.js'
import { runChecked, runProcess } from '../../actions/lib/process.js'
import { hydrate } from '../../actions/lib/render/hydrate.js'
import type { FleetReport } from '../../actions/lib/report/types.js'
import { startArgoCdSimulator } from '../../test/support/argocd/index.js'
import { createTempRepo, type FileChanges } from '../../test/support/fleet-gen.js'
import { publishRender } from '../../test/fixtures/render/wet-branch.js'
import { startGitHubSimulator } from '../../test/support/github/index.js'
import { startCertManagerRepo } from '../../test/support/report-fleet.js'
import { runAction } from '../../test/support/runner.js'
import { writeBenchmarkSection } from './lib/benchmarks-md.js'
import { machineLine } from './lib/measure.js'

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)))
const { values: flags } = parseArgs({
  options: { envs: { type: 'string' }, 'no-write': { type: 'boolean' } },
})
const ENVS = Number(flags.envs ?? 500)
const GROUPS = 10
const REPO = 'acme/fleet'

const toolPath = (
  await runChecked('bash', [join(root, 'scripts/install-tools.sh'), '--path'], { cwd: root })
).stdout.trim()
process.env.PATH = `${toolPath}${delimiter}${process.env.PATH ?? ''}`
process.env.FLEET_PROMOTE_WRITE_INTERVAL_MS = '0'

function certManager(repo: string, version: string): string {
  return `namespace: cert-manager\nresources:\n  - namespace.yaml\nhelmCharts:\n  - name: cert-manager\n    repo: ${repo}\n    version: ${version}\n    releaseName: cert-manager\n    namespace: cert-manager\n    valuesFile: values.yaml\n    includeCRDs: true\n`
}

function fleetFiles(chartRepo: string): FileChanges {
  const files: FileChanges = {
    'fleet-promote.yaml': [
      'version: 1',
      'environments:',
      '  - glob: clusters/*/*',
      "    name: '{2}'",
      'stages:',
      '  - name: production',
      'hydrate:',
      `  helm: { allowedRepos: ['${chartRepo}'] }`,
      'deploy:',
      '  backend: argocd',
      "  argocd: { server: 'https://argocd.example.com', application: '{name}-addons' }",
      'report:',
      '  minimumVersions: [{ chart: cert-manager, version: v1.16.0, reason: CVE-2024-12345 }]',
      '',
    ].join('\n'),
    'components/cert-manager/kustomization.yaml': certManager(chartRepo, 'v1.16.1'),
    'components/cert-manager/namespace.yaml':
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cert-manager\n',
    'components/cert-manager/values.yaml': 'replicaCount: 2\n',
    'components/cert-manager-lts/kustomization.yaml': certManager(chartRepo, 'v1.15.4'),
    'components/cert-manager-lts/namespace.yaml':
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cert-manager\n',
    'components/cert-manager-lts/values.yaml': 'replicaCount: 2\n',
    'components/external-dns/kustomization.yaml':
      'namespace: external-dns\nresources:\n  - deployment.yaml\n',
    'components/external-dns/deployment.yaml': [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata:',
      '  name: external-dns',
      'spec:',
      '  selector: { matchLabels: { app: external-dns } }',
      '  template:',
      '    metadata: { labels: { app: external-dns } }',
      '    spec:',
      '      containers:',
      '        - name: external-dns',
      '          image: registry.k8s.io/external-dns/external-dns:v0.15.0',
      '',
    ].join('\n'),
  }
  for (let i = 0; i < ENVS; i++) {
    const group = i % GROUPS
    const name = `c${String(i).padStart(3, '0')}-g${group}`
    files[`clusters/g${group}/${name}/kustomization.yaml`] = [
      'resources:',
      `  - ../../../components/${group < 2 ? 'cert-manager-lts' : 'cert-manager'}`,
      '  - ../../../components/external-dns',
      'configMapGenerator:',
      '  - name: cluster-info',
      '    namespace: kube-system',
      `    literals: [cluster=${name}, group=g${group}]`,
      'generatorOptions: { disableNameSuffixHash: true }',
      '',
    ].join('\n')
  }
  return files
}

const work = await mkdtemp(join(tmpdir(), 'fleet-promote-bench-report-'))
const chartRepo = await startCertManagerRepo()
const gh = await startGitHubSimulator({ validate: false })
const argocd = await startArgoCdSimulator({ validate: false })
try {
  // Setup (not measured): the fleet, its WET branches, the Applications.
  const setupStart = performance.now()
  await gh.createRepo(REPO)
  const bot = gh.addUser('fleet-bot[bot]', { type: 'Bot' })
  gh.setPermission(REPO, 'fleet-bot[bot]', 'write')
  const files = fleetFiles(chartRepo.url)
  const repo = await createTempRepo('fleet-promote-bench-report-repo-')
  await repo.commit(files, 'fleet')
  const git = new Git(repo.dir, { token: gh.adminToken, serverUrl: gh.serverUrl })
  const config = parseConfig(files['fleet-promote.yaml'] ?? '', 'fleet-promote.yaml')
  const environments = discoverEnvironments(config, await git.listFiles('HEAD'))
  const out = join(work, 'seed')
  const { result } = await hydrate({
    repoDir: repo.dir,
    environments,
    outputDir: out,
    settings: config.hydrate,
  })
  const failed = result.environments.find((env) => env.status !== 'rendered')
  if (failed) throw new Error(`seed render of ${failed.name} failed: ${failed.reason}`)
  for (const env of result.environments)
    await publishRender(git, env.branch, join(out, env.outputDir))
  await git.run(['remote', 'add', 'origin', gh.remoteUrl(REPO)])
  await git.push('origin', ['+refs/heads/*:refs/heads/*'])
  await gh.refreshRefs(REPO)
  argocd.resolveRevision = (revision) =>
    /^[0-9a-f]{40}$/.test(revision)
      ? revision
      : (gh.state.refSha(REPO, `refs/heads/${revision}`) ?? '0'.repeat(40))
  for (const env of environments) {
    await argocd.addApplication({
      name: `${env.name}-addons`,
      repoURL: `${gh.serverUrl}/${REPO}`,
      path: '.',
      targetRevision: env.branch,
    })
  }
  const setupMs = performance.now() - setupStart

  // The action, as the runner runs it, in a workspace checked out beforehand (actions/checkout, fetch-depth 0).
  const workspace = join(work, 'workspace')
  await Git.clone(gh.remoteUrl(REPO), workspace, { token: gh.adminToken })
  gh.resetRequests()
  argocd.requests.length = 0
  const downloadsBefore = chartRepo.totalDownloads()
  const actionStart = performance.now()
  const run = await runAction('fleet-report', {
    github: gh,
    eventName: 'schedule',
    event: {
      schedule: '17 6 * * *',
      repository: { full_name: REPO, default_branch: 'main', owner: { login: 'acme' } },
    },
    inputs: { token: bot.token, 'argocd-token': argocd.token, 'argocd-server': argocd.url },
    workspace,
    timeoutMs: 1_800_000,
  })
  const actionMs = performance.now() - actionStart
  if (run.exitCode !== 0) throw new Error(`fleet-report failed:\n${run.stdout.slice(-3000)}`)
  const report = JSON.parse(run.outputs.report ?? '{}') as FleetReport
  const routes = gh.routeCounts()
  const isGit = (route: string) => route.includes('.git/')
  const restCalls = Object.entries(routes).filter(([route]) => !isGit(route))
  const gitRequests = Object.entries(routes).filter(([route]) => isGit(route))
  const sum = (entries: [string, number][]) => entries.reduce((total, [, n]) => total + n, 0)
  const phases = /phases (\{[^}]*\})/.exec(run.stdout)?.[1] ?? '{}'
  const argocdRequests = argocd.requests.length
  const indexDownloads = chartRepo.totalDownloads() - downloadsBefore
  const issueBytes = gh.state.issues(REPO).find((issue) => !issue.isPullRequest)?.body?.length ?? 0
  const outputBytes = (run.outputs.report ?? '').length
  await run.cleanup()

  // The CLI from a plain clone (no GitHub API; Argo CD through ARGOCD_AUTH_TOKEN).
  const clone = await Git.clone(gh.remoteUrl(REPO), join(work, 'clone'), { token: gh.adminToken })
  // git runs with a minimal environment: the clone's own config carries the credential, as a user's would.
  await clone.run([
    'config',
    'http.extraheader',
    `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${gh.adminToken}`).toString('base64')}`,
  ])
  const cliEnv = { ...process.env, ARGOCD_AUTH_TOKEN: argocd.token }
  /** One `fleet-promote report` run from the clone, with what it cost. */
  const cliRun = async (extra: string[]) => {
    gh.resetRequests()
    argocd.requests.length = 0
    const downloads = chartRepo.totalDownloads()
    const started = performance.now()
    const result = await runProcess(
      'node',
      [
        join(root, 'dist/cli/index.js'),
        'report',
        '--repo',
        clone.dir,
        '--argocd-server',
        argocd.url,
        '--format',
        'json',
        ...extra,
      ],
      { cwd: root, env: cliEnv },
    )
    const ms = performance.now() - started
    if (result.code !== 0)
      throw new Error(`fleet-promote report ${extra.join(' ')} failed:\n${result.stderr}`)
    const counts = Object.entries(gh.routeCounts())
    return {
      ms,
      rest: sum(counts.filter(([route]) => !isGit(route))),
      git: sum(counts.filter(([route]) => isGit(route))),
      argocd: argocd.requests.length,
      downloads: chartRepo.totalDownloads() - downloads,
    }
  }
  const cli = await cliRun([])
  const quick = await cliRun(['--skip-render'])

  const cert = report.addons.find((addon) => addon.name === 'cert-manager')
  const section = [
    '## report',
    '',
    `${ENVS} environments in ${GROUPS} groups: cert-manager from a chart repository on 127.0.0.1 (v1.16.1, v1.15.4 on`,
    'two groups), external-dns and a per-cluster ConfigMap as plain kustomize; every WET branch pushed to the',
    'GitHub simulator, one Argo CD Application per cluster in the Argo CD simulator. The fleet-report bundle runs',
    'as the runner runs it, with the drift render of every environment; then `fleet-promote report` from a clone.',
    '',
    '| | fleet-report action | `fleet-promote report` (clone) |',
    '| --- | --- | --- |',
    `| wall time | ${(actionMs / 1000).toFixed(1)} s | ${(cli.ms / 1000).toFixed(1)} s (${(quick.ms / 1000).toFixed(1)} s with \`--skip-render\`) |`,
    `| REST calls | ${sum(restCalls)} (${restCalls.map(([route, n]) => `${n} ${route}`).join(', ')}) | ${cli.rest} |`,
    `| git smart-HTTP requests | ${sum(gitRequests)} (one ls-remote and one fetch, protocol v2: ${gitRequests.map(([route, n]) => `${n} ${route.replace('/{owner}/{repo}.git/', '')}`).join(', ')}) | ${cli.git} |`,
    `| Argo CD requests | ${argocdRequests} | ${cli.argocd} |`,
    `| chart archives pulled by the drift render | ${indexDownloads} | ${cli.downloads} |`,
    '',
    `- Report: ${report.totals.environments} environments, ${report.totals.addons} add-ons, ${report.totals.behindPatch} clusters behind the newest patch, ${report.totals.belowMinimum} below the minimum; cert-manager ${cert?.versions.map((v) => `${v.version} on ${v.environments.length}`).join(', ')}; ${report.drift.length} drift findings.`,
    `- Phases of the action (ms): ${phases}. The render of ${ENVS} environments for the WET drift check is most of it; \`render: false\` skips it.`,
    `- Sizes: dashboard issue body ${issueBytes} characters (GitHub's limit 65,536), \`report\` output ${(outputBytes / 1024).toFixed(0)} KiB (limit 1 MiB).`,
    `- Per environment, the naive way would be ${ENVS} Git-data reads of the WET tips (≥ 2 REST calls each) and ${ENVS} Argo CD GETs.`,
    `- Setup (fleet, seed render, push, Applications; not measured): ${(setupMs / 1000).toFixed(1)} s.`,
    `- Machine: ${await machineLine()}.`,
    `- Command: \`npm run bench -- report\` (or \`npx tsx scripts/bench/report.ts\`), ${new Date().toISOString().slice(0, 10)}.`,
    '',
  ].join('\n')
  process.stdout.write(`${section}\n`)
  if (!flags['no-write']) await writeBenchmarkSection(root, 'report', section)
} finally {
  await argocd.stop()
  await gh.stop()
  await chartRepo.close()
  await rm(work, { recursive: true, force: true })
}
