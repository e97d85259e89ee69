// Verification before success: an environment Argo CD reports Synced and
// Healthy counts as succeeded only once it stayed so for the stage's
// `bakeSeconds` (a Degraded seen meanwhile fails it) and then passed the
// stage's `verify` checks.

import { setTimeout as sleep } from 'node:timers/promises'
import { assessApplication, type ArgoCdClient } from '../lib/argocd/client.js'
import { holds, parseCondition, type Condition } from '../lib/config/condition.js'
import type { HttpCheck, PrometheusCheck, VerifyConfig } from '../lib/config/types.js'
import { errorMessage, UserError } from '../lib/errors.js'

export interface Verdict {
  ok: boolean
  /** One clause for the status description and the reply. */
  detail: string
}

export interface BakeRequest {
  application: string
  /** The commit the Application must stay synced to. */
  revision: string
  seconds: number
  pollMs: number
  now?: () => number
  sleep?: (ms: number) => Promise<void>
}

/** Watches the Application for `seconds`: every look must find it Synced and Healthy at `revision`. */
export async function bake(client: ArgoCdClient, request: BakeRequest): Promise<Verdict> {
  const now = request.now ?? Date.now
  const pause = request.sleep ?? sleep
  const bakeMs = request.seconds * 1000
  const started = now()
  for (;;) {
    const elapsed = now() - started
    if (elapsed >= bakeMs) return { ok: true, detail: `Healthy for ${request.seconds} s` }
    await pause(Math.min(request.pollMs, bakeMs - elapsed))
    const seen = assessApplication(
      await client.getApplication(request.application),
      request.revision,
    )
    if (seen.state !== 'ok') {
      const into = ((now() - started) / 1000).toFixed(1)
      return {
        ok: false,
        detail: `failed its ${request.seconds} s bake after ${into} s: ${seen.message}`,
      }
    }
  }
}

// ---------------------------------------------------------------------------
// verify checks: HTTP and Prometheus, against URLs from the configuration (the
// base branch) with tokens only from the workflow: the verify-env input, else
// the promote step's environment.

export interface CheckContext {
  /** A `tokenEnv`'s value from verify-env or the step's environment (main.ts masks both). */
  secret: (name: string) => string | undefined
  sleep?: (ms: number) => Promise<void>
  /** Per request. */
  timeoutMs?: number
}

/** Runs the stage's checks for one environment in order; the first failure ends them. */
export async function runChecks(
  verify: VerifyConfig,
  environment: string,
  ctx: CheckContext,
): Promise<Verdict> {
  const passed: string[] = []
  for (const check of verify.http) {
    const verdict = await httpCheck(check, environment, ctx)
    if (!verdict.ok) return failedCheck(check.name, verdict, passed)
    passed.push(verdict.detail)
  }
  for (const check of verify.prometheus) {
    const verdict = await prometheusCheck(check, environment, ctx)
    if (!verdict.ok) return failedCheck(check.name, verdict, passed)
    passed.push(verdict.detail)
  }
  return { ok: true, detail: passed.join(', ') }
}

function failedCheck(name: string, verdict: Verdict, passed: readonly string[]): Verdict {
  const before = passed.length > 0 ? ` (passed: ${passed.join(', ')})` : ''
  return { ok: false, detail: `failed check ${name}: ${verdict.detail}${before}` }
}

/** `{name}` in a URL template: the environment name, URL-encoded. */
export function checkUrl(template: string, environment: string): string {
  return template.replaceAll('{name}', encodeURIComponent(environment))
}

/** `{name}` in PromQL: the environment name, escaped for a quoted string literal. */
export function checkQuery(template: string, environment: string): string {
  return template.replaceAll('{name}', environment.replace(/[\\"'`]/g, '\\$&'))
}

async function httpCheck(check: HttpCheck, environment: string, ctx: CheckContext) {
  const answer = await request(checkUrl(check.url, environment), check.tokenEnv, ctx)
  if ('error' in answer) return { ok: false, detail: answer.error }
  return httpVerdict(check, answer.status, answer.body)
}

/** The HTTP check's verdict from the answer. */
export function httpVerdict(check: HttpCheck, status: number, body: string): Verdict {
  if (status !== check.status)
    return { ok: false, detail: `HTTP ${status}, expected ${check.status}` }
  if (check.field === undefined) return { ok: true, detail: `${check.name} HTTP ${status}` }
  let value: unknown
  try {
    value = fieldOf(JSON.parse(body), check.field)
  } catch {
    return { ok: false, detail: `HTTP ${status} but the body is not JSON` }
  }
  const shown = value === undefined ? 'missing' : shorten(JSON.stringify(value))
  if (value !== check.equals)
    return {
      ok: false,
      detail: `${check.field} is ${shown}, expected ${JSON.stringify(check.equals)}`,
    }
  return { ok: true, detail: `${check.name} HTTP ${status}, ${check.field} ${shown}` }
}

function fieldOf(value: unknown, path: string): unknown {
  let at = value
  for (const key of path.split('.')) {
    if (at === null || typeof at !== 'object' || !Object.hasOwn(at, key)) return undefined
    at = (at as Record<string, unknown>)[key]
  }
  return at
}

async function prometheusCheck(
  check: PrometheusCheck,
  environment: string,
  ctx: CheckContext,
): Promise<Verdict> {
  const condition = parseCondition(check.condition)
  if (!condition) return { ok: false, detail: `"${check.condition}" is not a condition` }
  const url = new URL(`${checkUrl(check.url, environment).replace(/\/+$/, '')}/api/v1/query`)
  url.searchParams.set('query', checkQuery(check.query, environment))
  const pause = ctx.sleep ?? sleep
  const seen: number[] = []
  for (let look = 1; look <= check.times; look++) {
    if (look > 1) await pause(check.intervalSeconds * 1000)
    const answer = await request(url.toString(), check.tokenEnv, ctx)
    if ('error' in answer) return { ok: false, detail: answer.error }
    const samples =
      answer.status === 200
        ? prometheusSamples(answer.body)
        : { error: `Prometheus answered HTTP ${answer.status}` }
    const verdict = prometheusVerdict(condition, samples, { look, times: check.times })
    if (!verdict.ok) return verdict
    if ('values' in samples) seen.push(...samples.values)
  }
  const times = check.times > 1 ? ` (${check.times}×)` : ''
  return { ok: true, detail: `${check.name} ${worst(condition, seen)} ${condition.text}${times}` }
}

/** The samples of an instant query's answer (vector, scalar or matrix), or why there are none. */
export function prometheusSamples(body: string): { values: number[] } | { error: string } {
  let answer: { status?: string; error?: string; data?: { resultType?: string; result?: unknown } }
  try {
    answer = JSON.parse(body) as typeof answer
  } catch {
    return { error: 'the Prometheus answer is not JSON' }
  }
  if (answer.status !== 'success')
    return { error: `Prometheus: ${shorten(answer.error ?? 'query failed')}` }
  const result = answer.data?.result
  const pairs: unknown[] =
    answer.data?.resultType === 'scalar'
      ? [result]
      : Array.isArray(result)
        ? result.flatMap(
            (series: { value?: unknown; values?: unknown[] }) => series.values ?? [series.value],
          )
        : []
  return { values: pairs.map((pair) => Number(Array.isArray(pair) ? pair[1] : NaN)) }
}

export function prometheusVerdict(
  condition: Condition,
  samples: { values: number[] } | { error: string },
  at: { look: number; times: number },
): Verdict {
  const where = at.times > 1 ? ` (evaluation ${at.look} of ${at.times})` : ''
  if ('error' in samples) return { ok: false, detail: `${samples.error}${where}` }
  if (samples.values.length === 0)
    return { ok: false, detail: `the query returned no data${where}` }
  const bad = samples.values.find((value) => !holds(condition, value))
  if (bad !== undefined) return { ok: false, detail: `${bad} is not ${condition.text}${where}` }
  return { ok: true, detail: '' }
}

/** The sample nearest to failing: the largest for `<`, the smallest for `>`. */
function worst(condition: Condition, values: readonly number[]): number {
  if (condition.op.startsWith('<')) return Math.max(...values)
  if (condition.op.startsWith('>')) return Math.min(...values)
  return values[0] ?? NaN
}

async function request(
  url: string,
  tokenEnv: string | undefined,
  ctx: CheckContext,
): Promise<{ status: number; body: string } | { error: string }> {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (tokenEnv !== undefined) {
    const token = ctx.secret(tokenEnv)
    if (!token) return { error: tokenNotSet(tokenEnv) }
    headers.authorization = `Bearer ${token}`
  }
  const timeoutMs = ctx.timeoutMs ?? 10_000
  try {
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) })
    return { status: response.status, body: await response.text() }
  } catch (error) {
    const why =
      error instanceof Error && error.name === 'TimeoutError'
        ? `no answer in ${timeoutMs / 1000} s`
        : errorMessage(error)
    return { error: `GET ${new URL(url).origin}${new URL(url).pathname}: ${why}` }
  }
}

function shorten(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

// ---------------------------------------------------------------------------
// verify-env: the tokens the caller passes from its own workflow secrets.

/** Where a check's token goes: said by the gate before anything deploys, and by the check. */
export function tokenNotSet(name: string): string {
  return `${name} is not set: pass it in the verify-env secret (${name}=...) or the promote step's env`
}

/** As `tokenEnv`'s pattern in the schema, so every name a check may ask for can be given. */
const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * The verify-env input: one `NAME=value` per line (the value is the rest of
 * the line, trimmed), blank lines and `#` comments skipped. An error names the
 * line by its number only: its text may hold a secret.
 */
export function parseVerifyEnv(text: string, input = 'verify-env'): Map<string, string> {
  const tokens = new Map<string, string>()
  const setOn = new Map<string, number>()
  for (const [index, line] of text.split(/\r?\n/).entries()) {
    const at = `input "${input}" line ${index + 1}`
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue
    const equals = line.indexOf('=')
    if (equals < 0) throw new UserError(`${at} is not NAME=value (a value must fit on its line)`)
    const name = line.slice(0, equals).trim()
    if (!VARIABLE.test(name))
      throw new UserError(
        `${at}: the name before "=" must be letters, digits and _, not starting with a digit`,
      )
    const first = setOn.get(name)
    if (first !== undefined) throw new UserError(`${at} sets ${name} again (line ${first} did)`)
    setOn.set(name, index + 1)
    tokens.set(name, line.slice(equals + 1).trim())
  }
  return tokens
}
