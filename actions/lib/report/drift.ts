// The three kinds of drift, decided from a plain facts record (no I/O):
//   wet       the WET branch is not the render of the DRY branch HEAD;
//   argocd    the Application does not run its WET branch tip, or is OutOfSync/Degraded;
//   orphaned  the Application runs the child branch of a parent that is closed or gone.
// Each finding carries the one command (or link) that fixes it.
import { parseChildBranch } from '../children.js'
import type { DriftFinding, PromotionInProgress } from './types.js'

/** How the WET branch compares with a fresh render of the DRY branch HEAD. */
export type RenderFacts =
  | { status: 'same' }
  | {
      status: 'differs'
      added: number
      changed: number
      deleted: number
      objects: readonly string[]
    }
  | { status: 'missing' }
  | { status: 'failed'; reason: string }

/** What Argo CD says about the environment's Application (from one list call). */
export type ApplicationFacts =
  | { found: false; name: string }
  | {
      found: true
      name: string
      /** The targetRevision of the source that is this repository. */
      targetRevision?: string
      sync?: string
      /** The synced revision(s). */
      revisions: string[]
      health?: string
      healthMessage?: string
    }

export interface EnvironmentFacts {
  environment: string
  path: string
  branch: string
  wetSha: string
  /** `hydrator.metadata` drySha of the WET tip. */
  wetDrySha?: string
  /** Absent when the render check was not run. */
  render?: RenderFacts
  /** Absent when the environment is not deployed through Argo CD or Argo CD was not read. */
  application?: ApplicationFacts
}

export type ParentState = 'open' | 'closed' | 'merged' | 'missing'

export interface DriftContext {
  dryBranch: string
  drySha: string
  /** Every branch on the remote (`git ls-remote`), for child branches that are gone. */
  remoteBranches: ReadonlySet<string>
  /** Parent pull request states from GitHub; absent when GitHub was not asked (local CLI). */
  parents?: ReadonlyMap<number, ParentState>
  /** Web URL of the repository (`https://github.com/o/r`), for links. */
  repositoryUrl?: string
  /** Argo CD server URL, for links. */
  argocdServer?: string
}

const short = (sha: string | undefined) => (sha ? sha.slice(0, 7) : '(none)')

function wetFinding(
  facts: EnvironmentFacts,
  render: RenderFacts,
  context: DriftContext,
): DriftFinding | undefined {
  if (render.status === 'same' || render.status === 'failed') return undefined
  const fix = `fleet-promote render --env ${facts.path} --remote origin --push`
  if (render.status === 'missing') {
    return {
      kind: 'wet',
      environment: facts.environment,
      problems: [`WET branch ${facts.branch} does not exist`],
      command: fix,
    }
  }
  const counts = [
    render.added ? `${render.added} added` : '',
    render.changed ? `${render.changed} changed` : '',
    render.deleted ? `${render.deleted} deleted` : '',
  ].filter(Boolean)
  const why =
    facts.wetDrySha === undefined
      ? `${facts.branch} has no hydrator.metadata: it was not written by fleet-promote`
      : facts.wetDrySha === context.drySha
        ? `${facts.branch} says it is the render of ${short(facts.wetDrySha)} (the HEAD), so it was changed by hand`
        : `${facts.branch} is the render of ${short(facts.wetDrySha)}, not of ${context.dryBranch} ${short(context.drySha)}: a merge never landed, or the branch was pushed to`
  const objects = render.objects.slice(0, 5).join(', ')
  const more = render.objects.length > 5 ? ` and ${render.objects.length - 5} more` : ''
  return {
    kind: 'wet',
    environment: facts.environment,
    problems: [
      `${counts.join(', ')} compared with the render of ${context.dryBranch} ${short(context.drySha)}${objects ? ` (${objects}${more})` : ''}`,
      why,
    ],
    command: fix,
  }
}

function applicationLink(context: DriftContext, name: string) {
  return context.argocdServer
    ? {
        text: `${name} in Argo CD`,
        url: `${context.argocdServer}/applications/${encodeURIComponent(name)}`,
      }
    : undefined
}

function pullLink(context: DriftContext, parent: number) {
  return context.repositoryUrl
    ? { text: `#${parent}`, url: `${context.repositoryUrl}/pull/${parent}` }
    : undefined
}

type ApplicationVerdict = { finding: DriftFinding } | { promotion: PromotionInProgress } | undefined

type FoundApplication = Extract<ApplicationFacts, { found: true }>

function withLink(finding: DriftFinding, link: DriftFinding['link']): DriftFinding {
  return link ? { ...finding, link } : finding
}

function applicationVerdict(facts: EnvironmentFacts, context: DriftContext): ApplicationVerdict {
  const app = facts.application
  if (!app) return undefined
  if (!app.found) return missingApplication(facts, app, context)
  if ((app.targetRevision ?? '') !== facts.branch) return offBranchVerdict(facts, app, context)
  return syncVerdict(facts, app, context)
}

function missingApplication(
  facts: EnvironmentFacts,
  app: ApplicationFacts,
  context: DriftContext,
): ApplicationVerdict {
  const finding: DriftFinding = {
    kind: 'argocd',
    environment: facts.environment,
    problems: [
      `Argo CD has no Application ${app.name} (deploy.argocd.application): nothing deploys ${facts.branch}`,
    ],
  }
  const link = context.argocdServer
    ? { text: 'Argo CD applications', url: `${context.argocdServer}/applications` }
    : undefined
  return { finding: withLink(finding, link) }
}

/** An Application off its WET branch: a promotion under way, an orphan, or a wrong target. */
function offBranchVerdict(
  facts: EnvironmentFacts,
  app: FoundApplication,
  context: DriftContext,
): ApplicationVerdict {
  const target = app.targetRevision ?? ''
  const reset = `argocd app set ${app.name} --revision ${facts.branch}`
  const child = parseChildBranch(target)
  if (child && child.environment === facts.environment) {
    const gone = !context.remoteBranches.has(target)
    const state = context.parents?.get(child.parent)
    if (gone || (state !== undefined && state !== 'open')) {
      const why = gone
        ? `branch ${target} no longer exists`
        : `parent #${child.parent} is ${state === 'missing' ? 'not a pull request' : state}`
      return {
        finding: withLink(
          {
            kind: 'orphaned',
            environment: facts.environment,
            problems: [`${app.name} runs ${target}, but ${why}`],
            command: reset,
          },
          pullLink(context, child.parent),
        ),
      }
    }
    return {
      promotion: {
        environment: facts.environment,
        application: app.name,
        parent: child.parent,
        branch: target,
      },
    }
  }
  return {
    finding: withLink(
      {
        kind: 'argocd',
        environment: facts.environment,
        problems: [
          `${app.name} targets ${target || '(no revision)'}, not its WET branch ${facts.branch}`,
        ],
        command: reset,
      },
      applicationLink(context, app.name),
    ),
  }
}

/** An Application on its WET branch: behind the tip, out of sync or unhealthy. */
function syncVerdict(
  facts: EnvironmentFacts,
  app: FoundApplication,
  context: DriftContext,
): ApplicationVerdict {
  const problems: string[] = []
  let command: string | undefined
  if (facts.wetSha !== '' && !app.revisions.includes(facts.wetSha)) {
    problems.push(
      `${app.name} is synced to ${short(app.revisions[0])}, the WET tip is ${short(facts.wetSha)}`,
    )
    command = `argocd app sync ${app.name} --revision ${facts.branch}`
  }
  if (app.sync !== undefined && app.sync !== 'Synced') {
    problems.push(`${app.name} is ${app.sync}`)
    command ??= `argocd app sync ${app.name}`
  }
  if (app.health === 'Degraded' || app.health === 'Missing') {
    problems.push(
      `${app.name} is ${app.health}${app.healthMessage ? `: ${app.healthMessage}` : ''}`,
    )
  }
  if (problems.length === 0) return undefined
  const finding: DriftFinding = {
    kind: 'argocd',
    environment: facts.environment,
    problems,
    ...(command ? { command } : {}),
  }
  return { finding: withLink(finding, applicationLink(context, app.name)) }
}

/** Drift findings (sorted by kind, then environment) and the promotions under way. */
export function classifyDrift(
  environments: readonly EnvironmentFacts[],
  context: DriftContext,
): { findings: DriftFinding[]; promotions: PromotionInProgress[] } {
  const findings: DriftFinding[] = []
  const promotions: PromotionInProgress[] = []
  for (const facts of environments) {
    const wet = facts.render ? wetFinding(facts, facts.render, context) : undefined
    if (wet) findings.push(wet)
    const verdict = applicationVerdict(facts, context)
    if (verdict && 'finding' in verdict) findings.push(verdict.finding)
    if (verdict && 'promotion' in verdict) promotions.push(verdict.promotion)
  }
  const order = { wet: 0, argocd: 1, orphaned: 2 }
  findings.sort(
    (a, b) =>
      order[a.kind] - order[b.kind] ||
      (a.environment < b.environment ? -1 : a.environment > b.environment ? 1 : 0),
  )
  promotions.sort((a, b) => (a.environment < b.environment ? -1 : 1))
  return { findings, promotions }
}
