// The merge-cleanup action as the runner starts it (ncc bundle, inputs,
// pull_request closed payload, outputs, job summary) against the GitHub and
// Argo CD simulators: from a shallow actions/checkout workspace for a merged
// parent, and from an empty directory for a parent closed unmerged.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { actionBundles, type ActionBundles } from './support/bundles.js'
import { runAction } from './support/runner.js'
import { isWrite } from './support/github/index.js'
import { REPO, startScenario, type Scenario } from './fixtures/merge-cleanup/scenario.js'
import { webhookExampleFor } from './support/webhook-examples.js'

let bundles: ActionBundles | undefined
let script: string
let s: Scenario

beforeAll(async () => {
  bundles = await actionBundles(['merge-cleanup'])
  script = join(bundles.distDir, 'merge-cleanup', 'index.js')
})

afterAll(async () => {
  await bundles?.cleanup()
})

beforeEach(async () => {
  s = await startScenario()
})

afterEach(async () => {
  await s.stop()
})

const settings = (version: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-settings\n  namespace: web\ndata:\n  version: "${version}"\n`

function closedEvent(parent: number) {
  const event = s.gh.state.events.filter((e) => e.name === 'pull_request').at(-1)?.payload
  expect(event?.action).toBe('closed')
  expect((event?.pull_request as { number?: number } | undefined)?.number).toBe(parent)
  return event ?? {}
}

function inputs() {
  return { token: s.gh.adminToken, 'argocd-token': s.argocd.token, 'argocd-server': s.argocd.url }
}

describe('merge-cleanup action', { timeout: 300_000 }, () => {
  it('lands a merged parent from a shallow checkout, and a re-run changes nothing', async () => {
    const parent = await s.openParent('bump-app', { 'components/app/settings.yaml': settings('2') })
    await s.createChildren(parent)
    await s.promote(parent, 'test-a')
    await s.merge(parent)
    const event = closedEvent(parent)

    const run = () =>
      runAction('merge-cleanup', {
        github: s.gh,
        eventName: 'pull_request',
        event,
        inputs: inputs(),
        checkout: { ref: 'refs/heads/main', depth: 1 },
        script,
      })
    const result = await run()
    try {
      expect(result.stderr).toBe('')
      expect(result.exitCode).toBe(0)
      expect(JSON.parse(result.outputs.merged ?? '')).toEqual([
        'test-a',
        'test-b',
        'prod-a',
        'prod-b',
      ])
      expect(JSON.parse(result.outputs.closed ?? '')).toEqual([])
      expect(JSON.parse(result.outputs.left ?? '')).toEqual([])
      expect(result.summary).toMatch(/merged, children landed/)
      expect(result.summary).toMatch(/#### This run/)
      // The re-render of main runs in the privileged job: in the sandbox, as hydrate's does.
      expect(result.stdout).toMatch(
        /sandbox: bubblewrap [^\n]*\(no network, own PID namespace, read-only render tree and tools, private \/tmp/,
      )
    } finally {
      await result.cleanup()
    }
    const main = await s.renderMain()
    for (const env of s.environments) {
      expect(await s.wetFiles(env.name)).toEqual(main.get(env.name))
      expect(s.applicationRevision(env.name)).toBe(env.branch)
    }
    expect(await s.branches('fleet-promote')).toEqual([])

    s.gh.resetRequests()
    const again = await run()
    try {
      expect(again.exitCode).toBe(0)
      expect(JSON.parse(again.outputs.merged ?? '')).toEqual([
        'test-a',
        'test-b',
        'prod-a',
        'prod-b',
      ])
    } finally {
      await again.cleanup()
    }
    const writes = s.gh.requests.filter(isWrite)
    expect(writes).toEqual([])
    expect(s.gh.validationErrors).toEqual([])
  })

  it('closes the children of a parent closed unmerged without any checkout', async () => {
    const parent = await s.openParent('bump-app', { 'components/app/settings.yaml': settings('5') })
    await s.createChildren(parent)
    await s.promote(parent, 'test-b')
    await s.close(parent)
    const workspace = await mkdtemp(join(tmpdir(), 'merge-cleanup-empty-'))
    try {
      const result = await runAction('merge-cleanup', {
        github: s.gh,
        eventName: 'pull_request',
        event: closedEvent(parent),
        inputs: inputs(),
        workspace,
        script,
      })
      expect(result.exitCode).toBe(0)
      expect(JSON.parse(result.outputs.closed ?? '')).toEqual([
        'test-a',
        'test-b',
        'prod-a',
        'prod-b',
      ])
      expect(JSON.parse(result.outputs.merged ?? '')).toEqual([])
      await result.cleanup()
    } finally {
      await rm(workspace, { recursive: true, force: true })
    }
    expect(s.gh.state.pulls(REPO).filter((p) => p.state === 'open')).toEqual([])
    expect(await s.branches('fleet-promote')).toEqual([])
    expect(s.applicationRevision('test-b')).toBe('env/test-b')
  })

  it('says an open parent leaves nothing to do, and why, without a write (a real pull_request payload)', async () => {
    const parent = await s.openParent('bump-app', { 'components/app/settings.yaml': settings('3') })
    await s.createChildren(parent)
    s.gh.resetRequests()
    const event = webhookExampleFor('pull_request', 'synchronize', REPO, (payload) => {
      payload.number = parent
      Object.assign(payload.pull_request as object, { number: parent })
    })
    const result = await runAction('merge-cleanup', {
      github: s.gh,
      eventName: 'pull_request',
      event,
      inputs: inputs(),
      script,
    })
    try {
      expect(result.exitCode).toBe(0)
      const note = `Parent #${parent} is open: nothing to clean up. merge-cleanup lands the children of a merged parent and closes those of a parent closed without merging; run it on pull_request closed events.`
      expect(result.annotations).toContainEqual(
        expect.objectContaining({ level: 'notice', message: note }),
      )
      expect(result.summary).toBe(`${note}\n`)
      expect(JSON.parse(result.outputs.merged ?? '')).toEqual([])
    } finally {
      await result.cleanup()
    }
    expect(s.gh.requests.filter(isWrite)).toEqual([])
    expect(s.gh.state.pulls(REPO).filter((p) => p.state === 'open')).toHaveLength(5)
  })

  it('fails with a clear message outside a pull_request event without the pr input (a real workflow_dispatch payload)', async () => {
    const result = await runAction('merge-cleanup', {
      github: s.gh,
      eventName: 'workflow_dispatch',
      event: webhookExampleFor('workflow_dispatch', undefined, REPO),
      inputs: inputs(),
      script,
    })
    try {
      expect(result.exitCode).not.toBe(0)
      expect(result.stdout).toMatch(/needs the pr input/)
    } finally {
      await result.cleanup()
    }
  })
})
