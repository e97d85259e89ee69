// A long promotion's reply, edited in place: on the simulators, `.promote
// testing` in two waves with a bake posts one comment as it starts deploying and edits
// it as waves change; the final reply replaces it. The throttle and the
// progress lines, pure, with a clock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  LiveReply,
  MAX_INTERVAL_MS,
  MAX_PROGRESS_EDITS,
  shouldEdit,
} from '../actions/promote/live-reply.js'
import { promote } from '../actions/promote/promote.js'
import type { WavePlan } from '../actions/promote/waves.js'
import {
  fleetConfig,
  FULL_NAME,
  startPromoteFleet,
  type PromoteFleet,
  endPromoteFleet,
} from './support/promote-fleet.js'

let fleet: PromoteFleet

beforeAll(async () => {
  fleet = await startPromoteFleet({
    config: (url) =>
      fleetConfig(url).replace(
        'match: ["*-test-*"]',
        'match: ["*-test-*"]\n    waves: [eu-test-1]\n    bakeSeconds: 0.1',
      ),
  })
})

afterAll(async () => {
  await endPromoteFleet(fleet)
})

describe('live reply on the simulators', () => {
  it('posts one comment, edits it as the waves move, and ends with the final reply', async () => {
    const edits: string[] = []
    const posted: string[] = []
    const client = fleet.settings().client
    client.hook.before('request', (options) => {
      const body = String((options as { body?: string }).body ?? '')
      if (options.method === 'PATCH' && String(options.url).includes('/issues/comments/'))
        edits.push(body)
      if (
        options.method === 'POST' &&
        /\/issues\/(\d+|\{issue_number\})\/comments$/.test(String(options.url))
      )
        posted.push(body)
    })
    const before = fleet.gh.state.comments(FULL_NAME, fleet.parent).length
    const result = await promote(
      fleet.settings({ client }),
      fleet.comment(fleet.users.writer, '.promote testing'),
    )
    expect(result.decision, result.reason).toBe('deployed')
    const comments = fleet.gh.state.comments(FULL_NAME, fleet.parent)
    expect(comments.length).toBe(before + 2) // the command and the one reply
    expect(comments.at(-1)?.body).toBe(result.reply)
    // Posted when wave 1 started; edited when it finished (wave 2 running) and at the end.
    expect(posted).toHaveLength(1)
    expect(posted[0]).toContain('⏳ wave 1 (eu-test-1) of 2: running, 0/1 succeeded, 1 running')
    expect(edits.length).toBeGreaterThanOrEqual(2)
    expect(edits.at(-1)).toBe(result.reply)
    const progress = edits.slice(0, -1)
    expect(
      progress.some((body) =>
        /✅ wave 1 \(eu-test-1\) of 2: done, 1\/1 succeeded, \d+ ms[\s\S]*⏳ wave 2 \(the rest\) of 2: running/.test(
          body,
        ),
      ),
    ).toBe(true)
  })

  it('a re-run after success changes nothing and edits nothing', async () => {
    const from = fleet.gh.requests.length
    const result = await promote(
      fleet.settings(),
      fleet.comment(fleet.users.writer, '.promote testing'),
    )
    expect(result.decision).toBe('done')
    const routes = fleet.gh.requests.slice(from).map((r) => r.route)
    expect(routes.filter((r) => r.startsWith('PATCH'))).toEqual([])
  })
})

const plan = (states: ('done' | 'running' | 'todo')[]): WavePlan => ({
  stage: 'production',
  manual: false,
  waves: [
    {
      number: 1,
      pattern: 'canary',
      state: states[0] === 'done' ? 'done' : states[0] === 'running' ? 'running' : 'next',
      environments: [{ name: 'canary', progress: states[0]! }],
    },
    {
      number: 2,
      state:
        states[0] !== 'done'
          ? 'waiting'
          : states[1] === 'done' && states[2] === 'done'
            ? 'done'
            : 'running',
      environments: [
        { name: 'a', progress: states[1]! },
        { name: 'b', progress: states[2]! },
      ],
    },
  ],
  deployNow: [],
  later: [],
})

/** The elapsed time a live reply's body shows. */
const runningFor = (body: string) => /Running for (.+?);/.exec(body)?.[1]

describe('the throttle', () => {
  it('edits on a wave change at once, within a wave at most once per interval', () => {
    const last = { at: 0, waves: 'p#1:running' }
    expect(shouldEdit(undefined, { at: 0, waves: '' }, 10_000)).toBe(true)
    expect(shouldEdit(last, { at: 1, waves: 'p#1:done' }, 10_000)).toBe(true)
    expect(shouldEdit(last, { at: 9_999, waves: 'p#1:running' }, 10_000)).toBe(false)
    expect(shouldEdit(last, { at: 10_000, waves: 'p#1:running' }, 10_000)).toBe(true)
  })

  it('shows done / running / waiting per wave with elapsed time, and skips edits the throttle holds back', async () => {
    let clock = 0
    const bodies: string[] = []
    const live = new LiveReply(
      {
        create: (body) => (bodies.push(body), Promise.resolve(7)),
        edit: (_id, body) => (bodies.push(body), Promise.resolve()),
        post: () => Promise.reject(new Error('not expected')),
        log: () => undefined,
      },
      { command: '.promote production', actor: 'ana', sha: 'abcdef0123' },
      () => clock,
    )
    live.progress(plan(['running', 'todo', 'todo'])) // the first environment starts: posted
    clock = 42_000
    live.progress(plan(['done', 'running', 'todo']))
    clock = 45_000
    live.progress(plan(['done', 'done', 'running'])) // same waves, 3 s later: held back
    clock = 53_000
    live.progress(plan(['done', 'done', 'running'])) // 11 s after the last edit
    await live.finish('final')
    expect(bodies).toHaveLength(4)
    expect(bodies[1]).toContain('- ✅ wave 1 (canary) of 2: done, 1/1 succeeded, 42.0 s')
    expect(bodies[1]).toContain(
      '- ⏳ wave 2 (the rest) of 2: running, 0/2 succeeded, 1 running, 0 ms',
    )
    expect(bodies[0]).toContain('- ⏸️ wave 2 (the rest) of 2: waiting, 0/2 succeeded')
    expect(bodies[2]).toContain('Running for 53.0 s')
    expect(bodies[2]).toContain('running, 1/2 succeeded, 1 running, 11.0 s')
    expect(bodies[3]).toBe('final')
  })

  it(`stops editing after ${MAX_PROGRESS_EDITS} progress edits; the final reply still replaces it`, async () => {
    let clock = 0
    let edits = 0
    const live = new LiveReply(
      {
        create: () => Promise.resolve(7),
        edit: () => (edits++, Promise.resolve()),
        post: () => Promise.reject(new Error('not expected')),
        log: () => undefined,
      },
      { command: '.promote production', actor: 'ana', sha: 'abcdef0123' },
      () => clock,
    )
    for (let i = 0; i < 100; i++) {
      clock += 60_000
      live.progress(plan(['done', 'running', 'todo']))
    }
    await live.finish('final')
    expect(edits).toBe(MAX_PROGRESS_EDITS + 1)
  })

  it('a stage that runs for half an hour costs the same few edits as one of two minutes: the wait doubles', async () => {
    let clock = 0
    const editedAt: (string | undefined)[] = []
    const live = new LiveReply(
      {
        create: () => Promise.resolve(7),
        edit: (_id, body) => (
          body !== 'final' && editedAt.push(runningFor(body)),
          Promise.resolve()
        ),
        post: () => Promise.reject(new Error('not expected')),
        log: () => undefined,
      },
      { command: '.promote production', actor: 'ana', sha: 'abcdef0123' },
      () => clock,
    )
    // 350 environments in one wave, one finishing every 5 s (29 min 10 s in all).
    const environments = Array.from({ length: 350 }, (_, i) => ({
      name: `c${i}`,
      progress: 'running' as const,
    }))
    const stage = (finished: number): WavePlan => ({
      stage: 'production',
      manual: false,
      waves: [
        {
          number: 1,
          state: 'running',
          environments: environments.map((env, i) =>
            i < finished ? { ...env, progress: 'done' as const } : env,
          ),
        },
      ],
      deployNow: [],
      later: [],
    })
    for (let finished = 0; finished < 350; finished++) {
      live.progress(stage(finished))
      clock += 5_000
    }
    await live.finish('final')
    // 10 s, then 20, 40, 80, 160 and 300 s (the cap) after each edit, on the 5 s grid.
    expect(editedAt).toEqual([
      '10.0 s',
      '30.0 s',
      '1 min 10 s',
      '2 min 30 s',
      '5 min 10 s',
      '10 min 10 s',
    ])
    expect(editedAt).toHaveLength(MAX_PROGRESS_EDITS)
    expect(MAX_INTERVAL_MS).toBe(300_000) // 5 min 10 s → 10 min 10 s
  })

  it('a wave change edits at once and does not stretch the wait', async () => {
    let clock = 0
    const editedAt: (string | undefined)[] = []
    const live = new LiveReply(
      {
        create: () => Promise.resolve(7),
        edit: (_id, body) => (editedAt.push(runningFor(body)), Promise.resolve()),
        post: () => Promise.reject(new Error('not expected')),
        log: () => undefined,
      },
      { command: '.promote production', actor: 'ana', sha: 'abcdef0123' },
      () => clock,
    )
    live.progress(plan(['running', 'todo', 'todo']))
    clock = 1_000
    live.progress(plan(['done', 'running', 'todo'])) // wave 1 done: at once
    clock = 11_000
    live.progress(plan(['done', 'done', 'running'])) // 10 s later, same waves: the first wait
    clock = 25_000
    live.progress(plan(['done', 'done', 'running'])) // 14 s later: held back, the wait is 20 s now
    clock = 31_000
    live.progress(plan(['done', 'done', 'running']))
    await live.finish('final')
    expect(editedAt).toEqual(['1.0 s', '11.0 s', '31.0 s', undefined])
  })
})
