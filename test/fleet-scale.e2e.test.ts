// The whole flow at 500 environments (50 testing, 450 production), one WET
// branch per environment, merge backend, on the simulators with GitHub's
// documented rate limits on (an accelerated clock: 150 GitHub seconds a real
// second, slow enough that the hourly limits bind on an unloaded machine) and
// a workflow's GITHUB_TOKEN (1,000 requests an hour): every step waits the
// limits out within its budget instead of failing midway; the production
// promotion, whose writes would pass GitHub's 500 content-creating requests an
// hour, says so before it writes and deploys a bounded batch that the same
// command again continues; nothing is refused for its size; the flow converges
// (every child merged, every lock given back, the pipeline green). Takes about
// two minutes on a slow machine (about 1,000 requests refused for the hourly
// content limit and waited out, 9,500 GitHub seconds).
import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PIPELINE_CONTEXT } from '../actions/lib/aggregate.js'
import { RateLimitLedger } from '../actions/lib/github/rate-limit.js'
import { LOCK_BRANCH_PREFIX } from '../actions/lib/locks.js'
import { GITHUB_BODY_LIMIT } from '../actions/lib/markdown.js'
import { environmentContext } from '../actions/lib/statuses.js'
import { startScaleFlow, type ScaleFlow } from './support/scale-flow.js'

const N = 500
const PRODUCTION = 450
const FULL_NAME = 'acme/fleet'
const CLOCK_SCALE = 150
const WORKFLOW = 'github-actions[bot]'

let flow: ScaleFlow
const ledger = new RateLimitLedger(6 * 3600)
/** Every log line, with the statuses and deployments written before it. */
const logs: { line: string; deployWrites: number }[] = []
const isDeployWrite = (route: string) =>
  /^POST \/repos\/\{owner\}\/\{repo\}\/(statuses|deployments)/.test(route)

beforeAll(async () => {
  flow = await startScaleFlow({
    n: N,
    stages: 2,
    backend: 'merge',
    environmentRule: ['  - glob: clusters/*', '    name: "{1}"', '    branch: "env/{name}"'],
    rateLimits: { simulator: { clockScale: CLOCK_SCALE }, ledger },
    log: (line) =>
      logs.push({
        line,
        deployWrites: flow.gh.requests.filter((r) => r.status < 300 && isDeployWrite(r.route))
          .length,
      }),
  })
}, 300_000)

afterAll(async () => {
  await flow?.stop()
})

describe(`the whole flow at N = ${N} with GitHub's rate limits on`, () => {
  it('converges: limits waited out, production in two batches, nothing refused for size', async () => {
    await flow.openChildPrs()
    const testing = await flow.promote('testing')
    expect(testing.decision, testing.reason).toBe('deployed')
    expect(testing.environments).toHaveLength(N - PRODUCTION)

    flow.approve()
    const writesBefore = flow.gh.requests.filter(
      (r) => r.status < 300 && isDeployWrite(r.route),
    ).length
    const first = await flow.promote('production')
    expect(first.decision, first.reason).toBe('deployed')
    // One status each and one stage deployment (3 requests): 437 fit GitHub's hour with the reserve.
    const BATCH = 437
    expect(first.environments).toHaveLength(BATCH)
    expect(first.reason).toContain(
      `${PRODUCTION - BATCH} more environments left for the next run: deploying all ${PRODUCTION} needs about ${PRODUCTION + 3} content-creating GitHub requests, over GitHub's 500 an hour`,
    )
    // Said before the run wrote a status or a deployment.
    const said = logs.find((entry) => entry.line.startsWith(`batch: ${BATCH} of ${PRODUCTION}`))
    expect(said?.deployWrites).toBe(writesBefore)
    const second = await flow.promote('production')
    expect(second.decision, second.reason).toBe('deployed')
    expect(second.environments).toHaveLength(PRODUCTION - BATCH)

    await flow.mergeParent()
    const cleanup = await flow.mergeCleanup()
    expect(cleanup.environments.filter((env) => env.action !== 'merged')).toEqual([])

    const { gh } = flow
    // Converged: every child merged with its WET branch at its head, no lock left, the pipeline green.
    const children = gh.state.pulls(FULL_NAME).filter((p) => p.headRef.startsWith('fleet-promote/'))
    expect(children).toHaveLength(N)
    expect(children.filter((child) => !child.merged)).toEqual([])
    for (const env of flow.environments)
      expect(gh.state.refSha(FULL_NAME, env.branch), env.name).toBe(
        children.find((child) => child.baseRef === env.branch)?.headSha,
      )
    const refs = execFileSync('git', ['for-each-ref', '--format=%(refname)'], {
      cwd: gh.repoPath(FULL_NAME),
      encoding: 'utf8',
    })
    expect(refs).not.toContain(LOCK_BRANCH_PREFIX)
    const head = gh.state.pull(FULL_NAME, flow.parent).headSha
    const statuses = gh.state.latestStatuses(FULL_NAME, head)
    expect(statuses.find((s) => s.context === PIPELINE_CONTEXT)?.state).toBe('success')
    expect(
      flow.environments.filter(
        (env) =>
          statuses.find((s) => s.context === environmentContext(env.name))?.state !== 'success',
      ),
    ).toEqual([])

    // The limits were on, and refused and were waited out wherever a correct limiter must refuse.
    // The clock runs CLOCK_SCALE times real time, so whether 501 content-creating requests fall
    // in one hour of it depends on the machine's speed: a fast one makes open-child-prs' 1,002
    // writes in far less (CI: ~1,000 hourly refusals), a loaded one may spread them over more
    // than an hour, where GitHub would refuse none. test/github-rate-limits.test.ts waits each
    // kind of limit out on a deterministic schedule.
    const hourMs = 3_600_000 / CLOCK_SCALE
    const contentAt = gh.requests
      .filter((r) => r.user === WORKFLOW && /^(POST|PUT|PATCH) \/repos\//.test(r.route))
      .map((r) => r.at)
    const limit = gh.rateLimits?.limits.contentPerHour ?? Infinity
    const overAnHour = contentAt.some(
      (at, i) => i + limit < contentAt.length && contentAt[i + limit]! - at < hourMs,
    )
    const refusals = gh.rateLimits?.refusals ?? {}
    const refused = Object.values(refusals).reduce((sum, count) => sum + count, 0)
    expect(contentAt.length).toBeGreaterThan(2 * N)
    if (overAnHour) expect(refused, JSON.stringify(refusals)).toBeGreaterThan(0)
    // Every refusal the workflow's token met was waited out, none failed the run.
    if (refused > 0) expect(ledger.waits.length).toBeGreaterThan(0)
    if (ledger.waits.length > 0)
      expect(ledger.summary()).toMatch(
        /^Waited \d+ s for GitHub rate limits \((\d+ primary, )?\d+ secondary; budget 21600 s\)\.$/,
      )
    const failed = gh.requests.filter((r) => r.status >= 400 && ![403, 429].includes(r.status))
    expect(failed.map((r) => `${r.status} ${r.route}`)).toEqual([])
    for (const comment of gh.state.comments(FULL_NAME, flow.parent))
      expect(comment.body.length).toBeLessThanOrEqual(GITHUB_BODY_LIMIT)
  }, 900_000)
})
