// The merge backend's landing: a wave's children in one atomic push of their
// WET branches (a fast-forward each, GitHub marks the child merged), and
// GitHub's merge API for a child that is no longer one commit on its WET tip.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Git } from '../actions/lib/git/git.js'
import { acquireLocks, releaseLocks, type AcquireResult } from '../actions/lib/locks.js'
import { landingStep, type LandingFacts } from '../actions/promote/landing.js'
import { promote } from '../actions/promote/promote.js'
import {
  fleetConfig,
  FULL_NAME,
  startPromoteFleet,
  type PromoteFleet,
} from './support/promote-fleet.js'

const HEAD = 'h'.repeat(40)
const WET = 'w'.repeat(40)
const OTHER = 'o'.repeat(40)

describe('landingStep', () => {
  const facts = (over: Partial<LandingFacts>): LandingFacts => ({
    headSha: HEAD,
    childTip: HEAD,
    wetTip: WET,
    parents: [WET],
    ...over,
  })
  it.each<[string, Partial<LandingFacts>, string]>([
    ['the child is one commit on the WET tip: a fast-forward', {}, 'push'],
    ['the WET branch is at the child head already (a re-run)', { wetTip: HEAD }, 'landed'],
    ['the WET branch moved since the child was made', { wetTip: OTHER }, 'merge'],
    ['the child head moved since the plan read it', { childTip: OTHER }, 'merge'],
    ['the child branch is gone', { childTip: undefined }, 'merge'],
    ['the WET branch is gone', { wetTip: undefined }, 'merge'],
    ['a merge commit child whose second parent is the tip', { parents: [OTHER, WET] }, 'push'],
  ])('%s', (_, over, step) => {
    expect(landingStep(facts(over))).toBe(step)
  })
})

describe('merge backend landing on the simulator', () => {
  let fleet: PromoteFleet
  beforeAll(async () => {
    fleet = await startPromoteFleet({
      config: (url) =>
        fleetConfig(url).replace('match: ["*-test-*"]', 'match: ["*-test-*"]\n    backend: merge'),
    })
  })
  afterAll(async () => {
    expect(fleet.gh.validationErrors).toEqual([])
    await fleet.cleanup()
  })

  it('lands nothing when another PR takes a lock just before the push that locks and lands', async () => {
    const envs = ['ap-test-1', 'eu-test-1', 'us-test-1']
    const wet = () => envs.map((env) => fleet.gh.state.refSha(FULL_NAME, `env/${env}`))
    const before = wet()
    const settings = fleet.settings()
    const scratch = await mkdtemp(join(tmpdir(), 'promote-landing-rival-'))
    const rival = {
      git: await Git.init(scratch, { bare: true, token: fleet.gh.adminToken }),
      remote: settings.locks.remote,
    }
    // The gates saw no lock; the rival's lands between this run's read and its push.
    const git = settings.locks.git
    const push = git.push.bind(git)
    let raced: AcquireResult | undefined
    git.push = async (...args: Parameters<typeof push>) => {
      if (!raced) {
        raced = await acquireLocks(rival, ['eu-test-1'], {
          pr: 999,
          actor: 'rival',
          reason: 'race',
          sha: 'a'.repeat(40),
        })
      }
      return push(...args)
    }
    fleet.gh.resetRequests()
    try {
      const result = await promote(settings, fleet.comment(fleet.users.writer, '.promote testing'))
      expect(result.decision, result.reason).toBe('refused')
      expect(result.reason).toContain('eu-test-1 is locked by #999')
    } finally {
      git.push = push
    }
    expect(wet()).toEqual(before)
    for (const env of envs) {
      const child = fleet.gh.state
        .pulls(FULL_NAME)
        .find((p) => p.headRef === `fleet-promote/pr-${fleet.parent}/${env}`)
      expect(child?.merged).toBe(false)
    }
    for (const env of ['ap-test-1', 'us-test-1'])
      expect(fleet.gh.state.refSha(FULL_NAME, `fleet-promote-lock/${env}`)).toBeUndefined()
    // The rival's push only: git refused this run's on its leases before sending it, and took nothing after.
    expect(fleet.gh.routeCounts()['POST /{owner}/{repo}.git/git-receive-pack']).toBe(1)
    expect(fleet.gh.routeCounts()['PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge']).toBe(
      undefined,
    )
    // The rival gives its lock back, for the tests that follow.
    expect(raced?.status).toBe('acquired')
    if (raced?.status === 'acquired')
      expect(await releaseLocks(rival, raced.created)).toEqual(['eu-test-1'])
    await rm(scratch, { recursive: true, force: true })
  })

  it('pushes the children that fast-forward and merges the one whose WET branch moved', async () => {
    // eu-test-1's WET branch gains a commit after its child was made.
    await fleet.work.run(['fetch', '--quiet', 'origin', 'env/eu-test-1'])
    await fleet.work.run(['checkout', '--quiet', '-B', 'moved', 'FETCH_HEAD'])
    await fleet.work.run(['commit', '--quiet', '--allow-empty', '-m', 'moved on'])
    await fleet.work.run(['push', '--quiet', 'origin', 'HEAD:refs/heads/env/eu-test-1'])
    await fleet.work.run(['checkout', '--quiet', '-f', 'main'])
    await fleet.gh.refreshRefs(FULL_NAME)
    fleet.gh.resetRequests()

    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.promote testing'),
    )
    expect(result.decision, result.reason).toBe('deployed')
    const child = (env: string) =>
      fleet.gh.state
        .pulls(FULL_NAME)
        .find((p) => p.headRef === `fleet-promote/pr-${fleet.parent}/${env}`)!
    for (const env of ['ap-test-1', 'us-test-1']) {
      expect(child(env).merged).toBe(true)
      expect(fleet.gh.state.refSha(FULL_NAME, `env/${env}`)).toBe(child(env).headSha)
    }
    // GitHub's merge: a merge commit whose parents are the moved tip and the child head.
    const moved = child('eu-test-1')
    expect(moved.merged).toBe(true)
    expect(moved.mergeCommitSha).not.toBe(moved.headSha)
    expect(fleet.gh.state.refSha(FULL_NAME, 'env/eu-test-1')).toBe(moved.mergeCommitSha)
    const counts = fleet.gh.routeCounts()
    expect(counts['PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge']).toBe(1)
    // The locks and the landing of the children that fast-forward: one push.
    expect(counts['POST /{owner}/{repo}.git/git-receive-pack']).toBe(1)
    expect(
      result.environments.map((e) => [
        e.environment,
        e.result,
        e.detail.replace(/[0-9a-f]{7}$/, 'sha'),
      ]),
    ).toEqual([
      ['ap-test-1', 'success', `merged #${child('ap-test-1').number} into env/ap-test-1 at sha`],
      ['eu-test-1', 'success', `merged #${moved.number} into env/eu-test-1 at sha`],
      ['us-test-1', 'success', `merged #${child('us-test-1').number} into env/us-test-1 at sha`],
    ])
  })
})

describe('merge backend on a shared WET branch on the simulator', () => {
  let fleet: PromoteFleet
  beforeAll(async () => {
    // testing is env/testing with a folder per environment, at most one environment at a time.
    fleet = await startPromoteFleet({
      shared: true,
      config: (url) =>
        fleetConfig(url)
          .replace('branch: "env/{name}"', 'branch: "env/{stage}"\n    path: "{name}"')
          .replace(
            'match: ["*-test-*"]',
            'match: ["*-test-*"]\n    backend: merge\n    maxParallel: 1',
          ),
    })
  })
  afterAll(async () => {
    expect(fleet.gh.validationErrors).toEqual([])
    await fleet.cleanup()
  })
  const child = () =>
    fleet.gh.state
      .pulls(FULL_NAME)
      .find((p) => p.headRef === `fleet-promote/pr-${fleet.parent}/env-testing`)!

  it('refuses one environment of the shared child before anything lands, and says why', async () => {
    const before = await fleet.snapshot()
    const wetTip = fleet.gh.state.refSha(FULL_NAME, 'env/testing')
    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.promote eu-test-1'),
    )
    expect(result.decision).toBe('refused')
    const reason =
      'eu-test-1 shares env/testing with ap-test-1, us-test-1 (one child lands them together): promote them together, e.g. .promote testing'
    expect(result.reason).toBe(reason)
    const replies = fleet.gh.state.comments(FULL_NAME, fleet.parent)
    expect(replies.at(-1)?.body).toContain(reason)
    // Nothing landed, locked or reported: the refusal comment apart, the repository is as it was.
    expect(child().merged).toBe(false)
    expect(fleet.gh.state.refSha(FULL_NAME, 'env/testing')).toBe(wetTip)
    expect(await fleet.snapshot()).toEqual(before)
  })

  it('lands the whole child once even with maxParallel below its size', async () => {
    fleet.gh.resetRequests()
    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.promote testing'),
    )
    expect(result.decision, result.reason).toBe('deployed')
    expect(child().merged).toBe(true)
    expect(fleet.gh.state.refSha(FULL_NAME, 'env/testing')).toBe(child().headSha)
    const counts = fleet.gh.routeCounts()
    // One push lands the three folders and takes their locks, never GitHub's merge.
    expect(counts['PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge']).toBeUndefined()
    expect(counts['POST /{owner}/{repo}.git/git-receive-pack']).toBe(1)
    expect(result.environments.map((e) => [e.environment, e.result])).toEqual([
      ['ap-test-1', 'success'],
      ['eu-test-1', 'success'],
      ['us-test-1', 'success'],
    ])
  })
})
