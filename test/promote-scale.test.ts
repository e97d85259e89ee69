// `.promote` at fleet scale on the simulators: 500 environments, 450 in the
// last stage. GitHub refuses comments over 65,536 characters; the reply must
// fit and still say where every environment went.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GITHUB_BODY_LIMIT } from '../actions/lib/markdown.js'
import { promote } from '../actions/promote/promote.js'
import { environmentContext } from '../actions/lib/statuses.js'
import { FULL_NAME, REPO, startPromoteFleet, type PromoteFleet } from './support/promote-fleet.js'

const TESTING = 50
const PRODUCTION = 450
const environments = [
  ...Array.from({ length: TESTING }, (_, i) => ({ name: `t${i}-test-1`, stage: 'testing' })),
  ...Array.from({ length: PRODUCTION }, (_, i) => ({ name: `p${i}-prod-1`, stage: 'production' })),
]

let fleet: PromoteFleet

beforeAll(async () => {
  fleet = await startPromoteFleet({ environments })
}, 600_000)

afterAll(async () => {
  expect(fleet.gh.validationErrors).toEqual([])
  await fleet.cleanup()
})

describe('promote at 500 environments', () => {
  it('deploys 450 production environments and replies within GitHub’s comment limit', async () => {
    for (const env of environments.filter((e) => e.stage === 'testing')) {
      await fleet.admin.rest.repos.createCommitStatus({
        ...REPO,
        sha: fleet.headSha,
        context: environmentContext(env.name),
        state: 'success',
        description: 'deployed',
      })
    }
    fleet.gh.review(FULL_NAME, fleet.parent, {
      user: fleet.users.approver.login,
      state: 'APPROVED',
      commitId: fleet.headSha,
    })
    const result = await promote(
      fleet.settings({ concurrency: 16 }),
      fleet.comment(fleet.users.maintainer, '.promote production'),
    )
    expect(result.decision, result.reason).toBe('deployed')
    // GitHub allows 500 content-creating requests an hour: with one deployment for the stage
    // (`deployments: auto` above 3 environments: 3 requests) and one status each, 437 fit one run.
    const BATCH = 437
    expect(result.environments).toHaveLength(BATCH)
    expect(result.reason).toContain(
      `${PRODUCTION - BATCH} more environments left for the next run: deploying all ${PRODUCTION} needs about ${PRODUCTION + 3} content-creating GitHub requests`,
    )
    const deployments = fleet.gh.state.deployments(FULL_NAME)
    expect(deployments.map((d) => [d.environment, d.statuses.at(-1)?.state])).toEqual([
      ['production', 'success'],
    ])
    const reply = fleet.gh.state.comments(FULL_NAME, fleet.parent).at(-1)?.body ?? ''
    expect(reply).toContain('🚀 fleet-promote: deployed')
    expect(reply.length).toBeLessThanOrEqual(GITHUB_BODY_LIMIT)
    // 437 deployed rows and 13 "not deployed" ones: every row shown, or the rest counted.
    const shown = reply.split('\n').filter((line) => /^\| `p\d+-prod-1` \|/.test(line)).length
    const counted = Number(/…and (\d+) more environments: see the/.exec(reply)?.[1] ?? 0)
    expect(shown).toBeGreaterThan(100)
    expect(shown + counted).toBe(PRODUCTION)
    expect(reply).toContain(`${PRODUCTION - BATCH} more environments left for the next run`)
    // The job summary lists every environment.
    const listed = (result.summary ?? '')
      .split('\n')
      .filter((line) => /^\| `p\d+-prod-1` \|/.test(line))
    expect(listed).toHaveLength(PRODUCTION)
    // The same command again continues with the next batch.
    const next = await promote(
      fleet.settings({ concurrency: 16 }),
      fleet.comment(fleet.users.maintainer, '.promote production'),
    )
    expect(next.decision, next.reason).toBe('deployed')
    const deployed = (r: typeof result) => r.environments.map((e) => e.environment)
    expect(next.environments).toHaveLength(PRODUCTION - BATCH)
    expect(deployed(next).filter((name) => deployed(result).includes(name))).toEqual([])
    expect(next.reason).not.toContain('left for the next run')
    // The stage's deployment is reused, not duplicated.
    expect(fleet.gh.state.deployments(FULL_NAME)).toHaveLength(1)
  }, 900_000)
})
