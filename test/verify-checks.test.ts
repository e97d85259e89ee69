// The pure parts of the verify checks: conditions, Prometheus answers, HTTP
// verdicts, the `{name}` expansion and the verify-env input.
import { describe, expect, it } from 'vitest'
import { holds, parseCondition } from '../actions/lib/config/condition.js'
import { UserError } from '../actions/lib/errors.js'
import {
  checkQuery,
  checkUrl,
  httpVerdict,
  parseVerifyEnv,
  prometheusSamples,
  prometheusVerdict,
} from '../actions/promote/verify.js'

describe('conditions', () => {
  it.each([
    ['< 0.01', 0.009, true],
    ['< 0.01', 0.01, false],
    ['<=0.01', 0.01, true],
    ['> 1', 1, false],
    ['>= 1', 1, true],
    ['== 0', 0, true],
    ['!= 0', 0, false],
    ['< 1e-3', 0.0005, true],
  ])('%s holds for %d: %s', (text, sample, expected) => {
    expect(holds(parseCondition(text)!, sample)).toBe(expected)
  })

  it.each(['below 0.01', '<', '0.01', '< x', '=< 1', '< 1 2'])('"%s" is not one', (text) => {
    expect(parseCondition(text)).toBeUndefined()
  })

  it('NaN satisfies no condition', () => {
    expect(holds(parseCondition('< 1')!, NaN)).toBe(false)
    expect(holds(parseCondition('!= 1')!, NaN)).toBe(true)
  })
})

describe('Prometheus answers', () => {
  it('reads vectors, scalars and matrices', () => {
    const answer = (resultType: string, result: unknown) =>
      JSON.stringify({ status: 'success', data: { resultType, result } })
    expect(
      prometheusSamples(answer('vector', [{ value: [1, '0.5'] }, { value: [1, '2'] }])),
    ).toEqual({ values: [0.5, 2] })
    expect(prometheusSamples(answer('scalar', [1, '3']))).toEqual({ values: [3] })
    expect(
      prometheusSamples(
        answer('matrix', [
          {
            values: [
              [1, '1'],
              [2, '4'],
            ],
          },
        ]),
      ),
    ).toEqual({
      values: [1, 4],
    })
    expect(prometheusSamples('{"status":"error","error":"parse error at char 4"}')).toEqual({
      error: 'Prometheus: parse error at char 4',
    })
    expect(prometheusSamples('<html>')).toEqual({ error: 'the Prometheus answer is not JSON' })
  })

  it('fails on no data and names the sample and the evaluation', () => {
    const below = parseCondition('< 0.01')!
    expect(prometheusVerdict(below, { values: [] }, { look: 1, times: 1 })).toEqual({
      ok: false,
      detail: 'the query returned no data',
    })
    expect(prometheusVerdict(below, { values: [0.001, 0.2] }, { look: 2, times: 3 })).toEqual({
      ok: false,
      detail: '0.2 is not < 0.01 (evaluation 2 of 3)',
    })
  })
})

describe('HTTP verdicts', () => {
  const check = { name: 'healthz', url: 'https://x', status: 200 }
  it('compares the status, then the JSON field with its type', () => {
    expect(httpVerdict(check, 200, '')).toEqual({ ok: true, detail: 'healthz HTTP 200' })
    expect(httpVerdict(check, 500, '')).toEqual({ ok: false, detail: 'HTTP 500, expected 200' })
    const field = { ...check, field: 'db.ready', equals: true }
    expect(httpVerdict(field, 200, '{"db":{"ready":true}}').ok).toBe(true)
    expect(httpVerdict(field, 200, '{"db":{"ready":"true"}}')).toEqual({
      ok: false,
      detail: 'db.ready is "true", expected true',
    })
    expect(httpVerdict(field, 200, '{"db":{}}').detail).toBe('db.ready is missing, expected true')
    expect(httpVerdict(field, 200, 'ok').detail).toBe('HTTP 200 but the body is not JSON')
  })
})

describe('{name}', () => {
  it('is URL-encoded in URLs and escaped in PromQL strings', () => {
    expect(checkUrl('https://h/{name}/x?c={name}', 'a b&c')).toBe(
      'https://h/a%20b%26c/x?c=a%20b%26c',
    )
    expect(checkQuery('up{cluster="{name}"}', 'x"} or vector(1) #')).toBe(
      'up{cluster="x\\"} or vector(1) #"}',
    )
  })
})

describe('verify-env', () => {
  it('reads NAME=value lines, skipping blank lines and comments', () => {
    const text = [
      '# tokens for the checks',
      'PROM_TOKEN=abc=def==',
      '',
      '  grafana_token = g-123 ',
      'EMPTY=',
      '\r',
    ].join('\r\n')
    expect([...parseVerifyEnv(text)]).toEqual([
      ['PROM_TOKEN', 'abc=def=='],
      ['grafana_token', 'g-123'],
      ['EMPTY', ''],
    ])
    expect(parseVerifyEnv('').size).toBe(0)
  })

  it('names the input and the line, never the text of a bad line', () => {
    const secret = 's3cr3t-part'
    const cases: [string, string][] = [
      [`PROM_TOKEN=abc\n${secret}`, 'input "verify-env" line 2 is not NAME=value'],
      [`${secret}-x=1`, 'input "verify-env" line 1: the name before "=" must be letters, digits'],
      [`1ST=${secret}`, 'input "verify-env" line 1: the name before "="'],
      [`=${secret}`, 'input "verify-env" line 1: the name before "="'],
      [`A=1\n\nA=${secret}`, 'input "verify-env" line 3 sets A again (line 1 did)'],
    ]
    for (const [text, message] of cases) {
      let error: unknown
      try {
        parseVerifyEnv(text)
      } catch (caught) {
        error = caught
      }
      expect(error, text).toBeInstanceOf(UserError)
      expect((error as Error).message, text).toContain(message)
      expect((error as Error).message, text).not.toContain(secret)
    }
  })
})
