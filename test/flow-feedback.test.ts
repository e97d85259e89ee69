// Issue 12 item 6: what the PR shows when something is wrong (or nothing is
// impacted), through the real bundles in workflow order (test/support/flow.ts).
import { describe, expect, it } from 'vitest'
import { flowPerTest, type Flow } from './support/flow.js'

const start = flowPerTest()

const settings = (version: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-settings\n  namespace: web\ndata:\n  version: "${version}"\n`

const cluster = (name: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-info\n  namespace: web\ndata:\n  cluster: ${name}\n`

const kustomization = (...resources: string[]) =>
  `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n${resources.map((r) => `  - ${r}\n`).join('')}`

const sticky = (f: Flow, parent: number) =>
  f.comments(parent).filter((c) => c.body.includes('fleet-promote:summary'))

describe('flow feedback on the PR', { timeout: 600_000 }, () => {
  it('a kustomization naming a missing file fails that environment with file:line, not the run', async () => {
    const f = await start()
    const parent = await f.openParent('broken', {
      'components/app/settings.yaml': settings('2'),
      'clusters/testing/test-a/kustomization.yaml': kustomization(
        'namespace.yaml',
        '../../../components/app',
        'cluster.yaml',
        'missing.yaml',
      ),
      // Passes the vetting; kustomize itself fails on the duplicate object.
      'clusters/production/prod-b/again.yaml': cluster('prod-b'),
      'clusters/production/prod-b/kustomization.yaml': kustomization(
        'namespace.yaml',
        '../../../components/app',
        'cluster.yaml',
        'again.yaml',
      ),
    })
    const run = await f.prWorkflow(parent, 'opened')
    expect(run.steps.detect?.exitCode, run.steps.detect?.stderr).toBe(0)
    const statuses = f.statuses(parent)
    const broken = statuses.get('fleet-promote/test-a')
    expect(broken?.state).toBe('failure')
    expect(broken?.description).toBe(
      'refused: resources "missing.yaml" does not exist (clusters/testing/test-a/kustomization.yaml:7)',
    )
    const duplicate = statuses.get('fleet-promote/prod-b')
    expect(duplicate?.state).toBe('failure')
    expect(duplicate?.description).toMatch(
      /^render failed: merging resources from 'again\.yaml': may not add resource with an already registered id: ConfigMap/,
    )
    expect(duplicate?.description).not.toMatch(/render failed: render failed|: `:/)
    // Each failed environment's status links the run that failed it.
    const head = f.gh.state.pull('acme/fleet', parent).headSha
    const links = f.gh.state
      .latestStatuses('acme/fleet', head)
      .filter((s) => s.context === 'fleet-promote/test-a' || s.context === 'fleet-promote/prod-b')
      .map((s) => s.targetUrl)
    expect(links).toEqual([
      expect.stringMatching(/\/actions\/runs\/\d+/),
      expect.stringMatching(/\/actions\/runs\/\d+/),
    ])
    // The others render and go on as usual; the gate fails on the broken ones.
    expect(statuses.get('fleet-promote/test-b')?.state).toBe('success')
    expect(statuses.get('fleet-promote/prod-a')?.state).toBe('pending')
    expect(statuses.get('fleet-promote/pipeline')?.state).toBe('failure')
    const [comment] = sticky(f, parent)
    expect(comment?.body).toMatch(
      /`test-a` \(testing\): refused: resources "missing\.yaml" does not exist \(clusters\/testing\/test-a\/kustomization\.yaml:7\)/,
    )
    expect(f.violations).toEqual([])
  })

  it('a configuration error that names no environment fails the gate with the reason and a run link', async () => {
    const f = await start()
    const parent = await f.openParent('bad-config', {
      'components/app/settings.yaml': settings('2'),
      'fleet-promote.yaml': 'version: 1\nenvironments: [\n',
    })
    const run = await f.prWorkflow(parent, 'opened')
    expect(run.steps.detect?.exitCode).not.toBe(0)
    const gate = f.gh.state
      .latestStatuses('acme/fleet', f.gh.state.pull('acme/fleet', parent).headSha)
      .find((s) => s.context === 'fleet-promote/pipeline')
    expect(gate?.state).toBe('failure')
    expect(gate?.description).toMatch(/^detect-impact failed: fleet-promote\.yaml:\d+/)
    expect(gate?.description?.length).toBeLessThanOrEqual(140)
    expect(gate?.targetUrl).toMatch(/\/actions\/runs\/\d+/)
    expect(f.violations).toEqual([])
  })

  it('a PR that impacts nothing gets the gate success and no comment', async () => {
    const f = await start()
    const parent = await f.openParent('docs', { 'README.md': '# the fleet\n' })
    const run = await f.prWorkflow(parent, 'opened')
    for (const [step, result] of Object.entries(run.steps))
      expect(result.exitCode, `${step}: ${result.stderr}`).toBe(0)
    expect(f.statuses(parent).get('fleet-promote/pipeline')?.state).toBe('success')
    expect(f.comments(parent)).toEqual([])
    expect(f.violations).toEqual([])
  })

  it('a PR that stops impacting anything updates its comment instead of leaving it stale', async () => {
    const f = await start()
    const parent = await f.openParent('bump', { 'components/app/settings.yaml': settings('2') })
    await f.prWorkflow(parent, 'opened')
    await f.push(parent, { 'components/app/settings.yaml': settings('1'), 'README.md': 'x\n' })
    await f.prWorkflow(parent, 'synchronize')
    const comments = sticky(f, parent)
    expect(comments).toHaveLength(1)
    expect(comments[0]?.body).toMatch(/0 environments impacted/)
    expect(f.statuses(parent).get('fleet-promote/pipeline')?.state).toBe('success')
    expect(f.violations).toEqual([])
  })

  it('a refusal for an approval of an older commit says whose approval and for which commit', async () => {
    const f = await start()
    const parent = await f.openParent('bump', { 'components/app/settings.yaml': settings('2') })
    await f.prWorkflow(parent, 'opened')
    const approved = f.gh.state.pull('acme/fleet', parent).headSha
    f.approve(parent)
    const head = await f.push(parent, { 'components/app/settings.yaml': settings('3') })
    await f.prWorkflow(parent, 'synchronize')
    const refused = await f.command(parent, f.users.maintainer, '.promote production')
    expect(refused.steps.promote?.outputs.decision).toBe('refused')
    expect(refused.steps.promote?.outputs.reason).toContain(
      `the approval by bob was for ${approved.slice(0, 7)}; the head is ${head.slice(0, 7)}`,
    )
    expect(f.violations).toEqual([])
  })
})
