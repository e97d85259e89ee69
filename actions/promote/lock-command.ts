// `.lock` and `.unlock`: environment locks held by the parent pull request.

import type { Permission } from '../lib/config/types.js'
import { listOpenPulls } from '../lib/github/pulls.js'
import { describeHolder, readLock, releaseLock } from '../lib/locks.js'
import { impactedOf, readPlaces, repositoryRole } from './facts.js'
import {
  atConfiguredFolder,
  checkActor,
  highestPermission,
  misplaced,
  placesUnknown,
  plannedRow,
  resolveTargets,
  stagesIn,
} from './gates.js'
import { acquireAll } from './locking.js'
import { restoreClusters, restoreContext } from './restore.js'
import type { ReplyRow } from './reply.js'
import { actorFields, done, list, refuse, type PromoteResult, type RunState } from './run.js'

export async function lockCommand(
  state: RunState,
  kind: 'lock' | 'unlock',
  targets: readonly string[],
  reason: string,
): Promise<PromoteResult> {
  const { settings, pull, config } = state
  const { client, repo } = settings
  const actor = actorFields(state)
  const role = await repositoryRole(client, repo, actor.login)
  // Permission first: a commenter without the role learns nothing about the PR.
  const allowed = checkActor({ ...actor, role, minimum: config.promote.permission, config })
  if (allowed) return refuse(state, allowed.reason, [])
  const pulls = await listOpenPulls(client, repo)
  const impacted = impactedOf(config, repo, pull.number, pulls)
  const resolved = resolveTargets(targets, false, impacted, config)
  if ('error' in resolved) return refuse(state, resolved.error, [], { help: true })
  const stages = stagesIn(config, resolved.selected)
  const minimum: Permission = highestPermission([
    config.promote.permission,
    ...stages.map((stage) => stage.permission),
  ])
  const actorRefusal = checkActor({ ...actor, role, minimum, config })
  if (actorRefusal) return refuse(state, actorRefusal.reason, [])

  return kind === 'lock'
    ? lockAll(state, resolved.selected, reason)
    : unlockAll(state, resolved.selected)
}

type Targets = Parameters<typeof acquireAll>[1]

async function lockAll(state: RunState, selected: Targets, reason: string): Promise<PromoteResult> {
  const { pull } = state
  const acquired = await acquireAll(state, selected, reason)
  if ('refusal' in acquired) return refuse(state, acquired.refusal, [])
  const rows = selected.map((env) =>
    plannedRow(env, '🔒 locked', `held by #${pull.number}${reason ? `: ${reason}` : ''}`),
  )
  return done(
    state,
    `locked ${list(selected.map((env) => env.environment))} for #${pull.number}`,
    rows,
  )
}

async function unlockAll(state: RunState, selected: Targets): Promise<PromoteResult> {
  const { client, repo } = state.settings
  const { pull } = state
  const rows: ReplyRow[] = []
  let refused = false
  // A cluster goes back to the folder the base configuration gives it, never
  // to one a child's marker (an editable PR body) names: a marker that
  // disagrees keeps the lock until the child is re-rendered.
  const places = await readPlaces(client, repo, state.config, pull, selected)
  if (places && 'problem' in places)
    return refuse(state, `${placesUnknown(places.problem)}; the locks stay`, [])
  const wrong = new Map(
    selected.flatMap((env) => {
      const why =
        places && env.stage.backend === 'argocd' ? misplaced(pull, places, env) : undefined
      return why ? [[env.environment, why] as const] : []
    }),
  )
  // A cluster on this parent's child goes back to its WET branch before its lock does.
  const restored = await restoreClusters(
    restoreContext(state),
    selected
      .filter((env) => !wrong.has(env.environment))
      .map((env) => atConfiguredFolder(places, env)),
  )
  const stuck = new Set<string>()
  for (const env of selected) {
    const why = wrong.get(env.environment)
    if (why) {
      refused = true
      rows.push(plannedRow(env, '⛔ still locked', why))
      continue
    }
    const cluster = restored.get(env.environment)
    if (cluster?.result === 'failed') {
      refused = true
      stuck.add(env.environment)
      rows.push(plannedRow(env, '⛔ still locked', cluster.detail))
      continue
    }
    const result = await releaseLock(client, repo, env.environment, pull.number)
    if (result === 'conflict') refused = true
    const held = result === 'conflict' ? await readLock(client, repo, env.environment) : undefined
    // The reply says where the cluster went, as every lock given back must.
    const back =
      cluster?.result === 'reset' ? `Argo CD ${cluster.application} back on ${env.child.base}` : ''
    rows.push(
      plannedRow(
        env,
        result === 'released' ? '🔓 unlocked' : result === 'absent' ? 'not locked' : '⛔ not yours',
        held ? describeHolder(held) : back,
      ),
    )
  }
  if (refused)
    return refuse(
      state,
      wrong.size > 0
        ? `${[...wrong.values()].join('; ')}: re-render (push or re-run the pull request workflow), then unlock; the locks stay`
        : stuck.size > 0
          ? `the clusters of ${list([...stuck])} still run this pull request's child and could not be put back on their WET branch; their locks stay`
          : 'some environments are locked by another pull request; only its own runs or merge-cleanup release them',
      rows,
    )
  return done(state, `unlocked ${list(selected.map((env) => env.environment))}`, rows)
}
