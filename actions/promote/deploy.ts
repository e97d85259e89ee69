// Acting on a decided plan (gates.ts): take the locks, make sure the head did
// not move, deploy stage by stage through the backends, give back the locks
// of environments that did not end up running this PR (their clusters back on
// the WET branch first). When the first stage is the merge backend's, its
// first wave's landing goes in the push that takes the locks (the head is
// checked before it): one push, all or nothing.

import { stageFor } from '../lib/config/config.js'
import type { StageConfig } from '../lib/config/types.js'
import { StatusWriter } from '../lib/github/status-board.js'
import { environmentContext, type CommitStatus } from '../lib/statuses.js'
import {
  deployEnvironment,
  reportFailure,
  deploymentContext,
  type DeployContext,
  type DeployTarget,
  type EnvironmentOutcome,
} from './backends.js'
import {
  existingDeployments,
  finishStageDeployment,
  stageScopes,
  startStageDeployment,
} from './deployments.js'
import { recheckHead, type Impacted, type PromoteFacts, type PullEnvironment } from './facts.js'
import type { DeployPlan } from './gates.js'
import type { HeldLock } from '../lib/locks.js'
import { landByPush, type LandingChild } from './landing.js'
import { acquireAll, acquireAndLand, releaseAcquired } from './locking.js'
import { clustersStillOnChild, rollBackFailed } from './restore.js'
import { verifyToken, type RunState } from './run.js'
import { deployStageInWaves, firstWave } from './wave-deploy.js'
import type { WavePlan } from './waves.js'

export type PlanRun =
  | { refusal: string }
  | (StagesRun & {
      /** Locks kept after a failure because Argo CD could not say the cluster left the child. */
      kept: string[]
    })

interface StagesRun {
  outcomes: EnvironmentOutcome[]
  /** Where each stage deployed in waves stands after this run. */
  waves: WavePlan[]
}

export async function executePlan(
  state: RunState,
  facts: PromoteFacts,
  plan: DeployPlan,
): Promise<PlanRun> {
  const { client, repo } = state.settings
  const together = landsWithLocks(plan, facts)
  let locked: { created: HeldLock[]; landed?: Set<string> } | undefined
  if (together) {
    // The head is checked before the push that lands; after it nothing refuses.
    const moved = await recheckHead(client, repo, state.pull.number, plan.pinned)
    if (moved) return { refusal: moved.reason }
    locked = await acquireAndLand(state, plan.selected, plan.lockReason, together)
  }
  const acquired = locked ?? (await acquireAll(state, plan.selected, plan.lockReason))
  if ('refusal' in acquired) return acquired

  // Locks stay with environments this PR now runs on; the rest taken in this run
  // go back, whatever happens (a refusal, a failure, an exception).
  let outcomes: EnvironmentOutcome[] = []
  let waves: WavePlan[] = []
  let stuck = new Map<string, string>()
  try {
    const moved = locked
      ? undefined
      : await recheckHead(client, repo, state.pull.number, plan.pinned)
    if (moved) return { refusal: moved.reason }
    const deployments = await existingDeployments(client, repo, plan.pinned)
    const run = await deployStages(state, plan, facts, deployments, locked?.landed ?? new Set())
    outcomes = run.outcomes
    waves = run.waves
  } finally {
    const keep = new Set(
      outcomes
        .filter((o) => o.result === 'success' || o.result === 'waiting' || leftOnChild(o, plan))
        .map((o) => o.environment),
    )
    const giveBack = acquired.created.filter((lock) => !keep.has(lock.environment))
    // A cluster left on the child of a failed deploy goes back first; if it cannot, the lock stays.
    stuck = await clustersStillOnChild(
      state,
      plan.selected,
      giveBack.map((lock) => lock.environment),
    )
    await releaseAcquired(
      state,
      giveBack.filter((lock) => !stuck.has(lock.environment)),
    )
  }
  return { outcomes, waves, kept: [...stuck.keys()] }
}

/**
 * The children whose landing goes in the lock push: the first wave of a
 * merge-backend first stage whose requirements are met, as nothing between
 * taking the locks and that landing can refuse. Undefined otherwise.
 */
export function landsWithLocks(
  plan: Pick<DeployPlan, 'stages' | 'selected'>,
  facts: PromoteFacts,
): LandingChild[] | undefined {
  const stage = plan.stages[0]
  if (stage?.backend !== 'merge') return undefined
  const impacted = [...facts.impacted, ...facts.finished]
  if (unmetRequirement(stage, impacted, succeededContexts(facts.statuses))) return undefined
  const envs = plan.selected.filter((env) => env.stage.name === stage.name)
  const wave = new Set(firstWave(stage, envs, facts))
  const children = envs.filter((env) => wave.has(env.environment)).map(landingChild)
  return children.length > 0 ? children : undefined
}

function landingChild(env: Impacted): LandingChild {
  return {
    environment: env.environment,
    branch: env.child.branch,
    headSha: env.child.headSha,
    base: env.child.base,
  }
}

function succeededContexts(statuses: ReadonlyMap<string, CommitStatus>): Set<string> {
  return new Set(
    [...statuses].filter(([, status]) => status.state === 'success').map(([context]) => context),
  )
}

async function deployStages(
  state: RunState,
  plan: DeployPlan,
  facts: PromoteFacts,
  deployments: ReadonlyMap<string, number>,
  /** Environments whose child landed with the locks. */
  prelanded: ReadonlySet<string>,
): Promise<StagesRun> {
  const { settings, pull } = state
  const ctx = deployContext(state, deployments, facts.statuses)
  const impacted = [...facts.impacted, ...facts.finished]
  const scopes = stageScopes(state.config.deploy.deployments, impacted)
  const outcomes: EnvironmentOutcome[] = []
  const waves: WavePlan[] = []
  const succeeded = succeededContexts(facts.statuses)
  // per-stage: each wave's changes go on the boards when it ends, and whatever a failure
  // left (per-environment writes as it goes).
  try {
    for (const stage of plan.stages) {
      const envs = plan.selected.filter((env) => env.stage.name === stage.name)
      const unmet = unmetRequirement(stage, impacted, succeeded)
      if (unmet) {
        for (const env of envs) {
          outcomes.push(skipped(env, `not deployed: ${unmet} did not succeed in this run`))
        }
        continue
      }
      const scope = scopes.get(stage.name) ?? 'environment'
      const stageDeployment =
        scope === 'stage'
          ? await startStageDeployment(
              deploymentContext(ctx),
              { ...stage, external: stage.backend === 'external' },
              envs.map((env) => env.child.number),
              `${ctx.repoUrl}/pull/${pull.number}`,
            )
          : undefined
      const landed = new Set(prelanded)
      const run = await deployStageInWaves(stage, envs, facts, {
        defaultParallel: settings.concurrency ?? 4,
        ...(stage.backend === 'merge'
          ? {
              beforeWave: async (wave: readonly Impacted[]) => {
                const children = wave
                  .filter((env) => !prelanded.has(env.environment))
                  .map(landingChild)
                for (const env of await landByPush(settings.locks, children, settings.log))
                  landed.add(env)
              },
            }
          : {}),
        deploy: async (env) => {
          const target = {
            ...deployTarget(env, plan, scope === 'environment'),
            landed: landed.has(env.environment),
          }
          const outcome = await rollBackFailed(state, env, await deployEnvironment(ctx, target))
          if (outcome.result === 'failure') await reportFailure(ctx, target, outcome.detail)
          return outcome
        },
        afterWave: () => ctx.statuses.flush(),
        log: settings.log,
        ...(state.live ? { onProgress: (waves: WavePlan) => state.live?.progress(waves) } : {}),
      })
      if (stageDeployment)
        await finishStageDeployment(
          deploymentContext(ctx),
          stageDeployment,
          run.outcomes.map((outcome) => outcome.result),
        )
      if (stage.waves.length > 0) waves.push(run.waves)
      for (const outcome of run.outcomes) {
        outcomes.push(outcome)
        // This run's verdict replaces what the statuses said before it.
        if (outcome.result === 'success') succeeded.add(environmentContext(outcome.environment))
        else succeeded.delete(environmentContext(outcome.environment))
      }
      settings.log(
        `stage ${stage.name} of #${pull.number}: ${run.outcomes.map((r) => `${r.environment}=${r.result}`).join(', ')}`,
      )
    }
  } finally {
    await ctx.statuses.flush()
  }
  return { outcomes, waves }
}

/** A failed argocd environment of a stage with `rollback: false`: its cluster stays on the child, and so does its lock. */
function leftOnChild(outcome: EnvironmentOutcome, plan: DeployPlan): boolean {
  const stage = plan.stages.find((s) => s.name === outcome.stage)
  return outcome.result === 'failure' && outcome.backend === 'argocd' && stage?.rollback === false
}

/** A stage required from within this command must have succeeded in this run. */
function unmetRequirement(
  stage: StageConfig,
  impacted: readonly PullEnvironment[],
  succeeded: ReadonlySet<string>,
): string | undefined {
  return stage.requires.find((required) =>
    impacted.some(
      (env) => env.stage.name === required && !succeeded.has(environmentContext(env.environment)),
    ),
  )
}

function deployTarget(env: Impacted, plan: DeployPlan, recordDeployment: boolean): DeployTarget {
  const application = plan.applications.get(env.environment)
  return {
    recordDeployment,
    environment: env.environment,
    stage: env.stage.name,
    backend: env.stage.backend,
    child: env.child,
    production: env.stage.production,
    bakeSeconds: env.stage.bakeSeconds,
    verify: env.stage.verify,
    ...(application !== undefined ? { application } : {}),
  }
}

function deployContext(
  state: RunState,
  deployments: ReadonlyMap<string, number>,
  statuses: ReadonlyMap<string, CommitStatus>,
): DeployContext {
  const { settings, config, pull } = state
  const writer = new StatusWriter(settings.client, settings.repo, pull.headSha, {
    mode: config.statuses,
    stageOf: (environment) => stageFor(config, environment)?.name,
    current: new Map(statuses),
    ...(settings.runUrl ? { runUrl: settings.runUrl } : {}),
  })
  const argocdServer = config.deploy.argocd.server
  const argocdClient = argocdServer && settings.argocd ? settings.argocd(argocdServer) : undefined
  return {
    client: settings.client,
    repo: settings.repo,
    parent: pull.number,
    parentSha: pull.headSha,
    repoUrl: `${settings.serverUrl}/${settings.repo.owner}/${settings.repo.repo}`,
    ...(argocdClient
      ? {
          argocd: {
            client: argocdClient,
            timeoutMs: config.deploy.argocd.timeoutSeconds * 1000,
            pollMs: settings.argocdPollMs,
          },
        }
      : {}),
    externalSystem: config.deploy.external.system,
    checks: { secret: (name) => verifyToken(settings, name) },
    deployments,
    ...(settings.runUrl ? { runUrl: settings.runUrl } : {}),
    statuses: writer,
    merges: new Map(),
    log: settings.log,
    ...(settings.now ? { now: settings.now } : {}),
  }
}

function skipped(env: Impacted, detail: string): EnvironmentOutcome {
  return {
    environment: env.environment,
    stage: env.stage.name,
    backend: env.stage.backend,
    result: 'skipped',
    detail,
    child: { number: env.child.number, url: env.child.url },
    durationMs: 0,
  }
}
