// `.status`: every environment the pull request impacts, with its status and lock.

import { listOpenPulls } from '../lib/github/pulls.js'
import { latestStatuses } from '../lib/github/statuses.js'
import { describeHolder, readLock } from '../lib/locks.js'
import { environmentContext } from '../lib/statuses.js'
import { impactedOf, repositoryRole } from './facts.js'
import { checkActor, stagesIn } from './gates.js'
import type { ReplyRow } from './reply.js'
import { actorFields, done, refuse, type PromoteResult, type RunState } from './run.js'

export async function showStatus(state: RunState): Promise<PromoteResult> {
  const { settings, pull, config } = state
  const { client, repo } = settings
  const actor = actorFields(state)
  const role = await repositoryRole(client, repo, actor.login)
  const refusal = checkActor({ ...actor, role, minimum: config.promote.permission, config })
  if (refusal) return refuse(state, refusal.reason, [])
  const pulls = await listOpenPulls(client, repo)
  const impacted = impactedOf(config, repo, pull.number, pulls)
  const statuses = await latestStatuses(client, repo, pull.headSha)
  const rows: ReplyRow[] = []
  for (const stage of stagesIn(config, impacted)) {
    for (const env of impacted.filter((e) => e.stage.name === stage.name)) {
      const status = statuses.get(environmentContext(env.environment))
      const held = await readLock(client, repo, env.environment)
      const lock = held ? ` · 🔒 ${describeHolder(held)}` : ''
      rows.push({
        environment: env.environment,
        stage: stage.name,
        result: status ? status.state : 'no status',
        detail: `${status?.description ?? ''}${lock}`,
        links: [
          { text: `#${env.child.number}`, url: env.child.url },
          ...(status?.targetUrl ? [{ text: 'details', url: status.targetUrl }] : []),
        ],
      })
    }
  }
  return done(
    state,
    `${impacted.length} environments impacted by #${pull.number} at ${pull.headSha.slice(0, 7)}`,
    rows,
  )
}
