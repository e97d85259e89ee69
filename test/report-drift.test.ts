// The three drift kinds, decided from facts records: one row per case, each
// with the command (or link) that fixes it.
import { describe, expect, it } from 'vitest'
import {
  classifyDrift,
  type DriftContext,
  type EnvironmentFacts,
} from '../actions/lib/report/drift.js'

const TIP = 'a'.repeat(40)
const HEAD = 'd'.repeat(40)
const OLD = 'e'.repeat(40)

const context: DriftContext = {
  dryBranch: 'main',
  drySha: HEAD,
  remoteBranches: new Set(['main', 'env/eu-prod-1', 'fleet-promote/pr-7/eu-prod-1']),
  parents: new Map([
    [7, 'open'],
    [8, 'merged'],
  ]),
  repositoryUrl: 'https://github.com/acme/fleet',
  argocdServer: 'https://argocd.example.com',
}

function facts(overrides: Partial<EnvironmentFacts>): EnvironmentFacts {
  return {
    environment: 'eu-prod-1',
    path: 'clusters/eu/eu-prod-1',
    branch: 'env/eu-prod-1',
    wetSha: TIP,
    wetDrySha: HEAD,
    render: { status: 'same' },
    application: {
      found: true,
      name: 'eu-prod-1-addons',
      targetRevision: 'env/eu-prod-1',
      sync: 'Synced',
      revisions: [TIP],
      health: 'Healthy',
    },
    ...overrides,
  }
}

const healthy = facts({}).application

describe('classifyDrift', () => {
  it('finds nothing when the WET branch is the render and Argo CD runs its tip', () => {
    expect(classifyDrift([facts({})], context)).toEqual({ findings: [], promotions: [] })
  })

  const differs = {
    status: 'differs',
    added: 0,
    changed: 1,
    deleted: 1,
    objects: ['changed Deployment/cert-manager/cert-manager', 'deleted ConfigMap/x/y'],
  } as const
  const renderFix = 'fleet-promote render --env clusters/eu/eu-prod-1 --remote origin --push'

  it.each([
    ['hand edit (WET says it is the HEAD render)', { render: differs }, /changed by hand/],
    [
      'stale WET branch (rendered from an older commit)',
      { render: differs, wetDrySha: OLD },
      /render of eeeeeee, not of main ddddddd: a merge never landed/,
    ],
    [
      'not written by fleet-promote',
      { render: differs, wetDrySha: undefined },
      /has no hydrator\.metadata/,
    ],
    [
      'missing WET branch',
      { render: { status: 'missing' as const }, wetSha: '' },
      /does not exist/,
    ],
  ])('wet: %s', (_name, overrides, why) => {
    const { findings } = classifyDrift([facts({ ...overrides, application: healthy })], context)
    const wet = findings.filter((f) => f.kind === 'wet')
    expect(wet).toHaveLength(1)
    expect(wet[0]?.problems.join('\n')).toMatch(why)
    expect(wet[0]?.command).toBe(renderFix)
  })

  it('names the objects that differ', () => {
    const { findings } = classifyDrift([facts({ render: differs })], context)
    expect(findings[0]?.problems[0]).toBe(
      '1 changed, 1 deleted compared with the render of main ddddddd (changed Deployment/cert-manager/cert-manager, deleted ConfigMap/x/y)',
    )
  })

  it('a failed render is not drift (the caller warns)', () => {
    expect(
      classifyDrift(
        [facts({ render: { status: 'failed', reason: 'render failed: boom' } })],
        context,
      ).findings,
    ).toEqual([])
  })

  const app = (fields: Record<string, unknown>) => ({
    application: { ...healthy, ...fields } as EnvironmentFacts['application'],
  })

  it.each([
    [
      'targets another revision',
      app({ targetRevision: 'hotfix' }),
      'eu-prod-1-addons targets hotfix, not its WET branch env/eu-prod-1',
      'argocd app set eu-prod-1-addons --revision env/eu-prod-1',
    ],
    [
      'synced to an older commit',
      app({ revisions: [OLD] }),
      'eu-prod-1-addons is synced to eeeeeee, the WET tip is aaaaaaa',
      'argocd app sync eu-prod-1-addons --revision env/eu-prod-1',
    ],
    [
      'OutOfSync',
      app({ sync: 'OutOfSync' }),
      'eu-prod-1-addons is OutOfSync',
      'argocd app sync eu-prod-1-addons',
    ],
    [
      'Degraded',
      app({ health: 'Degraded', healthMessage: 'CrashLoopBackOff' }),
      'eu-prod-1-addons is Degraded: CrashLoopBackOff',
      undefined,
    ],
    [
      'no Application',
      { application: { found: false as const, name: 'eu-prod-1-addons' } },
      'Argo CD has no Application eu-prod-1-addons (deploy.argocd.application): nothing deploys env/eu-prod-1',
      undefined,
    ],
  ])('argocd: %s', (_name, overrides, problem, command) => {
    const { findings } = classifyDrift([facts(overrides)], context)
    expect(findings).toHaveLength(1)
    expect(findings[0]).toMatchObject({ kind: 'argocd', environment: 'eu-prod-1' })
    expect(findings[0]?.problems).toContain(problem)
    expect(findings[0]?.command).toBe(command)
    expect(findings[0]?.link?.url).toMatch(/^https:\/\/argocd\.example\.com\/applications/)
  })

  it('an Application on the child branch of an open parent is a promotion, not drift', () => {
    const result = classifyDrift(
      [facts(app({ targetRevision: 'fleet-promote/pr-7/eu-prod-1', revisions: ['f'.repeat(40)] }))],
      context,
    )
    expect(result.findings).toEqual([])
    expect(result.promotions).toEqual([
      {
        environment: 'eu-prod-1',
        application: 'eu-prod-1-addons',
        parent: 7,
        branch: 'fleet-promote/pr-7/eu-prod-1',
      },
    ])
  })

  it.each([
    [
      'its parent merged',
      'fleet-promote/pr-8/eu-prod-1',
      new Set([...context.remoteBranches, 'fleet-promote/pr-8/eu-prod-1']),
      'parent #8 is merged',
      8,
    ],
    [
      'its branch is gone',
      'fleet-promote/pr-9/eu-prod-1',
      context.remoteBranches,
      'branch fleet-promote/pr-9/eu-prod-1 no longer exists',
      9,
    ],
  ])('orphaned: child branch whose %s', (_name, target, remoteBranches, why, parent) => {
    const { findings } = classifyDrift([facts(app({ targetRevision: target }))], {
      ...context,
      remoteBranches,
    })
    expect(findings).toEqual([
      {
        kind: 'orphaned',
        environment: 'eu-prod-1',
        problems: [`eu-prod-1-addons runs ${target}, but ${why}`],
        command: 'argocd app set eu-prod-1-addons --revision env/eu-prod-1',
        link: { text: `#${parent}`, url: `https://github.com/acme/fleet/pull/${parent}` },
      },
    ])
  })

  it('without GitHub, a child branch that exists counts as a promotion under way', () => {
    const target = 'fleet-promote/pr-8/eu-prod-1'
    const result = classifyDrift([facts(app({ targetRevision: target }))], {
      dryBranch: 'main',
      drySha: HEAD,
      remoteBranches: new Set([target]),
    })
    expect(result.findings).toEqual([])
    expect(result.promotions).toHaveLength(1)
  })

  it('another environment’s child branch is plain argocd drift', () => {
    const { findings } = classifyDrift(
      [facts(app({ targetRevision: 'fleet-promote/pr-7/eu-prod-2' }))],
      context,
    )
    expect(findings.map((f) => f.kind)).toEqual(['argocd'])
  })

  it('reports every kind of several environments, sorted by kind then name', () => {
    const { findings } = classifyDrift(
      [
        facts({ environment: 'b', ...app({ sync: 'OutOfSync' }) }),
        facts({
          environment: 'a',
          render: differs,
          ...app({ targetRevision: 'fleet-promote/pr-8/a' }),
        }),
      ],
      { ...context, remoteBranches: new Set(['fleet-promote/pr-8/a']) },
    )
    expect(findings.map((f) => `${f.kind} ${f.environment}`)).toEqual([
      'wet a',
      'argocd b',
      'orphaned a',
    ])
  })
})
