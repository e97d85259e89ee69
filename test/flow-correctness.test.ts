// Issue 12's scenarios, each a platform team's week in miniature: the real
// bundles against the simulators, in the order the reusable workflows run
// them (test/support/flow.ts), with SPEC.md §3's "what a cluster runs"
// invariant checked after every step.
import { describe, expect, it } from 'vitest'
import { flowPerTest, type Flow } from './support/flow.js'

const start = flowPerTest()

const settings = (version: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-settings\n  namespace: web\ndata:\n  version: "${version}"\n`

const cluster = (name: string, extra = '') =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-info\n  namespace: web\ndata:\n  cluster: ${name}\n${extra}`

function lockOf(f: Flow, environment: string): string | undefined {
  return f.gh.state.refSha('acme/fleet', `refs/heads/fleet-promote-lock/${environment}`)
}

/** Everything a re-run must leave as it was: statuses, comments, deployments, Applications, syncs, locks. */
function snapshot(f: Flow, parent: number) {
  return {
    statuses: f.statuses(parent),
    comments: f.comments(parent),
    deployments: f.gh.state.deployments('acme/fleet').map((d) => ({
      environment: d.environment,
      sha: d.sha,
      states: d.statuses.map((s) => s.state),
    })),
    applications: f.applications(),
    syncs: f.argocd.syncs.length,
    locks: f.environments.map((env) => lockOf(f, env.name)),
  }
}

/** merge-cleanup while Argo CD answers 500 to every change of `application`: it fails; its `left`. */
async function cleanupFailingOn(
  f: Flow,
  parent: number,
  closed: Record<string, unknown>,
  application: string,
): Promise<{ environment: string; reason: string }[]> {
  f.argocd.faults.add({
    method: 'PATCH',
    path: new RegExp(`/applications/${application}$`),
    status: 500,
    times: Infinity,
  })
  const failing = (await f.closedWorkflow(parent, closed)).steps.cleanup!
  expect(failing.exitCode).not.toBe(0)
  return JSON.parse(failing.outputs.left ?? '[]') as { environment: string; reason: string }[]
}

describe('flow correctness', { timeout: 600_000 }, () => {
  it('a second push that drops an auto-promoted environment puts its cluster back on the WET branch', async () => {
    const f = await start()
    const parent = await f.openParent('bump', { 'components/app/settings.yaml': settings('2') })
    const first = await f.prWorkflow(parent, 'opened')
    expect(first.steps.auto?.outputs.decision).toBe('deployed')
    expect(f.applications().get('test-b')).toMatch(/^fleet-promote\/pr-\d+\/test-b@/)

    // The second push only touches test-a: test-b, prod-a and prod-b are no longer impacted.
    await f.push(parent, {
      'components/app/settings.yaml': settings('1'),
      'clusters/testing/test-a/cluster.yaml': cluster('test-a', '  size: small\n'),
    })
    const second = await f.prWorkflow(parent, 'synchronize')
    expect(second.steps.children?.exitCode).toBe(0)
    const tip = f.gh.state.refSha('acme/fleet', 'refs/heads/env/test-b')
    expect(f.applications().get('test-b')).toBe(`env/test-b@${tip}`)
    expect(lockOf(f, 'test-b')).toBeUndefined()
    const sticky = f.comments(parent).find((c) => c.body.includes('fleet-promote:summary'))
    expect(sticky?.body).toMatch(
      /test-b`: Argo CD `test-b-addons` back on `env\/test-b`, lock released/,
    )
    expect(f.violations).toEqual([])
  })

  it('"Re-run all jobs", reopened and ready_for_review at the same head change nothing after a promotion', async () => {
    const f = await start()
    const parent = await f.openParent('bump', { 'components/app/settings.yaml': settings('2') })
    const first = await f.prWorkflow(parent, 'opened')
    expect(first.steps.auto?.outputs.decision).toBe('deployed')
    f.approve(parent)
    const promoted = await f.command(parent, f.users.maintainer, '.promote production')
    expect(promoted.steps.promote?.outputs.decision).toBe('deployed')
    const before = snapshot(f, parent)
    expect(before.statuses.get('fleet-promote/prod-a')?.state).toBe('success')
    expect(before.statuses.get('fleet-promote/pipeline')?.state).toBe('success')

    const runs = [
      ['re-run', () => f.rerun(first)],
      ['reopened', () => f.prWorkflow(parent, 'reopened')],
      ['ready_for_review', () => f.prWorkflow(parent, 'ready_for_review')],
    ] as const
    for (const [name, run] of runs) {
      const again = await run()
      for (const [step, result] of Object.entries(again.steps))
        expect(result.exitCode, `${name} ${step}: ${result.stderr}`).toBe(0)
      expect(snapshot(f, parent), name).toEqual(before)
    }
    expect(f.violations).toEqual([])
  })

  it('a reply whose answer was lost is posted once; a 500 on a check names the check and says to re-run', async () => {
    const f = await start()
    const parent = await f.openParent('bump', { 'components/app/settings.yaml': settings('2') })
    await f.prWorkflow(parent, 'opened')
    f.approve(parent)
    f.gh.faults.add({
      method: 'GET',
      route: '/repos/{owner}/{repo}/collaborators/{username}/permission',
      status: 500,
      times: Infinity,
    })
    const failing = await f.command(parent, f.users.maintainer, '.promote production')
    expect(failing.steps.promote?.outputs.decision).toBe('failed')
    const failed = f.comments(parent).at(-1)?.body ?? ''
    expect(failed).toMatch(
      /reading @\u200d?bob's permission on acme\/fleet: GET http:\u200d?\/\/\S+\/collaborators\/bob\/permission: GitHub answered 500 "Simulated failure" after 3 retries \(transient\); re-run the command/,
    )
    expect(f.statuses(parent).get('fleet-promote/prod-a')?.state).toBe('pending')

    f.gh.faults.clear()
    f.gh.faults.add({
      method: 'POST',
      route: '/repos/{owner}/{repo}/issues/{issue_number}/comments',
      dropAnswer: true,
    })
    const before = f.comments(parent).length
    const promoted = await f.command(parent, f.users.maintainer, '.promote production')
    expect(promoted.steps.promote?.outputs.decision).toBe('deployed')
    expect(f.gh.faults.pending).toEqual([])
    const replies = f.comments(parent).slice(before)
    expect(replies.map((c) => c.body.split('\n')[0])).toEqual(['### 🚀 fleet-promote: deployed'])
    expect(f.violations).toEqual([])
  })

  it('merge-cleanup finds nothing to leave for a human on environments a later push dropped', async () => {
    const f = await start()
    const parent = await f.openParent('bump', { 'components/app/settings.yaml': settings('2') })
    await f.prWorkflow(parent, 'opened')
    // The second push only touches the testing clusters: prod-a and prod-b drop out.
    await f.push(parent, {
      'components/app/settings.yaml': settings('1'),
      'clusters/testing/test-a/cluster.yaml': cluster('test-a', '  size: small\n'),
      'clusters/testing/test-b/cluster.yaml': cluster('test-b', '  size: small\n'),
    })
    await f.prWorkflow(parent, 'synchronize')
    const cleanup = (await f.closedWorkflow(parent, await f.merge(parent))).steps.cleanup!
    expect(cleanup.exitCode, cleanup.stdout).toBe(0)
    expect(JSON.parse(cleanup.outputs.left ?? '')).toEqual([])
    expect(JSON.parse(cleanup.outputs.merged ?? '')).toEqual([
      'test-a',
      'test-b',
      'prod-a',
      'prod-b',
    ])
    expect(cleanup.exitCode).toBe(0)
    expect(f.violations).toEqual([])
  })

  it('merge-cleanup fails, keeping the child branch, while Argo CD cannot put a cluster back; a re-run finishes', async () => {
    const f = await start()
    const parent = await f.openParent('bump', { 'components/app/settings.yaml': settings('2') })
    await f.prWorkflow(parent, 'opened')
    const closed = await f.merge(parent)
    f.argocd.faults.add({ method: 'POST', path: /\/sync$/, status: 500, times: Infinity })
    const failing = (await f.closedWorkflow(parent, closed)).steps.cleanup!
    expect(failing.exitCode).not.toBe(0)
    const left = JSON.parse(failing.outputs.left ?? '[]') as {
      environment: string
      reason: string
    }[]
    // Every Application it could not sync is listed: the two still on children, and the two
    // production ones that track their WET branch but did not get the merged change.
    expect(left.map((item) => item.environment).sort()).toEqual([
      'prod-a',
      'prod-b',
      'test-a',
      'test-b',
    ])
    expect(left.find((item) => item.environment === 'test-a')?.reason).toMatch(
      /^Argo CD Application test-a-addons not back on env\/test-a: test-a-addons still runs fleet-promote\/pr-\d+\/test-a: .*HTTP 500/,
    )
    expect(failing.annotations.map((a) => a.message).join('\n')).toMatch(/test-a: .*test-b: /s)
    // The clusters still run the children: their branches are kept, never deleted under them.
    for (const env of ['test-a', 'test-b']) {
      expect(
        f.gh.state.refSha('acme/fleet', `refs/heads/fleet-promote/pr-${parent}/${env}`),
      ).toBeDefined()
    }
    f.violations.length = 0 // a merged parent's child cannot satisfy the invariant until Argo CD answers

    f.argocd.faults.clear()
    const rerun = (await f.closedWorkflow(parent, closed)).steps.cleanup!
    expect(rerun.exitCode).toBe(0)
    expect(JSON.parse(rerun.outputs.left ?? '')).toEqual([])
    expect(f.violations).toEqual([])
  })
})

describe('a second parent on the same cluster', { timeout: 600_000 }, () => {
  it('is refused while its child predates a merged parent, and deploys once re-rendered', async () => {
    const f = await start()
    const first = await f.openParent('bump', { 'components/app/settings.yaml': settings('2') })
    await f.prWorkflow(first, 'opened')
    const second = await f.openParent('size', {
      'clusters/production/prod-a/cluster.yaml': cluster('prod-a', '  size: big\n'),
    })
    const rendered = await f.prWorkflow(second, 'opened')
    const wetBefore = f.gh.state.refSha('acme/fleet', 'refs/heads/env/prod-a') ?? ''
    const merged = (await f.closedWorkflow(first, await f.merge(first))).steps.cleanup!
    expect(merged.exitCode, merged.stdout).toBe(0)
    const wetAfter = f.gh.state.refSha('acme/fleet', 'refs/heads/env/prod-a') ?? ''
    expect(wetAfter).not.toBe(wetBefore)
    // Its status says the child is stale, and why.
    const stale = f.statuses(second).get('fleet-promote/prod-a')
    expect(stale?.state).toBe('pending')
    expect(stale?.description).toBe(
      `stale: #${first} landed on env/prod-a since this render; re-render requested`,
    )
    expect(f.statuses(second).get('fleet-promote/pipeline')?.state).toBe('pending')

    f.approve(second)
    const refused = await f.command(second, f.users.maintainer, '.promote production')
    expect(refused.steps.promote?.outputs.decision).toBe('refused')
    expect(refused.steps.promote?.outputs.reason).toBe(
      `the child of prod-a was rendered before env/prod-a moved to ${wetAfter.slice(0, 7)}: a re-render is pending; promote again once it is done`,
    )
    expect(f.applications().get('prod-a')).toBe(`env/prod-a@${wetAfter}`)

    // "Re-run all jobs" renders the merge with the new main on the new WET tip.
    await f.rerun(rendered)
    expect(f.statuses(second).get('fleet-promote/prod-a')?.state).toBe('pending')
    const promoted = await f.command(second, f.users.maintainer, '.promote production')
    expect(promoted.steps.promote?.outputs.decision).toBe('deployed')
    expect(f.applications().get('prod-a')).toMatch(/^fleet-promote\/pr-\d+\/prod-a@/)
    expect(f.violations).toEqual([])
  })
})

describe(
  'a second parent while the first one merged and its closed workflow has not run',
  { timeout: 600_000 },
  () => {
    it("is refused on the first one's cluster, takes no lock, and deploys both changes once merge-cleanup landed them", async () => {
      const f = await start()
      const first = await f.openParent('label', {
        'clusters/production/prod-a/namespace.yaml':
          'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n  labels:\n    team: web\n',
      })
      await f.prWorkflow(first, 'opened')
      const second = await f.openParent('size', {
        'clusters/production/prod-a/cluster.yaml': cluster('prod-a', '  size: big\n'),
        'clusters/production/prod-b/cluster.yaml': cluster('prod-b', '  size: big\n'),
      })
      await f.prWorkflow(second, 'opened')
      const closed = await f.merge(first)
      const wet = f.gh.state.refSha('acme/fleet', 'refs/heads/env/prod-a') ?? ''
      const reason = `prod-a may lack what #${first} changed: it is closed, but its child on env/prod-a is still open (the closed workflow has not run yet); promote again once it has`

      f.approve(second)
      const dry = await f.command(second, f.users.maintainer, '.promote production --noop')
      expect(dry.steps.promote?.outputs.reason).toBe(
        `--noop: a promotion of ${f.gh.state.pull('acme/fleet', second).headSha.slice(0, 7)} now would be refused: ${reason}; nothing was deployed`,
      )
      const refused = await f.command(second, f.users.maintainer, '.promote production')
      expect(refused.steps.promote?.outputs.decision).toBe('refused')
      expect(refused.steps.promote?.outputs.reason).toBe(reason)
      expect(f.comments(second).at(-1)?.body).toContain(reason)
      expect(lockOf(f, 'prod-a')).toBeUndefined()
      expect(lockOf(f, 'prod-b')).toBeUndefined()
      expect(f.applications().get('prod-a')).toBe(`env/prod-a@${wet}`)
      expect(f.applications().get('prod-b')).toMatch(/^env\/prod-b@/)
      expect(f.statuses(second).get('fleet-promote/prod-a')?.state).toBe('pending')
      // The only violations: prod-a's WET branch lags main until the closed workflow lands #first's child.
      const lag = new RegExp(
        `: Application prod-a-addons \\(prod-a\\) runs ${wet.slice(0, 7)}, .*lacks what main merged for prod-a`,
      )
      expect(f.violations.filter((v) => !lag.test(v))).toEqual([])
      f.violations.length = 0

      const cleanup = (await f.closedWorkflow(first, closed)).steps.cleanup!
      expect(cleanup.exitCode, cleanup.stdout).toBe(0)
      expect(JSON.parse(cleanup.outputs.merged ?? '[]')).toEqual(['prod-a'])
      for (const run of await f.dispatched()) expect(run.steps.children?.exitCode).toBe(0)
      const promoted = await f.command(second, f.users.maintainer, '.promote production')
      expect(promoted.steps.promote?.outputs.decision, promoted.steps.promote?.stdout).toBe(
        'deployed',
      )
      expect(f.applications().get('prod-a')).toMatch(/^fleet-promote\/pr-\d+\/prod-a@/)
      expect(f.applications().get('prod-b')).toMatch(/^fleet-promote\/pr-\d+\/prod-b@/)
      expect(f.violations).toEqual([])
    })
  },
)

describe('a deployed second parent', { timeout: 600_000 }, () => {
  it('goes back to the WET branch when another parent lands under it, keeps its lock, and deploys again once re-rendered', async () => {
    const f = await start()
    const second = await f.openParent('size', {
      'clusters/production/prod-a/cluster.yaml': cluster('prod-a', '  size: big\n'),
    })
    const rendered = await f.prWorkflow(second, 'opened')
    f.approve(second)
    const deployed = await f.command(second, f.users.maintainer, '.promote production')
    expect(deployed.steps.promote?.outputs.decision).toBe('deployed')
    const first = await f.openParent('bump', { 'components/app/settings.yaml': settings('2') })
    await f.prWorkflow(first, 'opened')
    const cleanup = (await f.closedWorkflow(first, await f.merge(first))).steps.cleanup!
    expect(cleanup.exitCode, cleanup.stdout).toBe(0)
    // The cluster runs the WET branch with the merged change, not the child without it.
    const wet = f.gh.state.refSha('acme/fleet', 'refs/heads/env/prod-a')
    expect(f.applications().get('prod-a')).toBe(`env/prod-a@${wet}`)
    expect(lockOf(f, 'prod-a')).toBeDefined()
    expect(f.statuses(second).get('fleet-promote/prod-a')?.description).toMatch(/^stale: /)
    expect(f.violations).toEqual([])

    await f.rerun(rendered)
    const again = await f.command(second, f.users.maintainer, '.promote production')
    expect(again.steps.promote?.outputs.decision).toBe('deployed')
    expect(f.applications().get('prod-a')).toMatch(/^fleet-promote\/pr-\d+\/prod-a@/)
    expect(f.violations).toEqual([])
  })

  it('fails merge-cleanup with the cluster in left while Argo CD cannot take it off the stale child; a re-run does', async () => {
    const f = await start()
    const second = await f.openParent('size', {
      'clusters/production/prod-a/cluster.yaml': cluster('prod-a', '  size: big\n'),
    })
    await f.prWorkflow(second, 'opened')
    f.approve(second)
    await f.command(second, f.users.maintainer, '.promote production')
    const first = await f.openParent('bump', { 'components/app/settings.yaml': settings('2') })
    await f.prWorkflow(first, 'opened')
    const closed = await f.merge(first)
    const left = await cleanupFailingOn(f, first, closed, 'prod-a-addons')
    expect(left.find((item) => item.environment === 'prod-a')?.reason).toMatch(
      new RegExp(`^Argo CD still runs #${second}'s child, which lacks #${first}'s change: .*500`),
    )
    f.violations.length = 0 // the cluster runs the stale child until Argo CD answers

    f.argocd.faults.clear()
    const rerun = (await f.closedWorkflow(first, closed)).steps.cleanup!
    expect(rerun.exitCode, rerun.stdout).toBe(0)
    expect(f.applications().get('prod-a')).toMatch(/^env\/prod-a@/)
    expect(f.violations).toEqual([])
  })
})

describe('clusters Argo CD cannot put back', { timeout: 600_000 }, () => {
  it('a parent closed unmerged: merge-cleanup fails with the list while a reset answers 500, keeps the branches, and a re-run finishes', async () => {
    const f = await start()
    const parent = await f.openParent('bump', { 'components/app/settings.yaml': settings('2') })
    await f.prWorkflow(parent, 'opened')
    const closed = await f.close(parent)
    const left = await cleanupFailingOn(f, parent, closed, 'test-a-addons')
    expect(left.map((item) => item.environment)).toContain('test-a')
    expect(left.find((item) => item.environment === 'test-a')?.reason).toMatch(
      /^Argo CD Application test-a-addons not back on env\/test-a: .*500/,
    )
    // test-a's cluster still runs the child: its branch is kept, never deleted under it.
    expect(
      f.gh.state.refSha('acme/fleet', `refs/heads/fleet-promote/pr-${parent}/test-a`),
    ).toBeDefined()
    expect(f.applications().get('test-b')).toMatch(/^env\/test-b@/)
    f.violations.length = 0 // a closed parent's child cannot satisfy the invariant until Argo CD answers

    f.argocd.faults.clear()
    const rerun = (await f.closedWorkflow(parent, closed)).steps.cleanup!
    expect(rerun.exitCode, rerun.stdout).toBe(0)
    expect(JSON.parse(rerun.outputs.left ?? '')).toEqual([])
    expect(f.applications().get('test-a')).toMatch(/^env\/test-a@/)
    expect(f.violations).toEqual([])
  })

  it('a push that drops an environment: open-child-prs fails with the list while a reset answers 500, and a re-run finishes', async () => {
    const f = await start()
    const parent = await f.openParent('bump', { 'components/app/settings.yaml': settings('2') })
    const first = await f.prWorkflow(parent, 'opened')
    expect(first.steps.auto?.outputs.decision).toBe('deployed')
    await f.push(parent, {
      'components/app/settings.yaml': settings('1'),
      'clusters/testing/test-a/cluster.yaml': cluster('test-a', '  size: small\n'),
    })
    f.argocd.faults.add({
      method: 'PATCH',
      path: /\/applications\/test-b-addons$/,
      status: 500,
      times: Infinity,
    })
    const failing = await f.prWorkflow(parent, 'synchronize')
    expect(failing.steps.children?.exitCode).not.toBe(0)
    expect(failing.steps.children?.annotations.map((a) => a.message).join('\n')).toMatch(
      /clusters still run children of #\d+ that close or get a new render, and could not be put back on their WET branch; re-run the workflow: test-b/,
    )
    // The cluster still runs the child: it stays open with its branch and lock.
    expect(f.applications().get('test-b')).toMatch(/^fleet-promote\/pr-\d+\/test-b@/)
    expect(lockOf(f, 'test-b')).toBeDefined()
    expect(f.violations).toEqual([])

    f.argocd.faults.clear()
    const rerun = await f.rerun(failing)
    expect(rerun.steps.children?.exitCode).toBe(0)
    expect(f.applications().get('test-b')).toMatch(/^env\/test-b@/)
    expect(lockOf(f, 'test-b')).toBeUndefined()
    expect(f.violations).toEqual([])
  })
})

describe('the deletion-guard override', { timeout: 600_000 }, () => {
  it('a blocked render gets a child only an authorized --allow-deletions at the head deploys, saying what it deletes', async () => {
    const f = await start()
    const parent = await f.openParent('drop-namespace', {
      'clusters/production/prod-a/namespace.yaml': null,
      'clusters/production/prod-a/kustomization.yaml':
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../../components/app\n  - cluster.yaml\n',
    })
    await f.prWorkflow(parent, 'opened')
    const blocked = f.statuses(parent).get('fleet-promote/prod-a')
    expect(blocked?.state).toBe('failure')
    expect(blocked?.description).toBe(
      'blocked: would delete protected Namespace web; .promote prod-a --allow-deletions',
    )
    const child = f.gh.state
      .pulls('acme/fleet')
      .find((p) => p.headRef === `fleet-promote/pr-${parent}/prod-a` && p.state === 'open')
    expect(child?.body).toMatch(/deletion guard.*Namespace `?web`?/is)
    const sticky = f.comments(parent).find((c) => c.body.includes('fleet-promote:summary'))
    expect(sticky?.body).toMatch(/\.promote prod-a --allow-deletions/)
    f.approve(parent)

    const plain = await f.command(parent, f.users.maintainer, '.promote production')
    expect(plain.steps.promote?.outputs.decision).toBe('refused')
    expect(plain.steps.promote?.outputs.reason).toMatch(/the deletion guard blocked prod-a/)
    const writer = await f.command(parent, f.users.author, '.promote prod-a --allow-deletions')
    expect(writer.steps.promote?.outputs.decision).toBe('refused')
    expect(f.applications().get('prod-a')).toMatch(/^env\/prod-a@/)

    const allowed = await f.command(parent, f.users.maintainer, '.promote prod-a --allow-deletions')
    expect(allowed.steps.promote?.outputs.decision).toBe('deployed')
    expect(f.applications().get('prod-a')).toMatch(/^fleet-promote\/pr-\d+\/prod-a@/)
    expect(f.comments(parent).at(-1)?.body).toContain(
      'deletion guard overridden with --allow-deletions: prod-a would delete protected Namespace web',
    )
    expect(f.statuses(parent).get('fleet-promote/prod-a')?.state).toBe('success')

    // The override was for that head: a new push is blocked again until a new override.
    await f.push(parent, {
      'clusters/production/prod-a/cluster.yaml': cluster('prod-a', '  size: big\n'),
    })
    await f.prWorkflow(parent, 'synchronize')
    expect(f.statuses(parent).get('fleet-promote/prod-a')?.state).toBe('failure')
    f.approve(parent)
    const again = await f.command(parent, f.users.maintainer, '.promote production')
    expect(again.steps.promote?.outputs.reason).toMatch(/the deletion guard blocked prod-a/)
    const renewed = await f.command(parent, f.users.maintainer, '.promote prod-a --allow-deletions')
    expect(renewed.steps.promote?.outputs.decision).toBe('deployed')

    // Merged, the overridden child lands; the cluster runs the WET branch without the namespace.
    const cleanup = (await f.closedWorkflow(parent, await f.merge(parent))).steps.cleanup!
    expect(cleanup.exitCode, cleanup.stdout).toBe(0)
    expect(JSON.parse(cleanup.outputs.merged ?? '[]')).toEqual(['prod-a'])
    expect(f.applications().get('prod-a')).toMatch(/^env\/prod-a@/)
    expect(f.violations).toEqual([])
  })
})

describe('every create is find-or-create', { timeout: 600_000 }, () => {
  it('a deployment whose answer was lost is created once', async () => {
    const f = await start()
    const parent = await f.openParent('bump', { 'components/app/settings.yaml': settings('2') })
    f.gh.faults.add({
      method: 'POST',
      route: '/repos/{owner}/{repo}/deployments',
      dropAnswer: true,
    })
    const run = await f.prWorkflow(parent, 'opened')
    expect(run.steps.auto?.outputs.decision).toBe('deployed')
    expect(f.gh.faults.pending).toEqual([])
    const head = f.gh.state.pull('acme/fleet', parent).headSha
    const deployments = f.gh.state.deployments('acme/fleet').filter((d) => d.sha === head)
    expect(deployments.map((d) => d.environment).sort()).toEqual(['test-a', 'test-b'])
    expect(f.violations).toEqual([])
  })
})
