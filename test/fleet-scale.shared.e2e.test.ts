// The whole flow at 500 environments on shared WET branches (one per stage,
// env/{stage}, a folder per environment: 50 testing, 100 staging, 350
// production), merge backend, GitHub deployments and statuses per stage (one
// check run each), on the simulators with GitHub's documented rate limits on
// (an accelerated clock, 150 GitHub seconds a real second) and a workflow's
// GITHUB_TOKEN (1,000 requests an hour): one child PR per stage, every stage
// deployed by one command, the flow converges (every child merged at its
// head, every folder at the new render, no lock left, the pipeline green),
// and it stays within issue 18's budget for this mode: ≤ 100 REST calls and
// ≤ 60 content-creating requests in all, and no step writes so much that
// pacing or GitHub's 80 a minute would make it take 2 minutes; so nothing is
// ever refused or waited for, and nothing is refused for its size.
import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PIPELINE_CONTEXT } from '../actions/lib/aggregate.js'
import { RateLimitLedger } from '../actions/lib/github/rate-limit.js'
import { LOCK_BRANCH_PREFIX } from '../actions/lib/locks.js'
import { GITHUB_BODY_LIMIT } from '../actions/lib/markdown.js'
import { boardsOf } from '../actions/lib/status-board.js'
import type { RequestLogEntry } from './support/github/index.js'
import { SHARED_BRANCHES, startScaleFlow, type ScaleFlow } from './support/scale-flow.js'

const N = 500
const STAGES = { testing: 50, staging: 100, production: 350 }
const FULL_NAME = 'acme/fleet'
const CLOCK_SCALE = 150
const BUDGET = { rest: 100, creating: 60 }
/** Under 2 minutes per step: ≥ 1 s between writes (the client's pacing), 80 content-creating a minute. */
const STEP = { writes: 119, creating: 80 }

let flow: ScaleFlow
const ledger = new RateLimitLedger(3600)

beforeAll(async () => {
  flow = await startScaleFlow({
    n: N,
    stages: 3,
    backend: 'merge',
    ...SHARED_BRANCHES,
    rateLimits: { simulator: { clockScale: CLOCK_SCALE }, ledger },
  })
}, 300_000)

afterAll(async () => {
  await flow?.stop()
})

const isRest = (entry: RequestLogEntry) => !entry.route.includes('.git/')
const isRead = (entry: RequestLogEntry) =>
  ['GET', 'HEAD'].includes(entry.method) || entry.route === 'POST /api/graphql'
const isCreating = (entry: RequestLogEntry) =>
  !isRead(entry) && ['POST', 'PUT', 'PATCH'].includes(entry.method)

describe(`the shared-branch flow at N = ${N} with GitHub's rate limits on`, () => {
  it('converges within the budget: nothing refused, waited for or too long', async () => {
    const { gh } = flow
    const steps = new Map<string, RequestLogEntry[]>()
    const step = async (name: string, action: () => Promise<void>) => {
      gh.resetRequests()
      await action()
      steps.set(name, gh.requests.filter(isRest))
    }
    await step('open-child-prs', () => flow.openChildPrs())
    for (const [stage, size] of Object.entries(STAGES)) {
      if (stage === 'production') flow.approve()
      await step(`promote ${stage}`, async () => {
        const result = await flow.promote(stage)
        expect(result.decision, result.reason).toBe('deployed')
        // All of the stage in one run: no batch left for a next one.
        expect(result.environments, stage).toHaveLength(size)
      })
    }
    await flow.mergeParent()
    await step('merge-cleanup', async () => {
      const cleanup = await flow.mergeCleanup()
      expect(cleanup.environments.filter((env) => env.action !== 'merged')).toEqual([])
      expect(cleanup.environments).toHaveLength(N)
    })

    // Converged: one child per stage, merged, its WET branch at its head, every folder at version 2.
    const children = gh.state.pulls(FULL_NAME).filter((p) => p.headRef.startsWith('fleet-promote/'))
    expect(children.map((child) => [child.baseRef, child.merged]).sort()).toEqual(
      Object.keys(STAGES)
        .map((stage) => [`env/${stage}`, true])
        .sort(),
    )
    const git = (args: string[], input?: string) =>
      execFileSync('git', args, { cwd: gh.repoPath(FULL_NAME), encoding: 'utf8', input })
    const manifest = git(
      ['hash-object', '--stdin'],
      'apiVersion: v1\ndata:\n  version: "2"\nkind: ConfigMap\nmetadata:\n  name: addon\n',
    ).trim()
    for (const child of children) {
      expect(gh.state.refSha(FULL_NAME, child.baseRef), child.baseRef).toBe(child.headSha)
      const stale = git(['ls-tree', '-r', child.baseRef])
        .split('\n')
        .filter((line) => line.endsWith('/manifest.yaml') && !line.includes(manifest))
      expect(stale, child.baseRef).toEqual([])
    }
    const places = flow.environments.map((env) => `${env.branch}:${env.folder}`)
    expect(new Set(places).size).toBe(N)
    expect(git(['for-each-ref', '--format=%(refname)'])).not.toContain(LOCK_BRANCH_PREFIX)
    const head = gh.state.pull(FULL_NAME, flow.parent).headSha
    const statuses = gh.state.latestStatuses(FULL_NAME, head)
    expect(statuses.find((s) => s.context === PIPELINE_CONTEXT)?.state).toBe('success')
    // Every environment succeeded, on its stage's one check run; no commit status of its own.
    expect(statuses.map((s) => s.context)).toEqual([PIPELINE_CONTEXT])
    const boards = boardsOf(
      gh.state.checkRuns(FULL_NAME, head).map((run) => ({
        id: run.id,
        name: run.name,
        status: run.status,
        output: { text: run.text },
      })),
    )
    expect([...boards.keys()].sort()).toEqual(Object.keys(STAGES).sort())
    const succeeded = [...boards.values()].flatMap((board) =>
      [...(board.entries ?? [])]
        .filter(([, entry]) => entry.state === 'success')
        .map(([env]) => env),
    )
    expect(succeeded.sort()).toEqual(flow.environments.map((env) => env.name).sort())

    // Within the budget, so GitHub refused nothing and the client never waited.
    const all = [...steps.values()].flat()
    const perStep = [...steps].map(([name, requests]) => ({
      name,
      rest: requests.length,
      writes: requests.filter((r) => !isRead(r)).length,
      creating: requests.filter(isCreating).length,
    }))
    const counts = { rest: all.length, creating: all.filter(isCreating).length }
    expect(counts.rest, JSON.stringify(perStep)).toBeLessThanOrEqual(BUDGET.rest)
    expect(counts.creating, JSON.stringify(perStep)).toBeLessThanOrEqual(BUDGET.creating)
    for (const { name, writes, creating } of perStep) {
      expect(writes, name).toBeLessThanOrEqual(STEP.writes)
      expect(creating, name).toBeLessThanOrEqual(STEP.creating)
    }
    expect(gh.rateLimits?.refusals).toEqual({})
    expect(ledger.waits).toEqual([])
    expect(all.filter((r) => r.status >= 400).map((r) => `${r.status} ${r.route}`)).toEqual([])
    // Nothing grows without bound: the child bodies list 350 folders, the comments 500 rows.
    for (const child of children)
      expect((child.body ?? '').length).toBeLessThanOrEqual(GITHUB_BODY_LIMIT)
    for (const comment of gh.state.comments(FULL_NAME, flow.parent))
      expect(comment.body.length).toBeLessThanOrEqual(GITHUB_BODY_LIMIT)
  }, 900_000)
})
