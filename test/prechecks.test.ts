import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  checkPullRequestState,
  checkRequiredStages,
  effectiveRole,
  highestPermission,
  isBot,
  roleAtLeast,
} from '../actions/promote/gates.js'
import { approversOf, recheckHead, repositoryRole } from '../actions/promote/facts.js'
import { getPullRequest } from '../actions/lib/github/pulls.js'
import { loadBaseConfig } from '../actions/lib/config/sources.js'
import { defaultConfig, missingConfigNote } from '../actions/lib/config/config.js'
import type { StageConfig } from '../actions/lib/config/types.js'
import { FULL_NAME, REPO, startPromoteFleet, type PromoteFleet } from './support/promote-fleet.js'

describe('roles', () => {
  it('uses role_name for built-in roles and the legacy base for custom roles', () => {
    expect(effectiveRole({ role_name: 'maintain', permission: 'write' })).toBe('maintain')
    expect(effectiveRole({ role_name: 'triage', permission: 'read' })).toBe('triage')
    // A custom role based on maintain reports permission "write": it counts as write, never more.
    expect(effectiveRole({ role_name: 'deployer', permission: 'write' })).toBe('write')
    expect(effectiveRole({ role_name: 'constructor', permission: 'toString' })).toBe('none')
    expect(effectiveRole({ permission: 'admin' })).toBe('admin')
  })

  it('ranks roles and fails closed on unknown ones', () => {
    expect(roleAtLeast('admin', 'maintain')).toBe(true)
    expect(roleAtLeast('maintain', 'maintain')).toBe(true)
    expect(roleAtLeast('write', 'maintain')).toBe(false)
    expect(roleAtLeast('triage', 'write')).toBe(false)
    expect(roleAtLeast('none', 'write')).toBe(false)
    expect(roleAtLeast('superuser', 'write')).toBe(false)
    expect(roleAtLeast('admin', 'owner')).toBe(false)
    expect(highestPermission(['write', 'admin', 'maintain'])).toBe('admin')
    expect(highestPermission([])).toBe('write')
  })

  it('recognizes bots by type or login', () => {
    expect(isBot('renovate[bot]')).toBe(true)
    expect(isBot('ci-robot', 'Bot')).toBe(true)
    expect(isBot('alice', 'User')).toBe(false)
  })
})

describe('required stages', () => {
  const stage = { name: 'production', requires: ['testing'] } as StageConfig
  const impacted = [
    { name: 't1', stage: 'testing' },
    { name: 't2', stage: 'testing' },
    { name: 'p1', stage: 'production' },
  ]
  const sha = 'b'.repeat(40)
  it('needs every impacted environment of the required stage to have succeeded', () => {
    const statuses = new Map([
      [
        'fleet-promote/t1',
        { context: 'fleet-promote/t1', state: 'success' as const, description: '' },
      ],
      [
        'fleet-promote/t2',
        { context: 'fleet-promote/t2', state: 'pending' as const, description: '' },
      ],
    ])
    expect(checkRequiredStages(stage, impacted, statuses, sha)?.reason).toBe(
      'production requires testing to succeed on bbbbbbb first; not yet: t2',
    )
    statuses.set('fleet-promote/t2', {
      context: 'fleet-promote/t2',
      state: 'success',
      description: '',
    })
    expect(checkRequiredStages(stage, impacted, statuses, sha)).toBeUndefined()
  })

  it('is satisfied when the required stage impacts nothing', () => {
    expect(
      checkRequiredStages(stage, [{ name: 'p1', stage: 'production' }], new Map(), sha),
    ).toBeUndefined()
  })
})

describe('live checks against the simulator', () => {
  let fleet: PromoteFleet

  beforeAll(async () => {
    fleet = await startPromoteFleet()
  })

  afterAll(async () => {
    expect(fleet.gh.validationErrors).toEqual([])
    await fleet.cleanup()
  })

  it('reads roles live; a non-collaborator ranks below write', async () => {
    expect(await repositoryRole(fleet.admin, REPO, fleet.users.maintainer.login)).toBe('maintain')
    expect(await repositoryRole(fleet.admin, REPO, fleet.users.triager.login)).toBe('triage')
    fleet.gh.addUser('stranger')
    // GitHub answers `read` for anyone on a public repository.
    expect(roleAtLeast(await repositoryRole(fleet.admin, REPO, 'stranger'), 'write')).toBe(false)
    fleet.gh.setPermission(FULL_NAME, fleet.users.reader.login, 'write')
    expect(await repositoryRole(fleet.admin, REPO, fleet.users.reader.login)).toBe('write')
    fleet.gh.setPermission(FULL_NAME, fleet.users.reader.login, 'read')
  })

  it('counts only the latest decisive review per user on the pinned SHA', async () => {
    const pull = await getPullRequest(fleet.admin, REPO, fleet.parent)
    const sha = pull.headSha
    const review = (
      user: string,
      state: 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED',
      commitId = sha,
    ) => fleet.gh.review(FULL_NAME, fleet.parent, { user, state, commitId })
    review(fleet.users.approver.login, 'APPROVED')
    review(fleet.users.approver.login, 'COMMENTED') // a comment keeps the approval
    review(fleet.users.maintainer.login, 'APPROVED')
    review(fleet.users.maintainer.login, 'CHANGES_REQUESTED') // a later verdict replaces it
    review(fleet.users.other.login, 'APPROVED', 'c'.repeat(40)) // another commit
    expect(await approversOf(fleet.admin, REPO, pull, sha)).toEqual([fleet.users.approver.login])
  })

  it('refuses drafts and closed PRs, and reads the configuration from the base branch', async () => {
    const pull = await getPullRequest(fleet.admin, REPO, fleet.parent)
    const config = await loadBaseConfig(fleet.admin, REPO, pull.baseRef)
    expect(config.stages.map((s) => s.name)).toEqual(['testing', 'production'])
    expect(checkPullRequestState(pull, REPO, config)).toBeUndefined()
    expect(checkPullRequestState({ ...pull, draft: true }, REPO, config)?.reason).toMatch(
      /is a draft/,
    )
    expect(checkPullRequestState({ ...pull, state: 'closed' }, REPO, config)?.reason).toMatch(
      /is closed/,
    )
    expect(
      checkPullRequestState({ ...pull, headRepo: 'evil/fleet' }, REPO, config)?.reason,
    ).toMatch(/from a fork \(evil\/fleet\)/)
    expect(
      checkPullRequestState({ ...pull, headRepo: 'evil/fleet' }, REPO, {
        ...config,
        promote: { ...config.promote, allowForks: true },
      }),
    ).toBeUndefined()
    // A base without the file gets the defaults; an explicitly named missing file is an error.
    await fleet.admin.rest.git.createRef({
      ...REPO,
      ref: 'refs/heads/bare',
      sha: fleet.gh.state.refSha(FULL_NAME, 'refs/heads/env/eu-test-1')!,
    })
    expect(await loadBaseConfig(fleet.admin, REPO, 'bare')).toEqual({
      ...defaultConfig(),
      defaultsNote: missingConfigNote('fleet-promote.yaml', 'bare'),
    })
    await expect(loadBaseConfig(fleet.admin, REPO, 'bare', 'ops/fleet.yaml')).rejects.toThrow()
  })

  it('sees a moved head as "ref changed"', async () => {
    const pinned = (await getPullRequest(fleet.admin, REPO, fleet.parent)).headSha
    expect(await recheckHead(fleet.admin, REPO, fleet.parent, pinned)).toBeUndefined()
    const moved = await fleet.moveHead()
    expect((await recheckHead(fleet.admin, REPO, fleet.parent, pinned))?.reason).toBe(
      `ref changed: the head of #${fleet.parent} moved from ${pinned.slice(0, 7)} to ${moved.slice(0, 7)} after the command; comment again`,
    )
  })
})
