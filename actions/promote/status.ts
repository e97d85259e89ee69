// `.status`: every environment the pull request impacts (open children and
// environments whose child already merged), with its state on the head, where
// it is deployed, and who holds its lock.

import { listOpenPulls } from '../lib/github/pulls.js'
import { readStatuses } from '../lib/github/status-board.js'
import { describeHolder, locksOf, type HeldLock } from '../lib/locks.js'
import type { CommitStatus } from '../lib/statuses.js'
import { finishedOf, impactedOf, repositoryRole, statusOf, type PullEnvironment } from './facts.js'
import { checkActor, stagesIn, statusLink } from './gates.js'
import type { ReplyRow } from './reply.js'
import { planWaves, progressOf, rowsByWave, waveSection } from './waves.js'
import { actorFields, done, refuse, type PromoteResult, type RunState } from './run.js'

export async function showStatus(state: RunState): Promise<PromoteResult> {
  const { settings, pull, config } = state
  const { client, repo } = settings
  const actor = actorFields(state)
  const role = await repositoryRole(client, repo, actor.login)
  const refusal = checkActor({ ...actor, role, minimum: config.promote.permission, config })
  if (refusal) return refuse(state, refusal.reason, [])
  const [pulls, statuses] = await Promise.all([
    listOpenPulls(client, repo),
    readStatuses(client, repo, pull.headSha, config.statuses),
  ])
  const impacted = impactedOf(config, repo, pull.number, pulls)
  const envs: PullEnvironment[] = [...impacted, ...finishedOf(config, impacted, statuses)]
  const locks = await locksOf(
    client,
    repo,
    envs.map((env) => env.environment),
  )
  const rows: ReplyRow[] = []
  const waves: string[] = []
  for (const stage of stagesIn(config, envs)) {
    const stageEnvs = envs
      .filter((env) => env.stage.name === stage.name)
      .sort((a, b) => a.environment.localeCompare(b.environment))
    const stageRows = stageEnvs.map((env) =>
      statusRow(env, statusOf(statuses, env.environment), locks.get(env.environment)),
    )
    if (stage.waves.length === 0) {
      rows.push(...stageRows)
      continue
    }
    const plan = planWaves({
      stage,
      environments: stageEnvs.map((env) => ({
        name: env.environment,
        progress: progressOf(statusOf(statuses, env.environment)),
      })),
      selected: new Set(),
    })
    rows.push(...rowsByWave(stageRows, plan))
    waves.push(...waveSection(plan))
  }
  return done(state, statusSummary(rows, pull.number, pull.headSha), rows, { waves })
}

/** One environment: its state, what the status says (where, at which SHA), its lock, its links. */
export function statusRow(
  env: PullEnvironment,
  status: CommitStatus | undefined,
  held: HeldLock | undefined,
): ReplyRow {
  const lock = held ? `🔒 ${describeHolder(held)}` : ''
  const merged = !env.child && status?.state === 'success' ? 'child merged or closed; ' : ''
  return {
    environment: env.environment,
    stage: env.stage.name,
    result: status ? (status.state === 'error' ? 'failure' : status.state) : 'no status',
    detail: [`${merged}${status?.description ?? ''}`, lock].filter(Boolean).join(' · '),
    links: [
      ...(env.child ? [{ text: `#${env.child.number}`, url: env.child.url }] : []),
      ...(status?.targetUrl && status.targetUrl !== env.child?.url
        ? [statusLink(status.targetUrl)]
        : []),
    ],
  }
}

/** "8 environments impacted by #7 at abc1234: 3 succeeded, 5 pending" */
export function statusSummary(rows: readonly ReplyRow[], pr: number, sha: string): string {
  const counts = new Map<string, number>()
  for (const row of rows) counts.set(row.result, (counts.get(row.result) ?? 0) + 1)
  const words: Record<string, string> = { success: 'succeeded', failure: 'failed' }
  const parts = ['success', 'pending', 'failure', 'no status']
    .filter((result) => counts.has(result))
    .map((result) => `${counts.get(result)} ${words[result] ?? result}`)
  const locked = rows.filter((row) => row.detail.includes('🔒')).length
  return `${rows.length} environment${rows.length === 1 ? '' : 's'} impacted by #${pr} at ${sha.slice(0, 7)}${parts.length > 0 ? `: ${parts.join(', ')}` : ''}${locked > 0 ? `; ${locked} locked` : ''}`
}
