// `requires` across pull requests (promote.requiredStages: wet-branches): a
// pull request that impacts only production may be promoted when testing's
// WET branches already run its DRY commit or an ancestor, and not while a
// testing branch runs a render of a commit outside its history.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Git } from '../actions/lib/git/git.js'
import { parseConfig } from '../actions/lib/config/config.js'
import { promote } from '../actions/promote/promote.js'
import { readRequiredStageRuns } from '../actions/promote/required-stages.js'
import {
  fleetConfig,
  FULL_NAME,
  REPO,
  startPromoteFleet,
  type PromoteFleet,
} from './support/promote-fleet.js'

let fleet: PromoteFleet
let scratch: string

beforeAll(async () => {
  fleet = await startPromoteFleet({ impacts: (environment) => environment.includes('-prod-') })
  scratch = await mkdtemp(join(tmpdir(), 'promote-requires-'))
  fleet.gh.review(FULL_NAME, fleet.parent, {
    user: fleet.users.approver.login,
    state: 'APPROVED',
    commitId: fleet.headSha,
  })
})

afterAll(async () => {
  expect(fleet.gh.validationErrors).toEqual([])
  await fleet.cleanup()
  await rm(scratch, { recursive: true, force: true })
})

/** Re-renders a WET branch as if from `drySha` (a new tip whose hydrator.metadata names it). */
async function renderWetFrom(environment: string, drySha: string): Promise<void> {
  const dir = await mkdtemp(join(scratch, `${environment}-`))
  const git = await Git.clone(fleet.gh.remoteUrl(FULL_NAME), dir, {
    token: fleet.gh.adminToken,
    env: {
      GIT_AUTHOR_NAME: 'Fleet Test',
      GIT_AUTHOR_EMAIL: 'fleet-test@example.com',
      GIT_COMMITTER_NAME: 'Fleet Test',
      GIT_COMMITTER_EMAIL: 'fleet-test@example.com',
    },
  })
  await git.run(['checkout', '--quiet', `env/${environment}`])
  await writeFile(join(dir, 'hydrator.metadata'), `${JSON.stringify({ drySha })}\n`)
  await git.run(['commit', '--quiet', '-am', `render ${environment} from ${drySha.slice(0, 7)}`])
  await git.run(['push', '--quiet', 'origin', `HEAD:refs/heads/env/${environment}`])
  await fleet.gh.refreshRefs(FULL_NAME)
}

describe('requires across pull requests', () => {
  it('refuses production while a testing WET branch runs a commit outside this history', async () => {
    // Another pull request's DRY commit, not an ancestor of this one.
    const other = await fleet.openParent('feature/other', fleet.users.other.login, () => false)
    await renderWetFrom('eu-test-1', other.headSha)
    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.maintainer, '.promote production'),
    )
    expect(result.decision, result.reason).toBe('refused')
    expect(result.reason).toBe(
      `production requires testing, which this pull request does not impact: its WET branches must run this pull request's DRY commit ${fleet.headSha.slice(0, 7)} or an ancestor first; not yet: eu-test-1 runs ${other.headSha.slice(0, 7)} (promote what testing is missing, or set promote.requiredStages: pull-request)`,
    )
  })

  it('promotes production once testing runs this history again', async () => {
    const main = fleet.gh.state.refSha(FULL_NAME, 'refs/heads/main')!
    await renderWetFrom('eu-test-1', main)
    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.maintainer, '.promote production'),
    )
    expect(result.decision, result.reason).toBe('deployed')
    expect(result.environments.map((env) => env.environment)).toEqual([
      'ap-prod-1',
      'eu-prod-1',
      'eu-prod-2',
      'us-prod-1',
      'us-prod-2',
    ])
  })

  it('reads no WET branch with promote.requiredStages: pull-request', async () => {
    const config = parseConfig(fleetConfig(fleet.argocd.url), 'fleet-promote.yaml')
    const input = { baseRef: 'main', present: new Set(['production']), drySha: fleet.headSha }
    const across = await readRequiredStageRuns(fleet.admin, REPO, { ...input, config })
    expect([...across.keys()]).toEqual(['testing'])
    const within = await readRequiredStageRuns(fleet.admin, REPO, {
      ...input,
      config: { ...config, promote: { ...config.promote, requiredStages: 'pull-request' } },
    })
    expect(within.size).toBe(0)
  })
})
