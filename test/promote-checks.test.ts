// verify checks on the simulators: after Synced and Healthy, an environment
// counts as succeeded only when its HTTP and Prometheus checks pass. One HTTP
// server on 127.0.0.1 stands in for the checked service and for Prometheus'
// query API, answering from a script per request; the Prometheus stand-in
// answers 401 to any bearer token but its own.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { promote } from '../actions/promote/promote.js'
import { parseVerifyEnv } from '../actions/promote/verify.js'
import {
  fleetConfig,
  FULL_NAME,
  startPromoteFleet,
  type PromoteFleet,
  endPromoteFleet,
} from './support/promote-fleet.js'

interface Answer {
  status?: number
  body: unknown
}

const TOKEN = 'prom-secret-7f3a'

/** Answers per path prefix, in order (the last one repeats); records every request. */
class ScriptedService {
  readonly requests: { path: string; query: string; authorization?: string }[] = []
  private scripts = new Map<string, Answer[]>()
  private server: Server = createServer((req, res) => this.answer(req, res))

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()))
  }

  script(prefix: string, answers: Answer[]): void {
    this.scripts.set(prefix, [...answers])
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    this.requests.push({
      path: url.pathname,
      query: url.searchParams.get('query') ?? '',
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    })
    if (url.pathname.startsWith('/prom/') && req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'content-type': 'application/json' })
      res.end('{"status":"error","error":"unauthorized"}')
      return
    }
    const prefix = [...this.scripts.keys()].find((p) => url.pathname.startsWith(p))
    const answers = prefix === undefined ? [] : this.scripts.get(prefix)!
    const next = answers.length > 1 ? answers.shift()! : answers[0]
    res.writeHead(next?.status ?? (next ? 200 : 404), { 'content-type': 'application/json' })
    res.end(next ? JSON.stringify(next.body) : '{}')
  }
}

const vector = (...values: string[]) => ({
  status: 'success',
  data: {
    resultType: 'vector',
    result: values.map((value) => ({ metric: {}, value: [1764780000, value] })),
  },
})

const service = new ScriptedService()
let fleet: PromoteFleet
const logs: string[] = []

beforeAll(async () => {
  const url = await service.start()
  const verify = [
    '    waves: [eu-test-1]',
    '    verify:',
    '      http:',
    `        - url: "${url}/svc/{name}/healthz"`,
    '          field: status',
    '          equals: ok',
    '      prometheus:',
    '        - name: error-rate',
    `          url: "${url}/prom"`,
    '          query: \'sum(rate(http_errors{cluster="{name}"}[5m]))\'',
    '          condition: "< 0.01"',
    '          times: 3',
    '          intervalSeconds: 0.05',
    '          tokenEnv: FLEET_PROM_TOKEN',
  ].join('\n')
  fleet = await startPromoteFleet({
    config: (argocd) =>
      fleetConfig(argocd).replace('match: ["*-test-*"]', `match: ["*-test-*"]\n${verify}`),
  })
})

afterAll(async () => {
  await endPromoteFleet(fleet)
  await service.stop()
})

const status = (env: string) =>
  fleet.gh.state
    .latestStatuses(FULL_NAME, fleet.headSha)
    .find((s) => s.context === `fleet-promote/${env}`)

/** A promotion with the verify-env input's text and the promote step's environment. */
const run = (verifyEnv = `FLEET_PROM_TOKEN=${TOKEN}`, stepEnv: Record<string, string> = {}) =>
  promote(
    fleet.settings({
      verifyEnv: parseVerifyEnv(verifyEnv),
      stepEnv: (name) => stepEnv[name],
      log: (line) => logs.push(line),
    }),
    fleet.comment(fleet.users.writer, '.promote testing'),
  )

const prometheusAuthorizations = (from: number) =>
  service.requests
    .slice(from)
    .filter((r) => r.path === '/prom/api/v1/query')
    .map((r) => r.authorization)

describe('verify checks', () => {
  it('a failed HTTP check fails the canary: the rest never syncs, the canary runs its WET branch again', async () => {
    service.script('/svc/', [{ status: 503, body: { status: 'starting' } }])
    const from = fleet.argocd.syncs.length
    const result = await run()
    expect(result.decision).toBe('failed')
    const canary = result.environments.find((e) => e.environment === 'eu-test-1')
    expect(canary?.detail).toMatch(
      /^rolled back to env\/eu-test-1; eu-test-1-addons failed check http: HTTP 503, expected 200/,
    )
    expect(status('eu-test-1')?.state).toBe('failure')
    expect(status('eu-test-1')?.description).toMatch(/failed check http: HTTP 503/)
    expect(result.reply).toContain('failed check http: HTTP 503, expected 200')
    expect(fleet.argocd.syncs.slice(from).map((s) => s.targetRevision)).toEqual([
      `fleet-promote/pr-${fleet.parent}/eu-test-1`,
      'env/eu-test-1',
    ])
    expect(status('us-test-1')?.state).toBe('pending')
  })

  it('a Prometheus query that breaks its condition on the second evaluation fails it', async () => {
    service.script('/svc/', [{ body: { status: 'ok' } }])
    service.script('/prom/', [{ body: vector('0.002') }, { body: vector('0.004', '0.05') }])
    const result = await run()
    expect(result.decision).toBe('failed')
    expect(status('eu-test-1')?.description).toMatch(
      /failed check error-rate: 0\.05 is not < 0\.01 \(evaluation 2 of 3\)/,
    )
  })

  it('a check whose token is set nowhere (or empty in verify-env) is refused before anything deploys, naming it and where to set it', async () => {
    service.script('/prom/', [{ body: vector('0') }])
    for (const verifyEnv of ['OTHER_TOKEN=x', 'FLEET_PROM_TOKEN=']) {
      const from = { requests: service.requests.length, syncs: fleet.argocd.syncs.length }
      const before = status('eu-test-1')
      const result = await run(verifyEnv)
      expect(result.decision).toBe('refused')
      expect(result.reason).toBe(
        "check error-rate of stage testing: FLEET_PROM_TOKEN is not set: pass it in the verify-env secret (FLEET_PROM_TOKEN=...) or the promote step's env",
      )
      expect(result.reply).toContain('Nothing was changed.')
      expect(fleet.argocd.syncs.length).toBe(from.syncs)
      expect(service.requests.length).toBe(from.requests)
      expect(status('eu-test-1')).toEqual(before)
    }
  })

  it("verify-env comes first; the promote step's environment holds the names it lacks", async () => {
    let from = service.requests.length
    let result = await run('FLEET_PROM_TOKEN=stale', { FLEET_PROM_TOKEN: TOKEN })
    expect(result.decision).toBe('failed')
    expect(status('eu-test-1')?.description).toMatch(
      /failed check error-rate: Prometheus answered HTTP 401/,
    )
    expect(prometheusAuthorizations(from)).toEqual(['Bearer stale'])
    from = service.requests.length
    result = await run('OTHER_TOKEN=x', { FLEET_PROM_TOKEN: 'from-the-step' })
    expect(result.decision).toBe('failed')
    expect(prometheusAuthorizations(from)).toEqual(['Bearer from-the-step'])
  })

  it('passing checks: every environment succeeds with each check in its status and the reply; the verify-env token only in the header', async () => {
    service.script('/prom/', [{ body: vector('0.001', '0.003') }])
    const from = service.requests.length
    const logsFrom = logs.length
    const result = await run()
    expect(result.decision, result.reason).toBe('deployed')
    for (const env of ['ap-test-1', 'eu-test-1', 'us-test-1']) {
      expect(status(env)?.state).toBe('success')
      expect(status(env)?.description).toMatch(
        /Synced and Healthy at [0-9a-f]{7}; checks: http HTTP 200, status "ok", error-rate 0\.003 < 0\.01 \(3×\)$/,
      )
    }
    expect(result.reply).toContain('error-rate 0.003 &lt; 0.01 (3×)')
    const prom = service.requests.slice(from).filter((r) => r.path === '/prom/api/v1/query')
    expect(prom).toHaveLength(9)
    expect(prom.map((r) => r.query)).toContain('sum(rate(http_errors{cluster="eu-test-1"}[5m]))')
    expect(prom.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true)
    expect(service.requests.slice(from).map((r) => r.path)).toContain('/svc/us-test-1/healthz')
    expect(JSON.stringify(fleet.gh.state.comments(FULL_NAME, fleet.parent))).not.toContain(TOKEN)
    expect(result.reply).not.toContain(TOKEN)
    expect(logs.length).toBeGreaterThan(logsFrom)
    expect(logs.join('\n')).not.toContain(TOKEN)
  })
})
