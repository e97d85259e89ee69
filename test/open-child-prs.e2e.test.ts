// End to end on the GitHub simulator with the real bundles, git, kustomize:
// detect-impact → hydrate → open-child-prs, as one job of the pull_request
// workflow, on a generated fleet of 10 clusters in 2 stages.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Git } from '../actions/lib/git/git.js'
import type { HydrationResult } from '../actions/lib/hydration-types.js'
import { SUMMARY_MARKER } from '../actions/open-child-prs/summary.js'
import { actionBundles, type ActionBundles } from './support/bundles.js'
import { generateFleet } from './support/fleet-gen.js'
import { isWrite, startGitHubSimulator, type GitHubSimulator } from './support/github/index.js'
import { runAction } from './support/runner.js'
import { IDENTITY, REPO } from './fixtures/child-prs/repo.js'
import { writeBranch } from './fixtures/render/wet-branch.js'

const ACTIONS = ['detect-impact', 'hydrate', 'open-child-prs']
const CLUSTERS = Array.from({ length: 10 }, (_, k) => `cluster-${String(k).padStart(4, '0')}`)
const TESTING = CLUSTERS.slice(0, 3)

let scratch: string
let bundles: ActionBundles | undefined
let distDir: string
let gh: GitHubSimulator
let author: Git
let parent: number

const CONFIG = [
  'version: 1',
  'environments:',
  '  - glob: clusters/*/*',
  '    name: "{2}"',
  '    branch: "env/{name}"',
  'stages:',
  '  - name: testing',
  '    match: ["cluster-000[0-2]"]',
  '    autoPromote: true',
  '  - name: production',
  '    match: ["*"]',
  '    requires: [testing]',
  '',
].join('\n')

async function commitAndPush(files: Record<string, string | null>, ref: string) {
  for (const [path, content] of Object.entries(files)) {
    const { mkdir, writeFile } = await import('node:fs/promises')
    const file = join(author.dir, path)
    if (content === null) await rm(file, { force: true })
    else {
      await mkdir(join(file, '..'), { recursive: true })
      await writeFile(file, content)
    }
  }
  await author.run(['add', '-A'])
  await author.run(['commit', '-qm', `change ${ref}`])
  await author.run(['push', '-qf', 'origin', `HEAD:${ref}`])
  await gh.refreshRefs(REPO)
  return author.revParse('HEAD')
}

/** One run of the pull_request job: detect-impact → hydrate → open-child-prs in one workspace. */
async function runWorkflow(extra: Record<string, string> = {}) {
  const event = gh.pullRequestEvent(REPO, parent, 'synchronize')
  const workspace = await mkdtemp(join(scratch, 'ws-'))
  const common = { github: gh, eventName: 'pull_request', event, distDir, workspace }
  const detect = await runAction('detect-impact', {
    ...common,
    checkout: { depth: 0 },
    inputs: { 'shard-size': '10', config: 'fleet-promote.yaml' },
  })
  expect(detect.exitCode, detect.stdout + detect.stderr).toBe(0)
  const rendered = join(workspace, '..', `${workspace.split('/').pop()}-rendered`)
  const hydrate = await runAction('hydrate', {
    ...common,
    inputs: { environments: detect.outputs.environments ?? '[]', 'output-dir': rendered },
  })
  expect(hydrate.exitCode, hydrate.stdout + hydrate.stderr).toBe(0)
  const open = await runAction('open-child-prs', {
    ...common,
    inputs: {
      token: gh.adminToken,
      'rendered-dir': rendered,
      result: hydrate.outputs.result ?? '',
      ...extra,
    },
  })
  return { detect, hydrate, open, rendered }
}

/** generateFleet's addon-000 deployment with another image tag. */
function addonDeployment(tag: string): string {
  return [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    '  name: addon-000',
    'spec:',
    '  replicas: 1',
    '  selector:',
    '    matchLabels: { app: addon-000 }',
    '  template:',
    '    metadata: { labels: { app: addon-000 } }',
    '    spec:',
    `      containers: [{ name: main, image: "registry.example.com/addon-000:${tag}" }]`,
    '',
  ].join('\n')
}

function children() {
  return gh.state
    .pulls(REPO)
    .filter((p) => p.headRef.startsWith(`fleet-promote/pr-${parent}/`))
    .sort((a, b) => a.headRef.localeCompare(b.headRef))
}

function writes() {
  return gh.requests.filter((r) => !r.route.includes('.git/') && isWrite(r))
}

function pushes() {
  return gh.requests.filter((r) => r.route.includes('git-receive-pack') && r.method === 'POST')
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'open-child-prs-e2e-'))
  bundles = await actionBundles(ACTIONS)
  distDir = bundles.distDir
  gh = await startGitHubSimulator()
  await gh.createRepo(REPO)
  gh.setPermission(REPO, gh.adminLogin, 'admin')
  author = await Git.clone(gh.remoteUrl(REPO), join(scratch, 'author'), {
    token: gh.adminToken,
    env: IDENTITY,
  })
  const fleet = generateFleet({ clusters: 10, components: 3, componentsPerCluster: 1 })
  await commitAndPush({ ...fleet, 'fleet-promote.yaml': CONFIG }, 'refs/heads/main')

  // WET branches hold the render of main (hydrate of every environment, published as is).
  const seedWorkspace = await mkdtemp(join(scratch, 'seed-'))
  const environments = CLUSTERS.map((name, k) => ({
    name,
    path: `clusters/group-${String(k % 10).padStart(2, '0')}/${name}`,
    stage: TESTING.includes(name) ? 'testing' : 'production',
    branch: `env/${name}`,
  }))
  const seedOut = join(scratch, 'seed-rendered')
  const seed = await runAction('hydrate', {
    github: gh,
    eventName: 'push',
    event: { ref: 'refs/heads/main', repository: { full_name: REPO, default_branch: 'main' } },
    distDir,
    workspace: seedWorkspace,
    checkout: { ref: 'refs/heads/main' },
    inputs: { environments: JSON.stringify(environments), 'output-dir': seedOut },
  })
  expect(seed.exitCode, seed.stdout + seed.stderr).toBe(0)
  const result = JSON.parse(
    await readFile(join(seedOut, 'hydration.json'), 'utf8'),
  ) as HydrationResult
  for (const env of result.environments) {
    const files: Record<string, string> = {}
    for (const path of env.files)
      files[path] = await readFile(join(seedOut, env.outputDir, path), 'utf8')
    files['.github/CODEOWNERS'] = '* @platform\n'
    await writeBranch(author, env.branch, files)
  }
  await author.run([
    'push',
    '-q',
    'origin',
    ...environments.map((e) => `refs/heads/${e.branch}:refs/heads/${e.branch}`),
  ])

  // The parent PR changes the shared component every cluster uses.
  await author.run(['checkout', '-qb', 'feature'])
  await commitAndPush(
    {
      'components/shared-labels/kustomization.yaml': [
        'apiVersion: kustomize.config.k8s.io/v1alpha1',
        'kind: Component',
        'labels:',
        '  - pairs:',
        '      fleet.example.com/managed: "true"',
        '      fleet.example.com/tier: "addons"',
        '',
      ].join('\n'),
    },
    'refs/heads/feature',
  )
  parent = (
    await gh.openPullRequest(REPO, {
      head: 'feature',
      base: 'main',
      title: 'Label every add-on with its tier',
      user: gh.adminLogin,
    })
  ).number
}, 600_000)

afterAll(async () => {
  await gh?.stop()
  await bundles?.cleanup()
  await rm(scratch, { recursive: true, force: true })
})

describe('open-child-prs end to end', { timeout: 300_000 }, () => {
  it('opens one child PR per changed environment with correct WET diffs, statuses and one comment', async () => {
    gh.resetRequests()
    const { open, rendered } = await runWorkflow({ labels: 'fleet-promote' })
    expect(open.exitCode, open.stdout + open.stderr).toBe(0)
    expect(open.outputs.stale).toBe('false')
    const output = JSON.parse(open.outputs.children ?? '[]') as {
      environment: string
      state: string
      number: number
    }[]
    expect(output.map((c) => [c.environment, c.state])).toEqual(
      CLUSTERS.map((name) => [name, 'created']),
    )
    expect(pushes()).toHaveLength(1)

    const kids = children()
    expect(kids.map((p) => [p.headRef.split('/').pop(), p.baseRef, p.state])).toEqual(
      CLUSTERS.map((name) => [name, `env/${name}`, 'open']),
    )
    // WET diff: exactly the new label, on top of the WET tip, unmanaged files kept.
    const check = await Git.clone(gh.remoteUrl(REPO), join(scratch, 'check'), {
      token: gh.adminToken,
      bare: true,
    })
    await check.fetch('origin', ['+refs/heads/*:refs/heads/*'])
    const name = CLUSTERS[4] as string
    const diff = await check.run([
      'diff',
      `env/${name}`,
      `fleet-promote/pr-${parent}/${name}`,
      '--',
      'manifest.yaml',
    ])
    const added = diff.split('\n').filter((l) => l.startsWith('+') && !l.startsWith('+++'))
    const removed = diff.split('\n').filter((l) => l.startsWith('-') && !l.startsWith('---'))
    expect(removed).toEqual([])
    expect(added.length).toBeGreaterThan(0)
    for (const line of added) expect(line).toMatch(/fleet\.example\.com\/tier: addons/)
    expect(await check.showFile(`fleet-promote/pr-${parent}/${name}`, '.github/CODEOWNERS')).toBe(
      '* @platform\n',
    )
    const hydration = JSON.parse(
      await readFile(join(rendered, 'hydration.json'), 'utf8'),
    ) as HydrationResult
    const env = hydration.environments.find((e) => e.name === name)!
    expect(await check.showFile(`fleet-promote/pr-${parent}/${name}`, 'manifest.yaml')).toBe(
      await readFile(join(rendered, env.outputDir, 'manifest.yaml'), 'utf8'),
    )

    const head = gh.state.pull(REPO, parent).headSha
    const statuses = new Map(gh.state.latestStatuses(REPO, head).map((s) => [s.context, s]))
    for (const cluster of CLUSTERS)
      expect(statuses.get(`fleet-promote/${cluster}`)?.state).toBe('pending')
    expect(statuses.get(`fleet-promote/${TESTING[0]}`)?.description).toContain(
      'deploys automatically',
    )
    expect(statuses.get(`fleet-promote/${CLUSTERS[9]}`)?.description).toContain(
      '.promote production',
    )
    expect(statuses.get('fleet-promote/pipeline')?.state).toBe('pending')

    const comments = gh.state.comments(REPO, parent)
    expect(comments).toHaveLength(1)
    expect(comments[0]!.body.startsWith(SUMMARY_MARKER)).toBe(true)
    expect(comments[0]!.body).toContain('**Next:** comment `.promote production`')
    expect(comments[0]!.body).toMatch(/Same change in \d+ environments/)
    expect(open.summary).toContain(`child PRs of #${parent}`)
    expect(gh.state.issue(REPO, kids[0]!.number)?.labels).toEqual(['fleet-promote'])

    const rest = gh.requests.filter(
      (r) => !r.route.includes('.git/') && r.route.includes('/repos/'),
    )
    expect(rest.length).toBeLessThanOrEqual(3 * CLUSTERS.length + 10)
  })

  it('a re-run of the workflow changes nothing', async () => {
    const before = children().map((p) => [p.number, p.headSha])
    gh.resetRequests()
    const { open } = await runWorkflow({ labels: 'fleet-promote' })
    expect(open.exitCode, open.stdout + open.stderr).toBe(0)
    const output = JSON.parse(open.outputs.children ?? '[]') as { state: string }[]
    expect(new Set(output.map((c) => c.state))).toEqual(new Set(['unchanged']))
    expect(children().map((p) => [p.number, p.headSha])).toEqual(before)
    expect(pushes()).toEqual([])
    expect(writes().map((r) => r.route)).toEqual(['POST /repos/{owner}/{repo}/statuses/{sha}'])
    expect(gh.state.comments(REPO, parent)).toHaveLength(1)
  })

  it('a new parent commit updates children in place and closes those it stops touching', async () => {
    const before = new Map(children().map((p) => [p.headRef, p.number]))
    // Back out the shared label; change the add-on only clusters 0, 3, 6 and 9 use.
    await commitAndPush(
      {
        'components/shared-labels/kustomization.yaml': [
          'apiVersion: kustomize.config.k8s.io/v1alpha1',
          'kind: Component',
          'labels:',
          '  - pairs:',
          '      fleet.example.com/managed: "true"',
          '',
        ].join('\n'),
        'components/addon-000/deployment.yaml': addonDeployment('1.0.1'),
      },
      'refs/heads/feature',
    )
    gh.resetRequests()
    const { open } = await runWorkflow()
    expect(open.exitCode, open.stdout + open.stderr).toBe(0)
    expect(pushes()).toHaveLength(1)
    const touched = ['cluster-0000', 'cluster-0003', 'cluster-0006', 'cluster-0009']
    const open_ = children().filter((p) => p.state === 'open')
    expect(open_.map((p) => p.headRef.split('/').pop())).toEqual(touched)
    for (const pr of open_) expect(before.get(pr.headRef)).toBe(pr.number)
    const closed = children().filter((p) => p.state === 'closed')
    expect(closed.map((p) => p.headRef.split('/').pop())).toEqual(
      CLUSTERS.filter((c) => !touched.includes(c)),
    )
    for (const pr of closed) expect(gh.state.refSha(REPO, pr.headRef)).toBeUndefined()
    expect(gh.state.comments(REPO, parent)).toHaveLength(1)
    const head = gh.state.pull(REPO, parent).headSha
    const contexts = gh.state
      .latestStatuses(REPO, head)
      .map((s) => s.context)
      .sort()
    expect(contexts).toEqual(
      ['fleet-promote/pipeline', ...touched.map((t) => `fleet-promote/${t}`)].sort(),
    )
  })

  it('after faults mid-run, re-running only the failed job converges', async () => {
    await commitAndPush(
      { 'components/addon-000/deployment.yaml': addonDeployment('1.0.2') },
      'refs/heads/feature',
    )
    gh.resetRequests()
    // A 502 on a PR update is retried; resets on every status write fail the job after the push.
    gh.faults.add({ route: 'PATCH /repos/{owner}/{repo}/pulls/{pull_number}', status: 502 })
    gh.faults.add({ route: 'POST /repos/{owner}/{repo}/statuses/{sha}', reset: true, times: 1000 })
    const first = await runWorkflow()
    expect(first.open.exitCode).toBe(1)
    expect(pushes()).toHaveLength(1)
    gh.faults.clear()
    // "Re-run failed jobs": the same rendered artifact, a fresh workspace.
    const rendered = first.rendered
    const event = gh.pullRequestEvent(REPO, parent, 'synchronize')
    const rerun = await runAction('open-child-prs', {
      github: gh,
      eventName: 'pull_request',
      event,
      distDir,
      checkout: {},
      inputs: { token: gh.adminToken, 'rendered-dir': rendered },
    })
    expect(rerun.exitCode, rerun.stdout + rerun.stderr).toBe(0)
    const open = children().filter((p) => p.state === 'open')
    expect(open.map((p) => p.headRef.split('/').pop())).toEqual([
      'cluster-0000',
      'cluster-0003',
      'cluster-0006',
      'cluster-0009',
    ])
    expect(gh.state.comments(REPO, parent)).toHaveLength(1)
    const head = gh.state.pull(REPO, parent).headSha
    const seen = gh.state.latestStatuses(REPO, head).map((s) => `${s.context}=${s.state}`)
    for (const pr of open) {
      const env = pr.headRef.split('/').pop()!
      expect(
        gh.state.latestStatuses(REPO, head).find((s) => s.context === `fleet-promote/${env}`)
          ?.state,
        `${seen.join(' ')}\n${rerun.stdout}`,
      ).toBe('pending')
    }
    // And once more: nothing left to do.
    gh.resetRequests()
    const again = await runAction('open-child-prs', {
      github: gh,
      eventName: 'pull_request',
      event,
      distDir,
      checkout: {},
      inputs: { token: gh.adminToken, 'rendered-dir': rendered },
    })
    expect(again.exitCode).toBe(0)
    expect(pushes()).toEqual([])
    expect(writes().map((r) => r.route)).toEqual(['POST /repos/{owner}/{repo}/statuses/{sha}'])
  })

  it('fails clearly, writing nothing, on bad input', async () => {
    const event = gh.pullRequestEvent(REPO, parent, 'synchronize')
    const { rendered } = await runWorkflow()
    gh.resetRequests()
    const run = (inputs: Record<string, string>) =>
      runAction('open-child-prs', { github: gh, eventName: 'pull_request', event, distDir, inputs })
    const badJson = await run({
      token: gh.adminToken,
      'rendered-dir': rendered,
      result: '{not json',
    })
    expect(badJson.exitCode).toBe(1)
    expect(badJson.stdout).toContain('input "result" is not valid JSON')
    const unknown = await run({
      token: gh.adminToken,
      'rendered-dir': rendered,
      result: '[{"name":"cluster-9999","status":"rendered"}]',
    })
    expect(unknown.exitCode).toBe(1)
    expect(unknown.stdout).toContain('names environment "cluster-9999"')
    const noToken = await run({ 'rendered-dir': rendered })
    expect(noToken.exitCode).toBe(1)
    expect(noToken.stdout).toMatch(/token/)
    const noDir = await run({ token: gh.adminToken, 'rendered-dir': join(scratch, 'missing') })
    expect(noDir.exitCode).toBe(1)
    expect(noDir.stdout).toContain('does not exist')
    expect(writes()).toEqual([])
    expect(pushes()).toEqual([])
  })
})
