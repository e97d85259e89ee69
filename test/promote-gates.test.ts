// The promotion decision as a table: facts in, verdict out, no simulator.
// The end-to-end tests (promote*.test.ts) keep a few of these cases on the
// simulators to show the facts are read as the table assumes.
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../actions/lib/config/config.js'
import { stageFor } from '../actions/lib/config/config.js'
import type { FleetConfig } from '../actions/lib/config/types.js'
import type { ChildPr, PullRequestSnapshot, Review } from '../actions/lib/github/pulls.js'
import type { HeldLock } from '../actions/lib/locks.js'
import type { CommitStatus } from '../actions/lib/statuses.js'
import {
  reviewsNeeded,
  type Impacted,
  type PromoteCommand,
  type PromoteFacts,
  type PullEnvironment,
} from '../actions/promote/facts.js'
import { landsWithLocks } from '../actions/promote/deploy.js'
import { decidePromotion, type PromoteDecision } from '../actions/promote/gates.js'

const HEAD = 'a'.repeat(40)
const OLD = 'b'.repeat(40)
/** The WET tip every child of `impacted` is built on. */
const WET = 'e'.repeat(40)
const REPO = { owner: 'acme', repo: 'fleet' }

const CONFIG = parseConfig(
  [
    'version: 1',
    'environments:',
    '  - glob: clusters/*/*',
    '    name: "{1}-{2}"',
    'stages:',
    '  - name: canary',
    '    match: ["*-canary-*"]',
    '    autoPromote: true',
    '    backend: merge',
    '  - name: testing',
    '    match: ["*-test-*"]',
    '    requires: []',
    '  - name: production',
    '    match: ["*-prod-*"]',
    '    requires: [testing]',
    '    approvals: 1',
    '    permission: maintain',
    'promote:',
    '  allowBots: ["trusted[bot]"]',
    'deploy:',
    '  backend: argocd',
    '  argocd:',
    '    server: https://argocd.example',
    '    application: "{name}-addons"',
  ].join('\n'),
  'fleet-promote.yaml',
)
/** Testing verifies with a Prometheus query that needs PROM_TOKEN. */
const VERIFY_CONFIG: FleetConfig = {
  ...CONFIG,
  stages: CONFIG.stages.map((stage) =>
    stage.name !== 'testing'
      ? stage
      : {
          ...stage,
          verify: {
            http: [],
            prometheus: [
              {
                name: 'error-rate',
                url: 'https://prometheus.example',
                query: 'up',
                condition: '== 1',
                times: 1,
                intervalSeconds: 10,
                tokenEnv: 'PROM_TOKEN',
              },
            ],
          },
        },
  ),
}

const PULL: PullRequestSnapshot = {
  number: 7,
  state: 'open',
  merged: false,
  draft: false,
  title: 'Bump cert-manager',
  author: 'alice',
  headSha: HEAD,
  headRef: 'feature/bump',
  headRepo: 'acme/fleet',
  baseRef: 'main',
  htmlUrl: 'https://github.test/acme/fleet/pull/7',
  createdAt: '2026-01-01T00:00:00Z',
}

let nextChild = 100
function impacted(environment: string, renderedFrom = HEAD): Impacted {
  const stage = stageFor(CONFIG, environment)
  if (!stage) throw new Error(`no stage for ${environment}`)
  const number = nextChild++
  const child: ChildPr = {
    environment,
    parent: PULL.number,
    number,
    url: `https://github.test/acme/fleet/pull/${number}`,
    state: 'open',
    merged: false,
    title: `${environment} from #7`,
    body: '',
    branch: `fleet-promote/pr-7/${environment}`,
    headSha: 'c'.repeat(40),
    base: `env/${environment}`,
    labels: [],
    marker: {
      version: 1,
      parent: PULL.number,
      environment,
      stage: stage.name,
      branch: `env/${environment}`,
      drySha: 'd'.repeat(40),
      headSha: renderedFrom,
      wetSha: WET,
    },
  }
  return { environment, stage, child }
}

/** Production deployed by the merge backend, which lands a shared child whole. */
const MERGE_PRODUCTION: FleetConfig = {
  ...CONFIG,
  stages: CONFIG.stages.map((stage) =>
    stage.name === 'production' ? { ...stage, backend: 'merge' } : stage,
  ),
}

/** One child of the shared WET branch `base` holding a folder per environment (open-child-prs' shape). */
function sharedChild(base: string, environments: string[], config = MERGE_PRODUCTION): Impacted[] {
  const number = nextChild++
  const unit = base.replaceAll('/', '-')
  return environments.map((environment) => {
    const stage = stageFor(config, environment)
    if (!stage) throw new Error(`no stage for ${environment}`)
    // A per-environment child made the branch's: one number, branch and marker for all.
    const { child } = impacted(environment)
    return {
      environment,
      stage,
      child: {
        ...child,
        number,
        url: `https://github.test/acme/fleet/pull/${number}`,
        title: `${base} from #7`,
        branch: `fleet-promote/pr-7/${unit}`,
        base,
        marker: {
          ...child.marker!,
          environment: unit,
          branch: base,
          environments,
          folders: Object.fromEntries(environments.map((name) => [name, name])),
        },
        unit,
        folder: environment,
      },
    }
  })
}

/** A production promotion of three environments on one shared child, approved, by a maintainer. */
function sharedProduction(
  targets: string[],
  config = MERGE_PRODUCTION,
  flags: { force?: boolean } = {},
): Partial<PromoteFacts> {
  return {
    ...maintainer,
    config,
    command: promoteCommand(targets, flags),
    reviews: [approval('april')],
    impacted: sharedChild('env/production', ['eu-prod-1', 'eu-prod-2', 'us-prod-1'], config),
    wetTips: new Map([['env/production', WET]]),
    places: SHARED_PLACES,
  }
}

/** Where the base configuration puts the shared production environments: a folder each. */
const SHARED_PLACES = new Map(
  ['eu-prod-1', 'eu-prod-2', 'us-prod-1'].map((name) => [
    name,
    { branch: 'env/production', folder: name },
  ]),
)

/** The shared production child with eu-prod-1's marker folder edited to `folder`. */
function editedFolder(folder: string | undefined): Partial<PromoteFacts> {
  const base = sharedProduction(['eu-prod-1'], CONFIG)
  return {
    ...base,
    impacted: base.impacted!.map((env) => {
      if (env.environment !== 'eu-prod-1') return env
      const child = { ...env.child }
      if (folder === undefined) delete child.folder
      else child.folder = folder
      return { ...env, child }
    }),
  }
}

/** The DRY base a child's render was made against, and the base branch tip now. */
const DRY_BASE = '4'.repeat(40)
const MAIN_NOW = '5'.repeat(40)

/** A child whose marker records the DRY base of its render and the base tip when it was built. */
function rendered(environment: string, baseTip: string): Impacted {
  const env = impacted(environment)
  const moved = baseTip === DRY_BASE ? {} : { baseMovedTo: baseTip }
  return {
    ...env,
    child: { ...env.child, marker: { ...env.child.marker!, dryBase: DRY_BASE, ...moved } },
  }
}

/** Built on the current WET tip after the base had moved past its render's DRY base. */
function behindBase(environment: string): Impacted {
  return rendered(environment, MAIN_NOW)
}

/** The status merge-cleanup sets on a child another parent landed under. */
function staleStatus(environment: string, next: string): Map<string, CommitStatus> {
  const context = `fleet-promote/${environment}`
  const description = `stale: #9 landed on env/${environment} since this render; ${next}`
  return new Map([[context, { context, state: 'pending', description }]])
}

const FLEET = ['eu-canary-1', 'eu-test-1', 'us-test-1', 'eu-prod-1', 'us-prod-1']

function success(...environments: string[]): Map<string, CommitStatus> {
  return new Map(
    environments.map((env) => [
      `fleet-promote/${env}`,
      { context: `fleet-promote/${env}`, state: 'success', description: 'deployed' },
    ]),
  )
}

function approval(login: string, commitId = HEAD, state = 'APPROVED'): Review {
  return { login, state, commitId }
}

function facts(overrides: Partial<PromoteFacts> = {}): PromoteFacts {
  return {
    trigger: 'comment',
    actor: { login: 'wendy', type: 'User' },
    command: promoteCommand(['testing']),
    repo: REPO,
    pull: PULL,
    config: CONFIG,
    pulls: [],
    impacted: FLEET.map((env) => impacted(env)),
    finished: [],
    role: 'write',
    reviews: [],
    statuses: new Map(),
    locks: new Map(),
    requiredRuns: new Map(),
    argocdToken: true,
    verifyTokens: new Set(),
    wetTips: new Map(FLEET.map((env) => [`env/${env}`, WET])),
    unlanded: [],
    ...overrides,
  }
}

function promoteCommand(
  targets: string[],
  flags: { noop?: boolean; allowDeletions?: boolean; force?: boolean } = {},
): PromoteCommand {
  const all = targets.length === 1 && targets[0] === 'all'
  return {
    kind: 'promote' as const,
    targets: all ? [] : targets,
    all,
    noop: flags.noop ?? false,
    allowDeletions: flags.allowDeletions ?? false,
    ...(flags.force ? { force: true as const } : {}),
  }
}

function wetRun(environment: string, withinHistory: boolean) {
  return {
    environment,
    branch: `env/${environment}`,
    drySha: (withinHistory ? 'd' : 'e').repeat(40),
    withinHistory,
  }
}

function finished(environment: string): PullEnvironment {
  const stage = stageFor(CONFIG, environment)
  if (!stage) throw new Error(`no stage for ${environment}`)
  return { environment, stage }
}

function status(
  environment: string,
  state: CommitStatus['state'],
  description: string,
): [string, CommitStatus] {
  return [
    `fleet-promote/${environment}`,
    { context: `fleet-promote/${environment}`, state, description },
  ]
}

function verdictOf(decision: PromoteDecision): string {
  switch (decision.verdict) {
    case 'refuse':
    case 'ignore':
    case 'done':
    case 'noop':
      return `${decision.verdict}: ${decision.reason}`
    case 'proceed':
      return `proceed: ${decision.plan.selected.map((env) => env.environment).join(' ')}`
  }
}

const heldBy = (environment: string, pr: number): HeldLock => ({
  environment,
  commit: 'e'.repeat(40),
  lock: { pr, actor: 'oscar', reason: 'kernel upgrade', sha: OLD, createdAt: '', id: 'x' },
})

const maintainer = { actor: { login: 'max', type: 'User' }, role: 'maintain' } as const

const CASES: { name: string; facts: Partial<PromoteFacts>; verdict: string | RegExp }[] = [
  { name: 'a writer promotes testing', facts: {}, verdict: 'proceed: eu-test-1 us-test-1' },
  {
    name: 'a merged PR',
    facts: { pull: { ...PULL, merged: true, state: 'closed' } },
    verdict: 'refuse: #7 is already merged',
  },
  {
    name: 'a closed PR',
    facts: { pull: { ...PULL, state: 'closed' } },
    verdict: 'refuse: #7 is closed',
  },
  {
    name: 'a draft',
    facts: { pull: { ...PULL, draft: true } },
    verdict: 'refuse: #7 is a draft; mark it ready for review first',
  },
  {
    name: 'a fork',
    facts: { pull: { ...PULL, headRepo: 'evil/fleet' } },
    verdict: 'refuse: #7 comes from a fork (evil/fleet); promote.allowForks is off',
  },
  {
    name: 'a deleted fork',
    facts: { pull: { ...PULL, headRepo: '' } },
    verdict: /from a fork \(deleted repository\)/,
  },
  {
    name: 'a child PR',
    facts: { pull: { ...PULL, headRef: 'fleet-promote/pr-3/eu-test-1' } },
    verdict: 'refuse: #7 is a child pull request; comment on its parent #3',
  },
  {
    name: 'no children yet',
    facts: { impacted: [] },
    verdict: 'refuse: #7 has no open child pull requests yet; wait for open-child-prs to finish',
  },
  {
    name: 'an unknown environment',
    facts: { command: promoteCommand(['xx-test-9']) },
    verdict:
      'refuse: unknown environment or stage "xx-test-9": it matches nothing this pull request impacts; impacted: eu-canary-1, eu-test-1, us-test-1, eu-prod-1, us-prod-1',
  },
  {
    name: 'a glob across stages',
    facts: { ...maintainer, command: promoteCommand(['eu-*']), reviews: [approval('april')] },
    verdict: 'proceed: eu-canary-1 eu-test-1 eu-prod-1',
  },
  {
    name: 'a glob within one stage',
    facts: { command: promoteCommand(['*-test-*']) },
    verdict: 'proceed: eu-test-1 us-test-1',
  },
  {
    name: 'a stage with nothing impacted',
    facts: {
      impacted: [impacted('eu-prod-1')],
      ...maintainer,
      command: promoteCommand(['testing']),
    },
    verdict: 'refuse: stage testing has no environment impacted by this pull request',
  },
  {
    name: 'a child rendered for an older head',
    facts: { impacted: [impacted('eu-test-1', OLD), impacted('us-test-1')] },
    verdict:
      'refuse: the child PRs of eu-test-1 were not rendered from the current head aaaaaaa; wait for open-child-prs to update them',
  },
  {
    name: 'a child built on an older WET tip (another parent landed since)',
    facts: { wetTips: new Map([['env/eu-test-1', 'f'.repeat(40)]]) },
    verdict:
      'refuse: the children of eu-test-1, us-test-1 were rendered before env/eu-test-1 moved to fffffff (and 1 other branch moved): push or re-run the pull request workflow to re-render',
  },
  {
    name: 'one child built on an older WET tip',
    facts: {
      wetTips: new Map([
        ['env/eu-test-1', 'f'.repeat(40)],
        ['env/us-test-1', WET],
      ]),
    },
    verdict:
      'refuse: the child of eu-test-1 was rendered before env/eu-test-1 moved to fffffff: push or re-run the pull request workflow to re-render',
  },
  {
    name: 'one child built on an older WET tip, its re-render requested by merge-cleanup',
    facts: {
      wetTips: new Map([
        ['env/eu-test-1', 'f'.repeat(40)],
        ['env/us-test-1', WET],
      ]),
      statuses: staleStatus('eu-test-1', 're-render requested'),
    },
    verdict:
      'refuse: the child of eu-test-1 was rendered before env/eu-test-1 moved to fffffff: a re-render is pending; promote again once it is done',
  },
  {
    name: 'a child built on the current WET tip from a test merge older than the base (a re-run before GitHub rebuilt it)',
    facts: { impacted: [behindBase('eu-test-1'), impacted('us-test-1')], baseTip: MAIN_NOW },
    verdict:
      'refuse: the child of eu-test-1 was rendered before main moved to 5555555: push or re-run the pull request workflow to re-render',
  },
  {
    name: 'a child rendered before the base moved, its re-render requested',
    facts: {
      impacted: [behindBase('eu-test-1'), impacted('us-test-1')],
      baseTip: MAIN_NOW,
      statuses: staleStatus('eu-test-1', 're-render requested'),
    },
    verdict:
      'refuse: the child of eu-test-1 was rendered before main moved to 5555555: a re-render is pending; promote again once it is done',
  },
  {
    name: 'a child rendered before the base moved, whose base branch is gone',
    facts: { impacted: [behindBase('eu-test-1'), impacted('us-test-1')], baseTip: '' },
    verdict:
      'refuse: the child of eu-test-1 was rendered before main moved to (deleted): push or re-run the pull request workflow to re-render',
  },
  {
    name: 'a child rendered before the base moved and one on an older WET tip',
    facts: {
      impacted: [behindBase('eu-test-1'), impacted('us-test-1')],
      baseTip: MAIN_NOW,
      wetTips: new Map([
        ['env/eu-test-1', WET],
        ['env/us-test-1', 'f'.repeat(40)],
      ]),
    },
    verdict:
      'refuse: the children of eu-test-1, us-test-1 were rendered before main moved to 5555555 (and 1 other branch moved): push or re-run the pull request workflow to re-render',
  },
  {
    // The merges since did not touch its WET branch: the render still holds everything merged for it.
    name: 'a child rendered from the base tip of its time, the base moved since but not its WET branch',
    facts: { impacted: [rendered('eu-test-1', DRY_BASE), impacted('us-test-1')] },
    verdict: 'proceed: eu-test-1 us-test-1',
  },
  {
    name: 'a child built after the base moved, the base back at its DRY base',
    facts: { impacted: [behindBase('eu-test-1'), impacted('us-test-1')], baseTip: DRY_BASE },
    verdict: 'proceed: eu-test-1 us-test-1',
  },
  {
    name: 'another parent merged, its child on a named environment still open (merge-cleanup has not run)',
    facts: { unlanded: [{ environment: 'eu-test-1', parent: 12, base: 'env/eu-test-1' }] },
    verdict:
      'refuse: eu-test-1 may lack what #12 changed: it is closed, but its child on env/eu-test-1 is still open (the closed workflow has not run yet); promote again once it has',
  },
  {
    name: 'a closed parent with children on two named environments',
    facts: {
      unlanded: [
        { environment: 'eu-test-1', parent: 12, base: 'env/eu-test-1' },
        { environment: 'us-test-1', parent: 12, base: 'env/us-test-1' },
      ],
    },
    verdict:
      'refuse: eu-test-1, us-test-1 may lack what #12 changed: it is closed, but its children on env/eu-test-1, env/us-test-1 are still open (the closed workflow has not run yet); promote again once it has',
  },
  {
    name: 'two closed parents on named environments',
    facts: {
      unlanded: [
        { environment: 'eu-test-1', parent: 12, base: 'env/eu-test-1' },
        { environment: 'eu-test-1', parent: 13, base: 'env/eu-test-1' },
      ],
    },
    verdict:
      'refuse: eu-test-1 may lack what #12 changed: it is closed, but its child on env/eu-test-1 is still open; eu-test-1 may lack what #13 changed: it is closed, but its child on env/eu-test-1 is still open (their closed workflows have not run yet); promote again once they have',
  },
  {
    name: 'a merged parent whose child merge-cleanup may have left open (merge.mergeUnpromoted: false)',
    facts: {
      config: { ...CONFIG, merge: { mergeUnpromoted: false } },
      unlanded: [{ environment: 'eu-test-1', parent: 12, base: 'env/eu-test-1' }],
    },
    verdict:
      'refuse: eu-test-1 may lack what #12 changed: it is closed, but its child on env/eu-test-1 is still open (the closed workflow has not run yet, or left it open: merge.mergeUnpromoted is false); promote again once it is merged or closed',
  },
  {
    name: "a closed parent's open child on an environment the command does not name",
    facts: { unlanded: [{ environment: 'eu-prod-1', parent: 12, base: 'env/eu-prod-1' }] },
    verdict: 'proceed: eu-test-1 us-test-1',
  },
  {
    name: 'a reader',
    facts: { actor: { login: 'rita' }, role: 'read' },
    verdict: 'refuse: rita has the read role; this needs write or higher',
  },
  {
    name: 'a non-collaborator',
    facts: { actor: { login: 'mallory' }, role: 'none' },
    verdict: 'refuse: mallory has the none role; this needs write or higher',
  },
  {
    name: 'a bot outside the allowlist',
    facts: { actor: { login: 'renovate[bot]', type: 'Bot' } },
    verdict: 'refuse: renovate[bot] is a bot and not in promote.allowBots',
  },
  {
    name: 'an allowlisted bot',
    facts: { actor: { login: 'trusted[bot]', type: 'Bot' } },
    verdict: 'proceed: eu-test-1 us-test-1',
  },
  {
    name: 'a writer to production',
    facts: { command: promoteCommand(['production']) },
    verdict: 'refuse: wendy has the write role; this needs maintain or higher',
  },
  {
    name: '--allow-deletions from a writer',
    facts: { command: promoteCommand(['testing'], { allowDeletions: true }) },
    verdict: 'refuse: --allow-deletions needs the maintain or admin role; wendy has write',
  },
  {
    name: 'production without an approval',
    facts: { ...maintainer, command: promoteCommand(['production']) },
    verdict: 'refuse: production needs 1 approving review of aaaaaaa; it has 0',
  },
  {
    name: 'production approved on an older commit only',
    facts: {
      ...maintainer,
      command: promoteCommand(['production']),
      reviews: [approval('april', OLD)],
      statuses: success('eu-test-1', 'us-test-1'),
    },
    verdict: `refuse: production needs 1 approving review of aaaaaaa; it has 0; the approval by april was for ${OLD.slice(0, 7)}; the head is aaaaaaa`,
  },
  {
    name: 'production approved by two on older commits',
    facts: {
      ...maintainer,
      command: promoteCommand(['production']),
      reviews: [approval('april', OLD), approval('bruno', OLD)],
      statuses: success('eu-test-1', 'us-test-1'),
    },
    verdict: `refuse: production needs 1 approving review of aaaaaaa; it has 0; the approvals by april (${OLD.slice(0, 7)}), bruno (${OLD.slice(0, 7)}) were for older commits; the head is aaaaaaa`,
  },
  {
    name: "the author's own approval",
    facts: {
      ...maintainer,
      command: promoteCommand(['production']),
      reviews: [approval('alice')],
      statuses: success('eu-test-1', 'us-test-1'),
    },
    verdict: /it has 0$/,
  },
  {
    name: 'an approval withdrawn by a later change request',
    facts: {
      ...maintainer,
      command: promoteCommand(['production']),
      reviews: [
        approval('april'),
        approval('april', HEAD, 'COMMENTED'),
        approval('april', HEAD, 'CHANGES_REQUESTED'),
      ],
      statuses: success('eu-test-1', 'us-test-1'),
    },
    verdict: /it has 0$/,
  },
  {
    name: 'production before testing succeeded',
    facts: { ...maintainer, command: promoteCommand(['production']), reviews: [approval('april')] },
    verdict:
      'refuse: production requires testing to succeed on aaaaaaa first; not yet: eu-test-1, us-test-1',
  },
  {
    name: 'production after testing succeeded',
    facts: {
      ...maintainer,
      command: promoteCommand(['production']),
      reviews: [approval('april')],
      statuses: success('eu-test-1', 'us-test-1'),
    },
    verdict: 'proceed: eu-prod-1 us-prod-1',
  },
  {
    name: 'all: testing runs first within the command',
    facts: { ...maintainer, command: promoteCommand(['all']), reviews: [approval('april')] },
    verdict: 'proceed: eu-canary-1 eu-test-1 us-test-1 eu-prod-1 us-prod-1',
  },
  {
    name: 'a render the deletion guard blocked',
    facts: {
      statuses: new Map([
        [
          'fleet-promote/eu-test-1',
          {
            context: 'fleet-promote/eu-test-1',
            state: 'failure',
            description: 'blocked: deletes 12 objects',
          },
        ],
      ]),
    },
    verdict:
      'refuse: the deletion guard blocked eu-test-1; a maintainer may override it for aaaaaaa with --allow-deletions',
  },
  {
    name: 'the deletion guard overridden by a maintainer',
    facts: {
      ...maintainer,
      command: promoteCommand(['testing'], { allowDeletions: true }),
      statuses: new Map([
        [
          'fleet-promote/eu-test-1',
          {
            context: 'fleet-promote/eu-test-1',
            state: 'failure',
            description: 'blocked: empty render',
          },
        ],
      ]),
    },
    verdict: 'proceed: eu-test-1 us-test-1',
  },
  {
    name: "a child whose marker records the guard's block, whatever its status says",
    facts: {
      impacted: FLEET.map((env) => {
        const entry = impacted(env)
        if (env !== 'us-test-1' || !entry.child.marker) return entry
        const guard = { reason: 'would delete protected Namespace web', deleted: 1 }
        return { ...entry, child: { ...entry.child, marker: { ...entry.child.marker, guard } } }
      }),
    },
    verdict:
      'refuse: the deletion guard blocked us-test-1; a maintainer may override it for aaaaaaa with --allow-deletions',
  },
  {
    name: 'an argocd stage without a token',
    facts: { argocdToken: false },
    verdict:
      'refuse: stage testing deploys with Argo CD: set deploy.argocd.server in fleet-promote.yaml and the argocd-token input',
  },
  {
    name: "a verify check's token set nowhere: refused before anything deploys",
    facts: { config: VERIFY_CONFIG },
    verdict:
      "refuse: check error-rate of stage testing: PROM_TOKEN is not set: pass it in the verify-env secret (PROM_TOKEN=...) or the promote step's env",
  },
  {
    name: "a verify check's token that is set",
    facts: { config: VERIFY_CONFIG, verifyTokens: new Set(['PROM_TOKEN']) },
    verdict: 'proceed: eu-test-1 us-test-1',
  },
  {
    name: 'another stage needs no verify token',
    facts: { config: VERIFY_CONFIG, command: promoteCommand(['canary']) },
    verdict: 'proceed: eu-canary-1',
  },
  {
    name: 'a merge stage needs no Argo CD token',
    facts: { argocdToken: false, command: promoteCommand(['canary']) },
    verdict: 'proceed: eu-canary-1',
  },
  {
    name: '--noop',
    facts: { command: promoteCommand(['testing'], { noop: true }) },
    verdict: 'noop: --noop: every check passed for aaaaaaa; nothing was deployed',
  },
  {
    name: '--noop with a lock held by another PR',
    facts: {
      command: promoteCommand(['testing'], { noop: true }),
      locks: new Map([['us-test-1', heldBy('us-test-1', 9)]]),
    },
    verdict:
      'noop: --noop: a promotion of aaaaaaa now would be refused: us-test-1 is locked by #9 (oscar, kernel upgrade); nothing was deployed',
  },
  {
    name: '--noop with this PR holding the lock',
    facts: {
      command: promoteCommand(['testing'], { noop: true }),
      locks: new Map([['us-test-1', heldBy('us-test-1', 7)]]),
    },
    verdict: /^noop: /,
  },
  {
    name: 'auto-promotion deploys the autoPromote stages without a role',
    facts: {
      trigger: 'auto',
      command: promoteCommand(['all']),
      actor: { login: 'github-actions[bot]' },
    },
    verdict: 'proceed: eu-canary-1',
  },
  {
    name: 'auto-promotion with no autoPromote stage impacted',
    facts: { trigger: 'auto', command: promoteCommand(['all']), impacted: [impacted('eu-test-1')] },
    verdict: 'ignore: no autoPromote stage is impacted',
  },
  {
    name: 'permission first: no role on a closed PR',
    facts: { actor: { login: 'mallory' }, role: 'none', pull: { ...PULL, state: 'closed' } },
    verdict: 'refuse: mallory has the none role; this needs write or higher',
  },
  {
    name: 'permission first: no role and an unknown target',
    facts: { actor: { login: 'mallory' }, role: 'none', command: promoteCommand(['xx-*']) },
    verdict: 'refuse: mallory has the none role; this needs write or higher',
  },
  {
    name: 'permission first: no role and no children',
    facts: { actor: { login: 'mallory' }, role: 'read', impacted: [] },
    verdict: 'refuse: mallory has the read role; this needs write or higher',
  },
  {
    name: 'repeating a promotion',
    facts: {
      statuses: new Map([status('eu-test-1', 'success', 'x'), status('us-test-1', 'success', 'y')]),
    },
    verdict:
      'done: already deployed at aaaaaaa: eu-test-1, us-test-1 (add --force to deploy again)',
  },
  {
    name: 'repeating a promotion with --force',
    facts: {
      command: promoteCommand(['testing'], { force: true }),
      statuses: new Map([status('eu-test-1', 'success', 'x'), status('us-test-1', 'success', 'y')]),
    },
    verdict: 'proceed: eu-test-1 us-test-1',
  },
  {
    name: 'repeating a promotion whose children were merged',
    facts: {
      command: promoteCommand(['testing'], { force: true }),
      impacted: [impacted('eu-prod-1')],
      finished: [finished('eu-test-1'), finished('us-test-1')],
      statuses: new Map([
        status('eu-test-1', 'success', 'merged #3 into env/eu-test-1 at ccccccc'),
        status('us-test-1', 'success', 'merged #4 into env/us-test-1 at ccccccc'),
      ]),
    },
    verdict: 'done: already deployed at aaaaaaa: eu-test-1, us-test-1',
  },
  {
    name: 'a stage half deployed: the rest only',
    facts: { statuses: new Map([status('eu-test-1', 'success', 'x')]) },
    verdict: 'proceed: us-test-1',
  },
  {
    name: 'production after testing was merged',
    facts: {
      ...maintainer,
      command: promoteCommand(['production']),
      reviews: [approval('april')],
      impacted: [impacted('eu-prod-1'), impacted('us-prod-1')],
      finished: [finished('eu-test-1'), finished('us-test-1')],
      statuses: success('eu-test-1', 'us-test-1'),
    },
    verdict: 'proceed: eu-prod-1 us-prod-1',
  },
  {
    name: 'production while a merged testing environment failed afterwards',
    facts: {
      ...maintainer,
      command: promoteCommand(['production']),
      reviews: [approval('april')],
      impacted: [impacted('eu-prod-1')],
      finished: [finished('eu-test-1')],
      statuses: new Map([status('eu-test-1', 'failure', 'Degraded')]),
    },
    verdict: 'refuse: production requires testing to succeed on aaaaaaa first; not yet: eu-test-1',
  },
  {
    name: 'an environment whose render failed has nothing to deploy',
    facts: {
      impacted: [impacted('us-test-1')],
      finished: [finished('eu-test-1')],
      statuses: new Map([status('eu-test-1', 'failure', 'render failed: bad kustomization')]),
    },
    verdict:
      'refuse: no open child pull request to deploy for eu-test-1 (render failed: bad kustomization)',
  },
  {
    name: '--noop before the approval: the verdicts, not a refusal',
    facts: {
      ...maintainer,
      command: promoteCommand(['production'], { noop: true }),
      statuses: success('eu-test-1', 'us-test-1'),
    },
    verdict:
      'noop: --noop: a promotion of aaaaaaa now would be refused: production needs 1 approving review of aaaaaaa; it has 0; nothing was deployed',
  },
  {
    name: '--noop still needs the role',
    facts: { command: promoteCommand(['production'], { noop: true }) },
    verdict: 'refuse: wendy has the write role; this needs maintain or higher',
  },
  {
    name: 'requires across PRs: production alone, testing runs this DRY history',
    facts: {
      ...maintainer,
      command: promoteCommand(['production']),
      reviews: [approval('april')],
      impacted: [impacted('eu-prod-1')],
      requiredRuns: new Map([
        ['testing', { runs: [wetRun('eu-test-1', true), wetRun('us-test-1', true)] }],
      ]),
    },
    verdict: 'proceed: eu-prod-1',
  },
  {
    name: 'requires across PRs: testing runs a commit outside this history',
    facts: {
      ...maintainer,
      command: promoteCommand(['production']),
      reviews: [approval('april')],
      impacted: [impacted('eu-prod-1')],
      requiredRuns: new Map([
        ['testing', { runs: [wetRun('eu-test-1', true), wetRun('us-test-1', false)] }],
      ]),
    },
    verdict:
      "refuse: production requires testing, which this pull request does not impact: its WET branches must run this pull request's DRY commit ddddddd or an ancestor first; not yet: us-test-1 runs eeeeeee (promote what testing is missing, or set promote.requiredStages: pull-request)",
  },
  {
    name: 'requires across PRs: a WET branch without hydrator.metadata',
    facts: {
      ...maintainer,
      command: promoteCommand(['production']),
      reviews: [approval('april')],
      impacted: [impacted('eu-prod-1')],
      requiredRuns: new Map([
        [
          'testing',
          { runs: [{ environment: 'eu-test-1', branch: 'env/eu-test-1', withinHistory: false }] },
        ],
      ]),
    },
    verdict: /not yet: eu-test-1 \(env\/eu-test-1 has no hydrator.metadata\)/,
  },
  {
    name: 'requires across PRs: the WET branches could not be read',
    facts: {
      ...maintainer,
      command: promoteCommand(['production']),
      reviews: [approval('april')],
      impacted: [impacted('eu-prod-1')],
      requiredRuns: new Map([['testing', { problem: 'GitHub truncated the file list of main' }]]),
    },
    verdict:
      'refuse: production requires testing, whose WET branches could not be read: GitHub truncated the file list of main',
  },
  {
    name: 'requires within the PR only (requiredStages: pull-request reads nothing)',
    facts: {
      ...maintainer,
      command: promoteCommand(['production']),
      reviews: [approval('april')],
      impacted: [impacted('eu-prod-1')],
    },
    verdict: 'proceed: eu-prod-1',
  },
  {
    name: 'one environment of a shared child on the merge backend (it would land them all)',
    facts: sharedProduction(['eu-prod-1']),
    verdict:
      'refuse: eu-prod-1 shares env/production with eu-prod-2, us-prod-1 (one child lands them together): promote them together, e.g. .promote production',
  },
  {
    name: 'a glob naming part of a shared child on the merge backend',
    facts: sharedProduction(['eu-prod-*']),
    verdict:
      'refuse: eu-prod-1, eu-prod-2 share env/production with us-prod-1 (one child lands them together): promote them together, e.g. .promote production',
  },
  {
    name: 'a --force subset of a shared child on the merge backend',
    facts: {
      ...sharedProduction(['eu-prod-1'], MERGE_PRODUCTION, { force: true }),
      statuses: success('eu-prod-1', 'eu-prod-2', 'us-prod-1'),
    },
    verdict: /^refuse: eu-prod-1 shares env\/production with eu-prod-2, us-prod-1 /,
  },
  {
    name: 'the whole shared child on the merge backend',
    facts: sharedProduction(['production']),
    verdict: 'proceed: eu-prod-1 eu-prod-2 us-prod-1',
  },
  {
    name: 'every environment of a shared child named one by one',
    facts: sharedProduction(['us-prod-1', 'eu-prod-2', 'eu-prod-1']),
    verdict: 'proceed: eu-prod-1 eu-prod-2 us-prod-1',
  },
  {
    name: "a child whose marker names another environment's folder",
    facts: editedFolder('eu-prod-2'),
    verdict:
      'refuse: the child of eu-prod-1 says folder eu-prod-2, the configuration says eu-prod-1: re-render (push or re-run the pull request workflow)',
  },
  {
    name: 'a shared child whose marker names no folder for the environment',
    facts: editedFolder(undefined),
    verdict:
      'refuse: the child of eu-prod-1 says folder (the branch root), the configuration says eu-prod-1: re-render (push or re-run the pull request workflow)',
  },
  {
    name: 'a child on another WET branch than the configuration says',
    facts: {
      ...sharedProduction(['eu-prod-1'], CONFIG),
      places: new Map([...SHARED_PLACES, ['eu-prod-1', { branch: 'env/eu', folder: 'eu-prod-1' }]]),
    },
    verdict:
      'refuse: the child of eu-prod-1 is on env/production, the configuration says env/eu: re-render (push or re-run the pull request workflow)',
  },
  {
    name: 'an environment the configuration does not place',
    facts: { ...sharedProduction(['eu-prod-1'], CONFIG), places: new Map() },
    verdict:
      'refuse: the configuration puts no environment eu-prod-1 in aaaaaaa or main: re-render (push or re-run the pull request workflow)',
  },
  {
    name: 'folders that could not be read',
    facts: {
      ...sharedProduction(['eu-prod-1'], CONFIG),
      places: {
        problem: 'GitHub truncated the file list of aaaaaaa; its environments are unknown',
      },
    },
    verdict:
      'refuse: the WET folders could not be checked against the configuration: GitHub truncated the file list of aaaaaaa; its environments are unknown',
  },
  {
    name: 'one environment of a shared child on the argocd backend (it deploys its folder alone)',
    facts: sharedProduction(['eu-prod-1'], CONFIG),
    verdict: 'proceed: eu-prod-1',
  },
]

describe('decidePromotion', () => {
  for (const testCase of CASES) {
    it(testCase.name, () => {
      const verdict = verdictOf(decidePromotion(facts(testCase.facts)))
      if (typeof testCase.verdict === 'string') expect(verdict).toBe(testCase.verdict)
      else expect(verdict).toMatch(testCase.verdict)
    })
  }

  it('plans stages in order, the Argo CD Applications and the lock reason', () => {
    const decision = decidePromotion(
      facts({ ...maintainer, command: promoteCommand(['all']), reviews: [approval('april')] }),
    )
    if (decision.verdict !== 'proceed') throw new Error(verdictOf(decision))
    const { plan } = decision
    expect(plan.pinned).toBe(HEAD)
    expect(plan.stages.map((stage) => stage.name)).toEqual(['canary', 'testing', 'production'])
    expect([...plan.applications]).toEqual([
      ['eu-test-1', 'eu-test-1-addons'],
      ['us-test-1', 'us-test-1-addons'],
      ['eu-prod-1', 'eu-prod-1-addons'],
      ['us-prod-1', 'us-prod-1-addons'],
    ])
    expect(plan.lockReason).toBe('promoted by max')
    expect(plan.notDeployed.map((row) => [row.environment, row.result])).toEqual(
      FLEET.map((env) => [env, 'not deployed']),
    )
    expect(decision.log).toEqual([
      'pinned aaaaaaa; selected eu-canary-1, eu-test-1, us-test-1, eu-prod-1, us-prod-1',
      'permission: ok: max has the maintain role; this needs maintain',
      'child PRs: ok: child PRs rendered from aaaaaaa',
      'folders: ok: no WET folders',
      'shared children: ok: no merge stage on a shared WET branch',
      'renders: ok: every child is built on its WET branch tip',
      'closed parents: ok: no closed parent has an open child here',
      'approvals: ok: 1 approving review of aaaaaaa (1 needed)',
      'deletion guard: ok: nothing blocked',
      'required stages: ok: none outside this command',
      'Argo CD: ok: server and token configured',
      'verify tokens: ok: no check needs a token',
      'Argo CD Applications: ok: 4 named',
    ])
  })

  it('records the override in the locks and says why it refused in the log', () => {
    const overridden = decidePromotion(
      facts({ ...maintainer, command: promoteCommand(['testing'], { allowDeletions: true }) }),
    )
    expect(overridden.verdict === 'proceed' && overridden.plan.lockReason).toBe(
      'deletion guard overridden for aaaaaaa',
    )
    const refused = decidePromotion(facts({ role: 'read' }))
    expect(refused.log.at(-1)).toBe('refused: wendy has the read role; this needs write or higher')
  })

  it('refuses an Application template it cannot expand', () => {
    const config = {
      ...CONFIG,
      deploy: { ...CONFIG.deploy, argocd: { ...CONFIG.deploy.argocd, application: '{cluster}' } },
    }
    expect(verdictOf(decidePromotion(facts({ config })))).toMatch(
      /^refuse: deploy.argocd.application: .*cluster/,
    )
  })

  it('answers unknown targets with the help', () => {
    const decision = decidePromotion(facts({ command: promoteCommand(['nope']) }))
    expect(decision.verdict === 'refuse' && decision.help).toBe(true)
  })

  it('lists every check of a dry run and refuses nothing a real run would only report', () => {
    const decision = decidePromotion(
      facts({
        ...maintainer,
        command: promoteCommand(['production'], { noop: true }),
        impacted: [impacted('eu-test-1'), impacted('eu-prod-1', OLD), impacted('us-prod-1')],
      }),
    )
    if (decision.verdict !== 'noop') throw new Error(verdictOf(decision))
    expect(decision.checks.map((c) => [c.gate, c.ok])).toEqual([
      ['permission', true],
      ['child PRs', false],
      ['folders', true],
      ['shared children', true],
      ['renders', true],
      ['closed parents', true],
      ['approvals', false],
      ['deletion guard', true],
      ['required stages', false],
      ['Argo CD', true],
      ['verify tokens', true],
      ['Argo CD Applications', true],
      ['locks', true],
    ])
    expect(decision.rows.map((row) => row.result)).toEqual(['would be refused', 'would be refused'])
  })

  it('reports a child rendered before the base moved as a failed renders check of a dry run', () => {
    const decision = decidePromotion(
      facts({
        command: promoteCommand(['testing'], { noop: true }),
        impacted: [behindBase('eu-test-1'), impacted('us-test-1')],
        baseTip: MAIN_NOW,
      }),
    )
    if (decision.verdict !== 'noop') throw new Error(verdictOf(decision))
    expect(decision.checks.find((c) => c.gate === 'renders')).toEqual({
      gate: 'renders',
      ok: false,
      detail:
        'the child of eu-test-1 was rendered before main moved to 5555555: push or re-run the pull request workflow to re-render',
    })
    expect(decision.reason).toBe(
      '--noop: a promotion of aaaaaaa now would be refused: the child of eu-test-1 was rendered before main moved to 5555555: push or re-run the pull request workflow to re-render; nothing was deployed',
    )
  })

  it('never shows a commenter without the role what the PR impacts', () => {
    const decision = decidePromotion(facts({ actor: { login: 'mallory' }, role: 'none' }))
    expect(decision.verdict === 'refuse' && decision.rows).toEqual([])
    expect(JSON.stringify(decision)).not.toMatch(/eu-test-1/)
  })

  it.each([
    // One deployment per environment: 4 content-creating requests each, 440 of GitHub's 500 an hour.
    { deployments: 'per-environment', count: 150, selected: 110, total: 600 },
    // The default records one deployment for the stage (3 requests) and a status per environment.
    { deployments: 'auto', count: 500, selected: 437, total: 503 },
  ] as const)(
    "deploys a stage too large for GitHub's hourly write budget in batches, saying so before it writes (deployments: $deployments)",
    ({ deployments, count, selected, total }) => {
      const many = Array.from({ length: count }, (_, i) => impacted(`eu-prod-${i + 1}`))
      const decision = decidePromotion(
        facts({
          ...maintainer,
          config: { ...CONFIG, deploy: { ...CONFIG.deploy, deployments } },
          command: promoteCommand(['production']),
          impacted: many,
          reviews: [approval('april')],
          wetTips: new Map(many.map((env) => [env.child.base, WET])),
        }),
      )
      if (decision.verdict !== 'proceed') throw new Error(verdictOf(decision))
      expect(decision.plan.selected.map((env) => env.environment)).toEqual(
        many.slice(0, selected).map((env) => env.environment),
      )
      expect(decision.plan.later.map((row) => [row.environment, row.result])).toEqual(
        many.slice(selected).map((env) => [env.environment, 'not deployed']),
      )
      expect(decision.plan.laterReason).toBe(
        `${count - selected} more environments left for the next run: deploying all ${count} needs about ${total} content-creating GitHub requests, over GitHub's 500 an hour; comment \`.promote production\` again to deploy the next batch (deployed ones are skipped)`,
      )
      // Both fill the same 440 requests the budget leaves.
      expect(decision.log).toContain(
        `batch: ${selected} of ${count} (~440 of ${total} content-creating requests)`,
      )
    },
  )

  it('deploys each environment of a shared child at the folder the configuration gives it', () => {
    const decision = decidePromotion(facts(sharedProduction(['production'], CONFIG)))
    if (decision.verdict !== 'proceed') throw new Error(verdictOf(decision))
    expect(decision.plan.selected.map((env) => [env.environment, env.child.folder])).toEqual([
      ['eu-prod-1', 'eu-prod-1'],
      ['eu-prod-2', 'eu-prod-2'],
      ['us-prod-1', 'us-prod-1'],
    ])
    expect(decision.log).toContain('folders: ok: every child is at its configured folder')
  })

  it('never splits a shared child the merge backend lands whole across batches', () => {
    // 120 environments × 4 requests is over the 440 the budget leaves: the child still goes whole.
    const eu = sharedChild(
      'env/eu',
      Array.from({ length: 120 }, (_, i) => `eu-prod-${i + 1}`),
    )
    const us = sharedChild('env/us', ['us-prod-1', 'us-prod-2'])
    const decision = decidePromotion(
      facts({
        ...maintainer,
        config: {
          ...MERGE_PRODUCTION,
          deploy: { ...MERGE_PRODUCTION.deploy, deployments: 'per-environment' },
        },
        command: promoteCommand(['production']),
        impacted: [...eu, ...us],
        reviews: [approval('april')],
        wetTips: new Map([
          ['env/eu', WET],
          ['env/us', WET],
        ]),
      }),
    )
    if (decision.verdict !== 'proceed') throw new Error(verdictOf(decision))
    expect(decision.plan.selected.map((env) => env.environment).sort()).toEqual(
      eu.map((env) => env.environment).sort(),
    )
    expect(decision.plan.later.map((row) => row.environment)).toEqual(['us-prod-1', 'us-prod-2'])
    expect(decision.log).toContain('batch: 120 of 122 (~480 of 488 content-creating requests)')
  })

  it('deploys a stage within the hourly write budget in one run', () => {
    const many = Array.from({ length: 5 }, (_, i) => impacted(`eu-prod-${i + 1}`))
    const small = decidePromotion(facts({ impacted: many.concat(FLEET.map((e) => impacted(e))) }))
    if (small.verdict !== 'proceed') throw new Error(verdictOf(small))
    expect(small.plan.later).toEqual([])
    expect(small.plan.laterReason).toBe('')
  })

  it('lists environments already deployed beside the ones it deploys', () => {
    const decision = decidePromotion(
      facts({
        statuses: new Map([
          status('eu-test-1', 'success', 'eu-test-1-addons Synced and Healthy at ccccccc'),
        ]),
      }),
    )
    if (decision.verdict !== 'proceed') throw new Error(verdictOf(decision))
    expect(
      decision.plan.already.map((row) => [
        row.environment,
        row.result,
        row.detail,
        row.links.length,
      ]),
    ).toEqual([
      ['eu-test-1', 'already deployed', 'eu-test-1-addons Synced and Healthy at ccccccc', 1],
    ])
    expect(decision.plan.selected.map((env) => env.environment)).toEqual(['us-test-1'])
  })
})

describe('landsWithLocks', () => {
  const landing = (overrides: Partial<PromoteFacts>) => {
    const all = facts(overrides)
    const decision = decidePromotion(all)
    if (decision.verdict !== 'proceed') throw new Error(verdictOf(decision))
    return landsWithLocks(decision.plan, all)?.map((child) => [child.environment, child.base])
  }
  it.each<[string, Partial<PromoteFacts>, string[][] | undefined]>([
    [
      'a merge-backend stage: its wave lands with the locks',
      { command: promoteCommand(['canary']) },
      [['eu-canary-1', 'env/eu-canary-1']],
    ],
    ['an argocd stage: the locks go alone', { command: promoteCommand(['testing']) }, undefined],
    [
      'several stages: only the first one, when it is the merge backend’s',
      { ...maintainer, command: promoteCommand(['all']), reviews: [approval('april')] },
      [['eu-canary-1', 'env/eu-canary-1']],
    ],
    [
      'a failed environment is retried: it lands with the locks too',
      {
        command: promoteCommand(['canary']),
        statuses: new Map([status('eu-canary-1', 'failure', 'x')]),
      },
      [['eu-canary-1', 'env/eu-canary-1']],
    ],
  ])('%s', (_, overrides, children) => {
    expect(landing(overrides)).toEqual(children)
  })
})

describe('reviewsNeeded', () => {
  // Only production needs an approval: reading the reviews for anything else is a wasted request.
  it.each<[string, 'comment' | 'auto', string[], boolean]>([
    ['a stage without approvals', 'comment', ['testing'], false],
    ['a stage with approvals', 'comment', ['production'], true],
    ['an environment of a stage without approvals', 'comment', ['eu-test-1'], false],
    ['an environment of the approving stage', 'comment', ['eu-prod-1'], true],
    ['one of several targets reaches it', 'comment', ['testing', 'eu-prod-2'], true],
    ['a glob may reach any stage', 'comment', ['eu-*'], true],
    ['all', 'comment', ['all'], true],
    ['an environment no stage matches is never selected', 'comment', ['eu-other-1'], false],
    ['auto-promotion deploys the autoPromote stages only', 'auto', [], false],
  ])('%s', (_, trigger, targets, needed) => {
    expect(reviewsNeeded(CONFIG, trigger, promoteCommand(targets))).toBe(needed)
  })
})
