// The other commands and checks of the promote core: status, lock/unlock of a
// stage, the deletion guard override, stale children, allowlisted bots,
// globs, dispatch and --noop.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { promote } from '../actions/promote/promote.js'
import {
  FULL_NAME,
  REPO,
  startPromoteFleet,
  type PromoteFleet,
  endPromoteFleet,
} from './support/promote-fleet.js'
import { expectGolden, normalizeReply } from './support/promote-golden.js'

let fleet: PromoteFleet

beforeAll(async () => {
  fleet = await startPromoteFleet()
})

afterAll(async () => {
  await endPromoteFleet(fleet)
})

const lastReply = () => fleet.gh.state.comments(FULL_NAME, fleet.parent).at(-1)?.body ?? ''
const lockRefs = async () =>
  [
    ...(
      await fleet.work.lsRemote(fleet.gh.remoteUrl(FULL_NAME), ['refs/heads/fleet-promote-lock/*'])
    ).keys(),
  ]
    .map((ref) => ref.replace('refs/heads/fleet-promote-lock/', ''))
    .sort()

describe('promote commands', () => {
  it('.promote all --noop checks every stage and deploys nothing', async () => {
    const before = await fleet.snapshot()
    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.maintainer, '.promote *-test-* --noop'),
    )
    expect(result.decision, result.reason).toBe('noop')
    expect(result.rows.map((r) => [r.environment, r.result])).toEqual([
      ['ap-test-1', 'would deploy'],
      ['eu-test-1', 'would deploy'],
      ['us-test-1', 'would deploy'],
    ])
    expect(await fleet.snapshot()).toEqual(before)
  })

  it('--noop dry-runs production before the approval and lists every check', async () => {
    const before = await fleet.snapshot()
    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.maintainer, '.promote production --noop'),
    )
    expect(result.decision, result.reason).toBe('noop')
    expect(result.reason).toMatch(
      /^--noop: a promotion of [0-9a-f]{7} now would be refused: production needs 1 approving review of [0-9a-f]{7}; it has 0; nothing was deployed$/,
    )
    expect(await fleet.snapshot()).toEqual(before)
    expect(lastReply()).toContain('❌ approvals: production needs 1 approving review')
    expect(lastReply()).toContain('❌ required stages: production requires testing')
    await expectGolden('noop-unapproved.md', normalizeReply(lastReply(), fleet))
    // The role is still enforced.
    const writer = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.promote production --noop'),
    )
    expect(writer.decision).toBe('refused')
    expect(writer.reason).toBe('wendy has the write role; this needs maintain or higher')
  })

  it('locks and unlocks a whole stage for the PR; re-locking is a no-op', async () => {
    const lock = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.maintainer, '.lock production --reason freeze'),
    )
    expect(lock.decision, lock.reason).toBe('done')
    expect(await lockRefs()).toEqual([
      'ap-prod-1',
      'eu-prod-1',
      'eu-prod-2',
      'us-prod-1',
      'us-prod-2',
    ])
    const again = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.maintainer, '.lock eu-prod-1'),
    )
    expect(again.decision).toBe('done')
    const status = await promote(fleet.settings(), fleet.comment(fleet.users.writer, '.status'))
    expect(status.decision).toBe('done')
    expect(status.rows).toHaveLength(8)
    expect(status.rows.find((r) => r.environment === 'eu-prod-1')?.detail).toContain(
      `🔒 locked by #${fleet.parent} (max, freeze)`,
    )
    await expectGolden('status.md', normalizeReply(lastReply(), fleet))
    // Locking production needs maintain, as promoting it does.
    const refused = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.unlock production'),
    )
    expect(refused.decision).toBe('refused')
    const unlock = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.maintainer, '.unlock production'),
    )
    expect(unlock.decision, unlock.reason).toBe('done')
    expect(await lockRefs()).toEqual([])
  })

  it('holds back an environment blocked by the deletion guard unless a maintainer overrides it', async () => {
    await fleet.admin.rest.repos.createCommitStatus({
      ...REPO,
      sha: fleet.headSha,
      context: 'fleet-promote/eu-test-1',
      state: 'failure',
      description: 'blocked: 12 objects deleted, more than the 10 allowed',
    })
    const refused = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.promote eu-test-1'),
    )
    expect(refused.decision).toBe('refused')
    expect(refused.reason).toMatch(
      /the deletion guard blocked eu-test-1; a maintainer may override it for [0-9a-f]{7} with --allow-deletions/,
    )
    const allowed = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.maintainer, '.promote eu-test-1 --allow-deletions'),
    )
    expect(allowed.decision, allowed.reason).toBe('deployed')
    expect(allowed.environments.map((e) => e.result)).toEqual(['success'])
  })

  it('lets an allowlisted bot promote, from workflow_dispatch without reactions', async () => {
    const bot = fleet.gh.addUser('trusted[bot]', { type: 'Bot' })
    fleet.gh.setPermission(FULL_NAME, bot.login, 'write')
    const result = await promote(fleet.settings(), {
      kind: 'dispatch',
      pr: fleet.parent,
      target: 'ap-test-1 us-test-1',
      noop: false,
      actor: { login: bot.login },
    })
    expect(result.decision, result.reason).toBe('deployed')
    expect(lastReply()).toContain('`.promote ap-test-1 us-test-1` by @trusted[bot]')
  })

  it('refuses a command on a child PR and points at the parent', async () => {
    const child = fleet.gh.state
      .pulls(FULL_NAME)
      .find((p) => p.headRef === `fleet-promote/pr-${fleet.parent}/eu-test-1`)!
    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.promote testing', child.number),
    )
    expect(result.decision).toBe('refused')
    expect(result.reason).toBe(
      `#${child.number} is a child pull request; comment on its parent #${fleet.parent}`,
    )
  })

  it('never leaks a lock when the run breaks after taking it', async () => {
    // While the permission check is slow, GitHub starts failing to serve the PR:
    // the re-check of the head throws after the locks were taken.
    fleet.gh.review(FULL_NAME, fleet.parent, {
      user: fleet.users.approver.login,
      state: 'APPROVED',
      commitId: fleet.headSha,
    })
    const locksBefore = await lockRefs()
    expect(locksBefore).not.toContain('eu-prod-1')
    fleet.gh.faults.add({
      route: 'GET /repos/{owner}/{repo}/collaborators/{username}/permission',
      delayMs: 1000,
    })
    const trigger = fleet.comment(fleet.users.maintainer, '.promote eu-prod-1')
    fleet.gh.resetRequests()
    const running = promote(fleet.settings(), trigger)
    await new Promise((resolve) => setTimeout(resolve, 300))
    fleet.gh.faults.add({
      route: 'GET /repos/{owner}/{repo}/pulls/{pull_number}',
      status: 502,
      times: 20,
    })
    const result = await running
    fleet.gh.faults.clear()
    expect(result.decision, result.reason).toBe('failed')
    expect(await lockRefs()).toEqual(locksBefore)
    // The lock was taken, then given back: two pushes, no REST ref writes.
    expect(fleet.gh.routeCounts()['POST /{owner}/{repo}.git/git-receive-pack']).toBe(2)
    expect(fleet.gh.routeCounts()['POST /repos/{owner}/{repo}/git/refs']).toBeUndefined()
    expect(lastReply()).toContain('❌ fleet-promote: failed')
  })

  it('refuses children rendered for an older head', async () => {
    await fleet.moveHead()
    const before = await fleet.snapshot()
    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.promote testing'),
    )
    expect(result.decision).toBe('refused')
    expect(result.reason).toMatch(
      /the child PRs of ap-test-1, eu-test-1, us-test-1 were not rendered from the current head [0-9a-f]{7}/,
    )
    expect(await fleet.snapshot()).toEqual(before)
  })
})
