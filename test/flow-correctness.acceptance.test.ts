// Issue 12's remaining acceptance scenarios on the real bundles, in workflow
// order (test/support/flow.ts), SPEC.md §3's invariant checked after every
// step: the sticky comment is find-or-create, `.unlock` puts the cluster back
// before its lock goes and says so, merge-cleanup repairs a cluster left on a
// deleted child branch (and fails with the list while it cannot), and the
// deletion-guard override needs its role and covers only what it names.
import { describe, expect, it } from 'vitest'
import { runProcess } from '../actions/lib/process.js'
import { flowPerTest, type Flow } from './support/flow.js'

const start = flowPerTest()

const settings = (version: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-settings\n  namespace: web\ndata:\n  version: "${version}"\n`

const cluster = (name: string, extra = '') =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-info\n  namespace: web\ndata:\n  cluster: ${name}\n${extra}`

/** A cluster's kustomization without its namespace.yaml: the render deletes the protected Namespace. */
const withoutNamespace =
  'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../../components/app\n  - cluster.yaml\n'

const lockOf = (f: Flow, environment: string) =>
  f.gh.state.refSha('acme/fleet', `refs/heads/fleet-promote-lock/${environment}`)

const sticky = (f: Flow, parent: number) =>
  f.comments(parent).filter((c) => c.body.includes('fleet-promote:summary'))

describe('flow acceptance', { timeout: 600_000 }, () => {
  it('a sticky summary whose POST answer was lost is made once, and later runs edit that one', async () => {
    const f = await start()
    const parent = await f.openParent('bump', { 'components/app/settings.yaml': settings('2') })
    // The first comment POST of the run is open-child-prs's summary.
    f.gh.faults.add({
      method: 'POST',
      route: '/repos/{owner}/{repo}/issues/{issue_number}/comments',
      dropAnswer: true,
    })
    const first = await f.prWorkflow(parent, 'opened')
    expect(f.gh.faults.pending).toEqual([])
    expect(first.steps.children?.exitCode).toBe(0)
    expect(sticky(f, parent)).toHaveLength(1)
    const [made] = sticky(f, parent)

    await f.push(parent, { 'components/app/settings.yaml': settings('3') })
    await f.prWorkflow(parent, 'synchronize')
    expect(sticky(f, parent).map((c) => c.id)).toEqual([made?.id])
    expect(f.violations).toEqual([])
  })

  it('.unlock puts a cluster on the child back on its WET branch before the lock goes, and says so', async () => {
    const f = await start()
    const parent = await f.openParent('bump', { 'components/app/settings.yaml': settings('2') })
    const run = await f.prWorkflow(parent, 'opened')
    expect(run.steps.auto?.outputs.decision).toBe('deployed')
    expect(f.applications().get('test-a')).toMatch(/^fleet-promote\/pr-\d+\/test-a@/)

    const unlocked = await f.command(parent, f.users.author, '.unlock testing')
    expect(unlocked.steps.promote?.outputs.decision, unlocked.steps.promote?.stdout).toBe('done')
    for (const env of ['test-a', 'test-b']) {
      const tip = f.gh.state.refSha('acme/fleet', `refs/heads/env/${env}`)
      expect(f.applications().get(env)).toBe(`env/${env}@${tip}`)
      expect(lockOf(f, env)).toBeUndefined()
    }
    const reply = f.comments(parent).at(-1)?.body ?? ''
    expect(reply).toContain('Argo CD test-a-addons back on env/test-a')
    expect(reply).toContain('Argo CD test-b-addons back on env/test-b')
    expect(f.violations).toEqual([])
  })

  it('merge-cleanup repairs a cluster on a child branch deleted by hand; while Argo CD answers 500 it fails with the list', async () => {
    const f = await start()
    const first = await f.openParent('bump', { 'components/app/settings.yaml': settings('2') })
    await f.prWorkflow(first, 'opened')
    const branch = `refs/heads/fleet-promote/pr-${first}/test-a`
    // Someone deletes the child branch the cluster runs (GitHub closes its pull request).
    await runProcess('git', ['update-ref', '-d', branch], { cwd: f.gh.repoPath('acme/fleet') })
    await f.gh.refreshRefs('acme/fleet')
    expect(f.gh.state.refSha('acme/fleet', branch)).toBeUndefined()
    expect(await f.checkInvariant('branch deleted by hand')).toEqual([
      expect.stringMatching(/test-a-addons \(test-a\) targets .*, a branch that does not exist$/),
    ])
    f.violations.length = 0

    // Any parent's closed workflow sweeps the fleet: here one closed unmerged.
    const second = await f.openParent('size', {
      'clusters/production/prod-a/cluster.yaml': cluster('prod-a', '  size: big\n'),
    })
    await f.prWorkflow(second, 'opened')
    const closed = await f.close(second)
    f.argocd.faults.add({
      method: 'PATCH',
      path: /\/applications\/test-a-addons$/,
      status: 500,
      times: Infinity,
    })
    const failing = (await f.closedWorkflow(second, closed)).steps.cleanup!
    expect(failing.exitCode).not.toBe(0)
    const left = JSON.parse(failing.outputs.left ?? '[]') as {
      environment: string
      reason: string
    }[]
    expect(left.find((item) => item.environment === 'test-a')?.reason).toMatch(
      /^Argo CD Application test-a-addons runs a branch that no longer exists, and could not be repaired: .*500/,
    )
    expect(f.comments(second).at(-1)?.body).toMatch(
      /test-a.*runs a branch that no longer exists, and could not be repaired/,
    )
    f.violations.length = 0 // the cluster stays on the gone branch until Argo CD answers

    f.argocd.faults.clear()
    const rerun = (await f.closedWorkflow(second, closed)).steps.cleanup!
    expect(rerun.exitCode, rerun.stdout).toBe(0)
    expect(JSON.parse(rerun.outputs.left ?? '')).toEqual([])
    const tip = f.gh.state.refSha('acme/fleet', 'refs/heads/env/test-a')
    expect(f.applications().get('test-a')).toBe(`env/test-a@${tip}`)
    // The comment is the end state; what this run did (the repair) is in the job summary.
    expect(rerun.summary).toMatch(/`test-a`: repaired, test-a-addons: /)
    expect(f.violations).toEqual([])
  })

  it('--allow-deletions needs the maintain role and overrides only the environments it names', async () => {
    const f = await start()
    const parent = await f.openParent('drop-namespaces', {
      'clusters/testing/test-a/namespace.yaml': null,
      'clusters/testing/test-a/kustomization.yaml': withoutNamespace,
      'clusters/testing/test-b/namespace.yaml': null,
      'clusters/testing/test-b/kustomization.yaml': withoutNamespace,
    })
    const run = await f.prWorkflow(parent, 'opened')
    expect(run.steps.auto?.outputs.decision).not.toBe('deployed')
    for (const env of ['test-a', 'test-b']) {
      expect(f.statuses(parent).get(`fleet-promote/${env}`)?.description).toBe(
        `blocked: would delete protected Namespace web; .promote ${env} --allow-deletions`,
      )
      expect(f.applications().get(env)).toMatch(new RegExp(`^env/${env}@`))
    }

    // testing needs only write, so the refusal is the override's own role.
    const writer = await f.command(parent, f.users.author, '.promote test-a --allow-deletions')
    expect(writer.steps.promote?.outputs.reason).toBe(
      '--allow-deletions needs the maintain or admin role; alice has write',
    )
    expect(f.applications().get('test-a')).toMatch(/^env\/test-a@/)

    const allowed = await f.command(parent, f.users.maintainer, '.promote test-a --allow-deletions')
    expect(allowed.steps.promote?.outputs.decision, allowed.steps.promote?.stdout).toBe('deployed')
    expect(f.comments(parent).at(-1)?.body).toContain(
      'deletion guard overridden with --allow-deletions: test-a would delete protected Namespace web',
    )
    expect(f.applications().get('test-a')).toMatch(/^fleet-promote\/pr-\d+\/test-a@/)
    // test-b was not named: still blocked, still on its WET branch.
    expect(f.statuses(parent).get('fleet-promote/test-b')?.state).toBe('failure')
    expect(f.applications().get('test-b')).toMatch(/^env\/test-b@/)
    const plain = await f.command(parent, f.users.author, '.promote test-b')
    expect(plain.steps.promote?.outputs.reason).toMatch(/^the deletion guard blocked test-b/)
    expect(f.violations).toEqual([])
  })
})
