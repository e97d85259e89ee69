// Every refusal leaves GitHub and Argo CD as they were: no lock branch, no
// status, no deployment, no Argo CD write. Only the 👀/😕 reactions and one
// reply comment appear. The decision itself is tabled in promote-gates.test.ts;
// these cases show it end to end, over facts read from the simulators.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { promote, type PromoteResult, type Trigger } from '../actions/promote/promote.js'
import {
  FULL_NAME,
  startPromoteFleet,
  type FleetUser,
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

async function expectRefusal(
  user: FleetUser,
  body: string,
  reason: RegExp,
  options: { pr?: number; golden?: string } = {},
): Promise<PromoteResult> {
  const before = await fleet.snapshot()
  const trigger: Trigger = fleet.comment(user, body, options.pr)
  const result = await promote(fleet.settings(), trigger)
  expect(result.decision, result.reason).toBe('refused')
  expect(result.reason).toMatch(reason)
  expect(await fleet.snapshot()).toEqual(before)
  if (trigger.kind === 'comment') {
    expect(fleet.gh.state.reactions(trigger.commentId).map((r) => r.content)).toEqual([
      'eyes',
      'confused',
    ])
  }
  const replies = fleet.gh.state.comments(FULL_NAME, options.pr ?? fleet.parent)
  const reply = replies.at(-1)?.body ?? ''
  expect(reply).toContain('😕 fleet-promote: refused')
  expect(reply).toContain('Nothing was changed.')
  if (options.golden) await expectGolden(options.golden, normalizeReply(reply, fleet))
  return result
}

describe('refusals change nothing', () => {
  it('refuses a read-only commenter', async () => {
    await expectRefusal(
      fleet.users.reader,
      '.promote testing',
      /rita has the read role; this needs write or higher/,
      {
        golden: 'refused-read.md',
      },
    )
  })

  it('tells a commenter without a role nothing about the pull request', async () => {
    const mallory = fleet.gh.addUser('mallory')
    for (const body of ['.promote testing', '.promote xx-*', '.lock eu-test-1', '.status']) {
      const result = await expectRefusal(
        mallory,
        body,
        /^mallory has the read role; this needs write or higher$/,
      )
      expect(result.rows).toEqual([])
      // Past the headline and the echoed command, nothing names an environment or a stage.
      const after = (result.reply ?? '').split('\n').slice(3).join('\n')
      expect(after).not.toMatch(/-test-|-prod-|testing|production/)
    }
  })

  it('refuses production without the required approval on the pinned SHA', async () => {
    // An approval of an older commit does not count.
    fleet.gh.review(FULL_NAME, fleet.parent, {
      user: fleet.users.approver.login,
      state: 'APPROVED',
      commitId: '0'.repeat(40),
    })
    await expectRefusal(
      fleet.users.maintainer,
      '.promote production',
      /production needs 1 approving review of [0-9a-f]{7}; it has 0/,
      {
        golden: 'refused-approval.md',
      },
    )
  })

  it('refuses production before testing succeeded', async () => {
    fleet.gh.review(FULL_NAME, fleet.parent, {
      user: fleet.users.approver.login,
      state: 'APPROVED',
      commitId: fleet.headSha,
    })
    await expectRefusal(
      fleet.users.maintainer,
      '.promote production',
      /production requires testing to succeed on [0-9a-f]{7} first; not yet: ap-test-1, eu-test-1, us-test-1/,
      {
        golden: 'refused-requires.md',
      },
    )
  })

  it('answers a malformed command with the reason and the help', async () => {
    const result = await expectRefusal(
      fleet.users.writer,
      '.promote testing --fast',
      /unknown option "--fast"/,
      {
        golden: 'refused-malformed.md',
      },
    )
    expect(result.reply).toContain('| Command | Does |')
  })

  it('refuses an unknown environment and lists the impacted ones', async () => {
    await expectRefusal(
      fleet.users.writer,
      '.promote xx-test-9',
      /unknown environment or stage "xx-test-9".*impacted: ap-prod-1/,
      {
        golden: 'refused-unknown.md',
      },
    )
  })

  it('ignores ordinary comments without a reaction or reply', async () => {
    const before = fleet.gh.state.comments(FULL_NAME, fleet.parent).length
    const trigger = fleet.comment(fleet.users.writer, 'LGTM, ready for .promote testing')
    const result = await promote(fleet.settings(), trigger)
    expect(result.decision).toBe('ignored')
    expect(fleet.gh.state.comments(FULL_NAME, fleet.parent)).toHaveLength(before + 1)
    expect(fleet.gh.state.reactions(trigger.kind === 'comment' ? trigger.commentId : 0)).toEqual([])
  })

  it('refuses a PR locked by another PR and names the holder', async () => {
    const other = await fleet.openParent('feature/other', fleet.users.other.login)
    const lock = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.other, '.lock eu-test-1 --reason "kernel upgrade"', other.number),
    )
    expect(lock.decision, lock.reason).toBe('done')
    await expectRefusal(
      fleet.users.writer,
      '.promote testing',
      /eu-test-1 is locked by #\d+ \(oscar, kernel upgrade\)/,
      {
        golden: 'refused-locked.md',
      },
    )
    // Only the holder can unlock.
    const unlock = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.maintainer, '.unlock eu-test-1'),
    )
    expect(unlock.decision).toBe('refused')
    const released = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.other, '.unlock eu-test-1', other.number),
    )
    expect(released.decision, released.reason).toBe('done')
    expect(released.rows.map((r) => r.result)).toEqual(['🔓 unlocked'])
  })

  it('refuses a PR from a fork', async () => {
    await fleet.work.run(['checkout', '--quiet', '-B', 'forked', 'origin/main'])
    await fleet.work.run(['commit', '--quiet', '--allow-empty', '-m', 'from a fork'])
    await fleet.work.run(['push', '--quiet', 'origin', 'HEAD:refs/heads/forked'])
    await fleet.gh.refreshRefs(FULL_NAME)
    const { number } = await fleet.gh.openPullRequest(FULL_NAME, {
      head: 'forked',
      base: 'main',
      title: 'From a fork',
      user: fleet.users.reader.login,
      fromFork: true,
    })
    await expectRefusal(
      fleet.users.maintainer,
      '.promote testing',
      /comes from a fork .*promote.allowForks is off/,
      { pr: number },
    )
  })

  it('refuses with "ref changed" when the head moves between the command and the deploy', async () => {
    // The permission check is slow; meanwhile someone pushes to the PR.
    fleet.gh.faults.add({
      route: 'GET /repos/{owner}/{repo}/collaborators/{username}/permission',
      delayMs: 1500,
    })
    const trigger = fleet.comment(fleet.users.writer, '.promote testing')
    const before = await fleet.snapshot()
    const running = promote(fleet.settings(), trigger)
    await new Promise((resolve) => setTimeout(resolve, 300))
    const moved = await fleet.moveHead()
    const result = await running
    expect(result.decision, result.reason).toBe('refused')
    expect(result.reason).toMatch(
      /^ref changed: the head of #\d+ moved from [0-9a-f]{7} to [0-9a-f]{7}/,
    )
    expect(result.reason).toContain(moved.slice(0, 7))
    const after = (await fleet.snapshot()) as { refs: [string, string][] }
    const withoutParentBranch = (snapshot: unknown) => {
      const s = snapshot as { refs: [string, string][]; pulls: unknown[] }
      return { ...s, refs: s.refs.filter(([ref]) => ref !== 'refs/heads/feature/bump'), pulls: [] }
    }
    expect(withoutParentBranch(after)).toEqual(withoutParentBranch(before))
    expect(after.refs.some(([ref]) => ref.startsWith('refs/heads/fleet-promote-lock/'))).toBe(false)
  })
})
