// `deploy.deployments`: GitHub deployments per environment, per stage or none,
// and what the content-creating budget counts for each.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { batchOf } from '../actions/promote/budget.js'
import {
  deploymentScope,
  stageDeploymentState,
  stageScopes,
  type DeploymentScope,
} from '../actions/promote/deployments.js'
import { promote } from '../actions/promote/promote.js'
import {
  endPromoteFleet,
  fleetConfig,
  FULL_NAME,
  startPromoteFleet,
  type PromoteFleet,
} from './support/promote-fleet.js'

describe('deploymentScope', () => {
  it.each([
    ['per-environment', 500, 'environment'],
    ['per-stage', 1, 'stage'],
    ['off', 3, 'none'],
    ['auto', 1, 'environment'],
    ['auto', 3, 'environment'],
    ['auto', 4, 'stage'],
    ['auto', 450, 'stage'],
  ] as const)('%s with %i environments → %s', (mode, count, scope) => {
    expect(deploymentScope(mode, count)).toBe(scope)
  })

  it('counts impacted environments per stage', () => {
    const envs = [
      ...Array.from({ length: 3 }, () => ({ stage: { name: 'testing' } })),
      ...Array.from({ length: 4 }, () => ({ stage: { name: 'production' } })),
    ]
    expect(Object.fromEntries(stageScopes('auto', envs))).toEqual({
      testing: 'environment',
      production: 'stage',
    })
  })
})

describe('stageDeploymentState', () => {
  it.each([
    [['success', 'success'], 'success'],
    [['success', 'failure', 'queued'], 'failure'],
    [['success', 'queued'], undefined],
    [['waiting'], undefined],
    [[], undefined],
  ] as const)('%j → %s', (results, state) => {
    expect(stageDeploymentState(results)).toBe(state)
  })
})

describe('batchOf counts a deployment per environment or once per stage', () => {
  const stage = (name: string, backend: 'argocd' | 'merge' | 'external') => ({ name, backend })
  const envs = (count: number, name: string, backend: 'argocd' | 'merge' | 'external') =>
    Array.from({ length: count }, () => ({ stage: stage(name, backend) }))
  const scopes = (scope: DeploymentScope) => new Map([['production', scope]])

  it.each([
    ['environment', 'argocd', 4 * 450],
    ['stage', 'argocd', 450 + 3],
    ['none', 'argocd', 450],
    // merge: the status only, the stage's children land in one git push
    ['environment', 'merge', 4 * 450],
    ['stage', 'merge', 450 + 3],
    ['environment', 'external', 3 * 450],
    ['stage', 'external', 450 + 2],
  ] as const)('%s, %s: 450 environments need %i', (scope, backend, total) => {
    const batch = batchOf(envs(450, 'production', backend), scopes(scope))
    expect(batch.total).toBe(total)
    expect(batch.estimate).toBeLessThanOrEqual(440)
    expect(batch.deploy.length + batch.later.length).toBe(450)
  })

  it('cuts at the budget, a stage deployment counted with its first environment', () => {
    const batch = batchOf(envs(450, 'production', 'argocd'), scopes('stage'))
    expect(batch.deploy).toHaveLength(437)
    expect(batch.estimate).toBe(440)
    expect(batchOf(envs(450, 'production', 'argocd'), scopes('environment')).deploy).toHaveLength(
      110,
    )
  })
})

describe('batchOf with statuses: per-stage', () => {
  const envs = (
    count: number,
    stage: { name: string; backend: 'argocd' | 'merge'; waves?: string[] },
  ) => Array.from({ length: count }, () => ({ stage }))

  it.each([
    // the stage's check run once, its deployment once: 450 environments in one run
    ['stage', [], 1 + 3],
    // one check-run write per wave: two waves and the last of the rest
    ['stage', ['eu-*', 'us-*'], 3 + 3],
    ['none', [], 1],
    // a deployment each still costs per environment
    ['environment', [], 450 * 3 + 1],
  ] as const)('deployments %s, waves %j: %i content-creating requests', (scope, waves, total) => {
    const batch = batchOf(
      envs(450, { name: 'production', backend: 'argocd', waves: [...waves] }),
      new Map([['production', scope]]),
      { statuses: 'per-stage' },
    )
    expect(batch.total).toBe(total)
    expect(batch.deploy).toHaveLength(total <= 440 ? 450 : 146)
  })
})

describe.each([
  ['per-stage', ['testing']],
  ['off', []],
] as const)('deployments: %s on the simulators', (mode, expected) => {
  let fleet: PromoteFleet
  beforeAll(async () => {
    fleet = await startPromoteFleet({
      config: (url) => fleetConfig(url, `  deployments: ${mode}`),
    })
  })
  afterAll(async () => {
    await endPromoteFleet(fleet)
  })

  it('.promote testing records the deployments of its mode', async () => {
    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.promote testing'),
    )
    expect(result.decision, result.reason).toBe('deployed')
    expect(result.environments.map((e) => e.result)).toEqual(['success', 'success', 'success'])
    const deployments = fleet.gh.state.deployments(FULL_NAME)
    expect(deployments.map((d) => d.environment)).toEqual(expected)
    for (const deployment of deployments) {
      expect(deployment.sha).toBe(fleet.headSha)
      expect(deployment.statuses.map((s) => s.state)).toEqual(['in_progress', 'success'])
      expect(deployment.statuses.at(-1)?.description).toBe('3 environments deployed')
      expect((deployment.payload as { children: number[] }).children).toHaveLength(3)
    }
    // A re-run with --force reuses the stage's deployment.
    const again = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.promote testing --force'),
    )
    expect(again.decision, again.reason).toBe('deployed')
    expect(fleet.gh.state.deployments(FULL_NAME)).toHaveLength(expected.length)
  })
})
