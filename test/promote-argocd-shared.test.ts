// The argocd backend on shared WET branches: an environment is a folder of the
// branch, so its Application goes to the child branch AT its folder (the
// source path travels with the revision) and is synced at the child head.
// GitHub and Argo CD simulators, real git; children made by openChildPrs.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createArgoCdClient } from '../actions/lib/argocd/client.js'
import { childrenOf, listOpenPulls } from '../actions/lib/github/pulls.js'
import { MANAGED_LIST } from '../actions/lib/git/wet-commit.js'
import { deployEnvironment, type DeployContext } from '../actions/promote/backends.js'
import { startArgoCdSimulator, type ArgoCdSimulator } from './support/argocd/index.js'
import { createGitHubClient } from './support/github-client.js'
import { startGitHubSimulator, type GitHubSimulator } from './support/github/index.js'
import { configMapChange } from './fixtures/child-prs/hydration.js'
import { REPO, createTestRepo, openParent, type TestRepo } from './fixtures/child-prs/repo.js'
import { runOpenChildPrs } from './fixtures/child-prs/run.js'
import { StatusWriter } from '../actions/lib/github/status-board.js'

let gh: GitHubSimulator
let argocd: ArgoCdSimulator
let repo: TestRepo
const ref = { owner: 'acme', repo: 'fleet' }
const NAMES = ['test-a', 'test-b']

beforeEach(async () => {
  gh = await startGitHubSimulator()
  argocd = await startArgoCdSimulator()
  argocd.resolveRevision = (revision) =>
    /^[0-9a-f]{40}$/.test(revision) ? revision : (gh.state.refSha(REPO, revision) ?? revision)
  repo = await createTestRepo(gh, { 'clusters/a/kustomization.yaml': 'resources: []\n' })
  const files: Record<string, string> = {}
  for (const name of NAMES) {
    files[`${name}/manifest.yaml`] = `env: ${name}\nvalue: 1\n`
    files[`${name}/${MANAGED_LIST}`] = 'manifest.yaml\n'
  }
  await repo.setWet('env/testing', files)
  const repoURL = `${gh.serverUrl}/${REPO}`
  // test-b's Application was set up at the branch root: deploying puts it at its folder.
  await argocd.addApplication({
    name: 'test-a',
    repoURL,
    path: 'test-a',
    targetRevision: 'env/testing',
  })
  await argocd.addApplication({ name: 'test-b', repoURL, path: '.', targetRevision: 'env/testing' })
  await openParent(gh, repo, { 'components/x.yaml': 'value: 2\n' })
})

afterEach(async () => {
  expect(gh.validationErrors).toEqual([])
  expect(argocd.validationErrors).toEqual([])
  await gh.stop()
  await argocd.stop()
  await repo.cleanup()
})

describe('argocd backend on a shared WET branch', { timeout: 120_000 }, () => {
  it('points each Application at the child branch and its folder, synced at the child head', async () => {
    const stages = [{ name: 'testing', autoPromote: false }]
    await runOpenChildPrs(
      gh,
      repo,
      stages,
      NAMES.map((name) => ({
        name,
        stage: 'testing',
        branch: 'env/testing',
        folder: name,
        baseSha: gh.state.refSha(REPO, 'env/testing'),
        files: { 'manifest.yaml': `env: ${name}\nvalue: 2\n` },
        changes: [configMapChange('settings', '1', '2')],
      })),
    )
    const client = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
    const children = childrenOf(await listOpenPulls(client, ref), ref, repo.parent)
    expect(children.map((c) => [c.environment, c.folder])).toEqual([
      ['test-a', 'test-a'],
      ['test-b', 'test-b'],
    ])
    const ctx: DeployContext = {
      client,
      repo: ref,
      parent: repo.parent,
      parentSha: gh.state.pull(REPO, repo.parent).headSha,
      repoUrl: `${gh.serverUrl}/${REPO}`,
      argocd: {
        client: createArgoCdClient({ server: argocd.url, token: argocd.token, retries: 0 }),
        timeoutMs: 10_000,
        pollMs: 5,
      },
      externalSystem: 'Kargo',
      checks: { secret: () => undefined },
      deployments: new Map(),
      statuses: new StatusWriter(client, ref, gh.state.pull(REPO, repo.parent).headSha, {
        mode: 'per-environment',
        stageOf: () => undefined,
        current: new Map(),
      }),
      log: () => undefined,
    }
    for (const child of children) {
      const outcome = await deployEnvironment(ctx, {
        environment: child.environment,
        stage: 'testing',
        backend: 'argocd',
        child,
        application: child.environment,
        production: false,
        bakeSeconds: 0,
        recordDeployment: false,
        verify: { http: [], prometheus: [] },
      })
      expect(outcome.result, outcome.detail).toBe('success')
    }
    const branch = `fleet-promote/pr-${repo.parent}/env-testing`
    const head = gh.state.refSha(REPO, branch)
    for (const name of NAMES) {
      const app = argocd.getApplication(name)
      expect(app?.spec.source).toMatchObject({ targetRevision: branch, path: name })
      expect(app?.status?.sync).toMatchObject({ status: 'Synced', revision: head })
      expect(app?.status?.sync?.comparedTo?.source?.path).toBe(name)
    }
    expect(argocd.syncs.map((s) => [s.application, s.targetRevision, s.path])).toEqual([
      ['test-a', branch, 'test-a'],
      ['test-b', branch, 'test-b'],
    ])
  })
})
