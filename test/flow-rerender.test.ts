// Issue 12, item 3's last piece: when a parent lands, the other open parents'
// children on the environments it landed are re-rendered on the new main and
// WET tips by the pull request workflow merge-cleanup dispatches for each of
// them (the real bundles, in workflow order, test/support/flow.ts), so their
// statuses and diffs are honest and `.promote` deploys a render holding the
// merged change. SPEC.md §3's invariant is checked after every step.
import { describe, expect, it } from 'vitest'
import { runProcess } from '../actions/lib/process.js'
import { flowPerTest, type Flow } from './support/flow.js'

const start = flowPerTest()

async function revParse(f: Flow, rev: string): Promise<string> {
  const parsed = await runProcess('git', ['rev-parse', '--verify', '--end-of-options', rev], {
    cwd: f.gh.repoPath('acme/fleet'),
  })
  return parsed.stdout.trim()
}

const settings = (version: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-settings\n  namespace: web\ndata:\n  version: "${version}"\n`

const cluster = (name: string, extra = '') =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-info\n  namespace: web\ndata:\n  cluster: ${name}\n${extra}`

/** Whether the tree at `ref` of the fleet repository holds `text` in some file. */
async function holds(f: Flow, ref: string, text: string): Promise<boolean> {
  const grep = await runProcess('git', ['grep', '-q', '-F', text, ref, '--'], {
    cwd: f.gh.repoPath('acme/fleet'),
  })
  return grep.code === 0
}

/** `.promote production` on `parent` deploys its child of prod-a, whose synced revision holds every one of `texts`. */
async function expectDeployed(f: Flow, parent: number, ...texts: string[]): Promise<void> {
  const promoted = await f.command(parent, f.users.maintainer, '.promote production')
  expect(promoted.steps.promote?.outputs.decision, promoted.steps.promote?.stdout).toBe('deployed')
  const app = f.argocd.getApplication('prod-a-addons')
  expect(app?.spec.source?.targetRevision).toBe(`fleet-promote/pr-${parent}/prod-a`)
  const running = app?.status?.sync?.revision ?? ''
  for (const text of texts) expect(await holds(f, running, text), text).toBe(true)
}

// `on-read`: GitHub rebuilds a test merge after its base moved only once the pull
// request is read, so merge-cleanup must have it rebuilt before it dispatches.
describe.each(['eager', 'on-read'] as const)(
  'test merges %s: when a parent lands under another open parent',
  (testMerges) => {
    it(
      "re-renders the other parent's child through a dispatched PR workflow; .promote then deploys the merged change",
      { timeout: 600_000 },
      async () => {
        const f = await start({ testMerges })
        const a = await f.openParent('bump', { 'components/app/settings.yaml': settings('2') })
        await f.prWorkflow(a, 'opened')
        const b = await f.openParent('size', {
          'clusters/production/prod-a/cluster.yaml': cluster('prod-a', '  size: big\n'),
        })
        await f.prWorkflow(b, 'opened')
        const child = `refs/heads/fleet-promote/pr-${b}/prod-a`
        expect(await holds(f, child, 'size: big')).toBe(true)
        expect(await holds(f, child, 'version: "2"')).toBe(false)

        const cleanup = (await f.closedWorkflow(a, await f.merge(a))).steps.cleanup!
        expect(cleanup.exitCode, cleanup.stdout).toBe(0)
        // merge-cleanup asks for B's re-render (never renders B's head in its privileged job).
        expect(f.gh.state.dispatches('acme/fleet')).toMatchObject([
          { workflowId: 'fleet-promote-pr.yml', ref: 'main', inputs: { pr: String(b) } },
        ])
        const note = f.comments(b).find((c) => c.body.includes(`#${a} landed`))
        expect(note?.body).toMatch(/re-render requested/i)
        expect(f.statuses(b).get('fleet-promote/prod-a')?.description).toMatch(
          /^stale: .*re-render requested/,
        )

        const reruns = await f.dispatched()
        expect(reruns).toHaveLength(1)
        for (const [name, result] of Object.entries(reruns[0]!.steps))
          expect(result.exitCode, `${name}: ${result.stdout}\n${result.stderr}`).toBe(0)
        // B's child now holds A's merged change next to B's own, on the new WET tip.
        expect(await holds(f, child, 'size: big')).toBe(true)
        expect(await holds(f, child, 'version: "2"')).toBe(true)
        const honest = f.statuses(b).get('fleet-promote/prod-a')
        expect(honest?.state).toBe('pending')
        expect(honest?.description).not.toMatch(/stale/)

        f.approve(b)
        await expectDeployed(f, b, 'version: "2"', 'size: big')
        // The re-rendered run is a run like any other: running it again changes nothing.
        expect(await f.dispatched()).toEqual([])
        expect(f.gh.validationErrors).toEqual([])
        expect(f.violations).toEqual([])
      },
    )
  },
)

const labelled = (team: string) =>
  `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n  labels:\n    team: ${team}\n`

// Between a parent's merge and its closed workflow, its child on a cluster is
// still open and its change not on the WET branch: nothing has moved under the
// other parent's child yet, so only the closed parent's open child shows it is stale.
describe('a parent merged, its closed workflow not run yet', () => {
  it(
    "refuses the other parent's child on that cluster meanwhile; once merge-cleanup ran, the re-rendered child deploys both changes",
    { timeout: 600_000 },
    async () => {
      const f = await start()
      const a = await f.openParent('label', {
        'clusters/production/prod-a/namespace.yaml': labelled('web'),
      })
      await f.prWorkflow(a, 'opened')
      const b = await f.openParent('size', {
        'clusters/production/prod-a/cluster.yaml': cluster('prod-a', '  size: big\n'),
      })
      await f.prWorkflow(b, 'opened')
      const wet = f.gh.state.refSha('acme/fleet', 'refs/heads/env/prod-a') ?? ''
      const closed = await f.merge(a)

      f.approve(b)
      const refused = await f.command(b, f.users.maintainer, '.promote production')
      expect(refused.steps.promote?.outputs.decision, refused.steps.promote?.stdout).toBe('refused')
      expect(refused.steps.promote?.outputs.reason).toBe(
        `prod-a may lack what #${a} changed: it is closed, but its child on env/prod-a is still open (the closed workflow has not run yet); promote again once it has`,
      )
      expect(f.applications().get('prod-a')).toBe(`env/prod-a@${wet}`)
      // The one violation is the WET branch itself lagging main until the closed workflow lands #A's child.
      expect(f.violations).toEqual([
        expect.stringMatching(
          new RegExp(
            `^\\.promote production on #${b}: Application prod-a-addons \\(prod-a\\) runs ${wet.slice(0, 7)}, .*lacks what main merged for prod-a`,
          ),
        ),
      ])
      f.violations.length = 0

      const cleanup = (await f.closedWorkflow(a, closed)).steps.cleanup!
      expect(cleanup.exitCode, cleanup.stdout).toBe(0)
      const [rerender, ...more] = await f.dispatched()
      expect(more).toEqual([])
      expect(rerender?.steps.children?.exitCode).toBe(0)
      await expectDeployed(f, b, 'team: web', 'size: big')
      expect(f.violations).toEqual([])
    },
  )
})

describe('when the re-render cannot be requested', () => {
  it(
    'says so on the other parent and in its status, exits 0, and a re-run of merge-cleanup requests it',
    { timeout: 600_000 },
    async () => {
      const f = await start()
      const a = await f.openParent('bump', { 'components/app/settings.yaml': settings('2') })
      await f.prWorkflow(a, 'opened')
      const b = await f.openParent('size', {
        'clusters/production/prod-a/cluster.yaml': cluster('prod-a', '  size: big\n'),
      })
      await f.prWorkflow(b, 'opened')
      // As GitHub answers a token without `actions: write`.
      f.gh.faults.add({
        method: 'POST',
        route: '/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches',
        status: 403,
        body: { message: 'Resource not accessible by integration' },
        times: Infinity,
      })
      const closed = await f.merge(a)
      const cleanup = (await f.closedWorkflow(a, closed)).steps.cleanup!
      expect(cleanup.exitCode, cleanup.stdout).toBe(0)
      expect(f.gh.state.dispatches('acme/fleet')).toEqual([])
      expect(f.statuses(b).get('fleet-promote/prod-a')?.description).toBe(
        `stale: #${a} landed on env/prod-a since this render; push or re-run the pull request workflow to re-render`,
      )
      const notes = () => f.comments(b).filter((c) => c.body.includes(`#${a} landed`))
      expect(notes()).toHaveLength(1)
      expect(notes()[0]?.body).toMatch(
        /The re-render could not be requested \(dispatching fleet-promote-pr\.yml on main: .*403.*\): push, or re-run the pull request workflow/s,
      )

      // Once the token may dispatch, a re-run of the closed workflow requests it, editing its note.
      f.gh.faults.clear()
      const rerun = (await f.closedWorkflow(a, closed)).steps.cleanup!
      expect(rerun.exitCode, rerun.stdout).toBe(0)
      expect(f.gh.state.dispatches('acme/fleet')).toMatchObject([{ inputs: { pr: String(b) } }])
      expect(notes()).toHaveLength(1)
      expect(notes()[0]?.body).toMatch(/Re-render requested/)
      const [run] = await f.dispatched()
      expect(run?.steps.children?.exitCode).toBe(0)
      expect(f.statuses(b).get('fleet-promote/prod-a')?.description).not.toMatch(/stale/)
      expect(f.violations).toEqual([])
    },
  )
})

// A re-run renders refs/pull/N/merge as GitHub has it: after the base moved and
// before anything read the pull request, that is still the old test merge, now
// on WET tips that already hold the merged change. The child is built on the
// current WET tip, so only its DRY base shows it predates the merge.
describe('a re-run before GitHub rebuilt the test merge', () => {
  it(
    'renders the old main on the new WET tip: .promote refuses it, the cluster keeps the merged change, and a later re-render deploys both',
    { timeout: 600_000 },
    async () => {
      // production's requirement read from this PR's statuses, so only the renders check stands between B's child and prod-a.
      const f = await start({
        testMerges: 'on-read',
        config: (document) => document.setIn(['promote', 'requiredStages'], 'pull-request'),
      })
      const a = await f.openParent('bump', { 'components/app/settings.yaml': settings('2') })
      await f.prWorkflow(a, 'opened')
      const b = await f.openParent('size', {
        'clusters/production/prod-a/cluster.yaml': cluster('prod-a', '  size: big\n'),
      })
      const rendered = await f.prWorkflow(b, 'opened')
      // merge-cleanup cannot read #B (GitHub answers 502), so nothing starts its test merge.
      f.gh.faults.add({
        method: 'GET',
        route: new RegExp(`^/repos/acme/fleet/pulls/${b}$`),
        status: 502,
        times: Infinity,
      })
      const cleanup = (await f.closedWorkflow(a, await f.merge(a))).steps.cleanup!
      expect(cleanup.exitCode, cleanup.stdout).toBe(0)
      expect(f.gh.state.dispatches('acme/fleet')).toEqual([])
      f.gh.faults.clear()
      const main = f.gh.state.refSha('acme/fleet', 'refs/heads/main') ?? ''
      const wet = f.gh.state.refSha('acme/fleet', 'refs/heads/env/prod-a') ?? ''
      const child = `refs/heads/fleet-promote/pr-${b}/prod-a`

      // "Re-run all jobs" at once: the old test merge, built on the WET tip holding #A.
      await f.rerun(rendered)
      expect(await holds(f, child, 'size: big')).toBe(true)
      expect(await holds(f, child, 'version: "2"')).toBe(false)
      // Built on the current WET tip: a WET-tip comparison alone would deploy it.
      expect(await revParse(f, `${child}^`)).toBe(wet)
      f.approve(b)
      const refused = await f.command(b, f.users.maintainer, '.promote production')
      expect(refused.steps.promote?.outputs.decision, refused.steps.promote?.stdout).toBe('refused')
      expect(refused.steps.promote?.outputs.reason).toBe(
        `the child of prod-a was rendered before main moved to ${main.slice(0, 7)}: push or re-run the pull request workflow to re-render`,
      )
      expect(f.applications().get('prod-a')).toBe(`env/prod-a@${wet}`)
      expect(await holds(f, wet, 'version: "2"')).toBe(true)
      const dry = await f.command(b, f.users.maintainer, '.promote production --noop')
      expect(dry.steps.promote?.outputs.reason).toMatch(
        /would be refused: the child of prod-a was rendered before main moved/,
      )
      expect(f.violations).toEqual([])

      // By now GitHub has rebuilt the test merge (the runs read #B): a re-run renders both changes.
      await f.rerun(rendered)
      expect(await holds(f, child, 'version: "2"')).toBe(true)
      await expectDeployed(f, b, 'version: "2"', 'size: big')
      expect(f.violations).toEqual([])
    },
  )
})
