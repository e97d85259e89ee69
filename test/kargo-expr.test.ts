// The expression evaluator the Kargo player renders examples/kargo/ with:
// Kargo's template rules, and every expression the example writes.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import {
  evaluate,
  goJson,
  parseExpression,
  quote,
  renderConfig,
  renderTemplate,
} from './support/kargo/expr.js'
import { KARGO_EXAMPLE_DIR } from './support/kargo/setup.js'

const env = {
  vars: { environment: 'eu-test-1', pr: '42' },
  ctx: { targetFreight: { origin: { name: 'eu-test-1' } } },
  task: { outputs: { child: { sha: 'abc' } } },
  quote,
  status: (alias: unknown) => (alias === 'wait' ? 'Errored' : 'Succeeded'),
}

describe('Kargo templates', () => {
  it('keeps a string without an expression as it is', () => {
    expect(renderTemplate('plain: text', env)).toBe('plain: text')
  })

  it('coerces a result that reads as a number, a bool or JSON, as Kargo does', () => {
    expect(renderTemplate('${{ vars.pr }}', env)).toBe(42)
    expect(renderTemplate('${{ quote(vars.pr) }}', env)).toBe('42')
    expect(renderTemplate("${{ 'true' }}", env)).toBe(true)
    expect(renderTemplate('${{ {"a": 1} }}', env)).toEqual({ a: 1 })
    expect(renderTemplate('pr-${{ vars.pr }}/${{ vars.environment }}', env)).toBe('pr-42/eu-test-1')
  })

  it('quote() of a map gives the JSON text Go would write: sorted keys, HTML escaped', () => {
    expect(renderTemplate('${{ quote({"state": "ok", "context": "a<b"}) }}', env)).toBe(
      '{"context":"a\\u003cb","state":"ok"}',
    )
    expect(goJson({ b: [1, { d: 1, c: null }], a: '&' })).toBe(
      '{"a":"\\u0026","b":[1,{"c":null,"d":1}]}',
    )
  })

  it('renders values, never keys, through nested config', () => {
    expect(renderConfig({ '${{ vars.pr }}': [{ url: 'x/${{ vars.pr }}' }], n: 1 }, env)).toEqual({
      '${{ vars.pr }}': [{ url: 'x/42' }],
      n: 1,
    })
  })

  it('evaluates the operators the example uses', () => {
    const response = {
      status: 200,
      body: {
        statuses: [
          { context: 'fleet-promote/a', state: 'success', description: '' },
          { context: 'fleet-promote/b', state: 'pending', description: 'waiting for Kargo' },
        ],
        object: { sha: 'f00' },
      },
    }
    const e = { response }
    expect(evaluate("response.status == 200 ? response.body.object.sha : ''", e)).toBe('f00')
    expect(
      evaluate(
        "any(response.body.statuses, {.context == 'fleet-promote/b' && .state == 'pending'})",
        e,
      ),
    ).toBe(true)
    expect(evaluate("any(response.body.statuses, {.state in ['failure', 'error']})", e)).toBe(false)
    expect(evaluate('response.body.missing?.health ?? "Unknown"', e)).toBe('Unknown')
    expect(evaluate("trimPrefix('eu-test-1-pr-42', 'eu-test-1' + '-pr-')", e)).toBe('42')
    expect(evaluate("status('pending') == 'Succeeded' && status('wait') != 'Succeeded'", env)).toBe(
      true,
    )
  })

  it('refuses what expr-lang would refuse, and what it does not know', () => {
    expect(() => evaluate("'#' + 42", env)).toThrow(/invalid operation: string \+ number/)
    expect(() => evaluate('vars.missing.field', env)).toThrow(/cannot fetch field from nil/)
    expect(() => evaluate('1 && true', env)).toThrow(/&& needs a bool/)
    expect(() => evaluate('unknownName', env)).toThrow(/unknown name unknownName/)
    expect(() => evaluate("upper('a')", env)).toThrow(/unknown function upper/)
    expect(() => evaluate('vars.pr | upper', env)).toThrow(/unsupported character "\|"/)
    expect(() => renderTemplate('${{ vars.pr ', env)).toThrow(/unclosed expression/)
  })
})

/** Every string value of the Kargo manifests, with the expressions in it. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value)
  else if (Array.isArray(value)) for (const item of value) strings(item, out)
  else if (value && typeof value === 'object')
    for (const item of Object.values(value)) strings(item, out)
  return out
}

describe('examples/kargo uses only what the evaluator knows', () => {
  const texts = readdirSync(KARGO_EXAMPLE_DIR)
    .filter((file) => file.endsWith('.yaml'))
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(KARGO_EXAMPLE_DIR, file), 'utf8')).flatMap((doc) =>
        strings(doc.toJS({ maxAliasCount: 100 })),
      ),
    )

  it('parses every ${{ }} expression', () => {
    const expressions = texts.flatMap((text) =>
      [...text.matchAll(/\$\{\{([\s\S]*?)\}\}/g)].map((match) => match[1] as string),
    )
    expect(expressions.length).toBeGreaterThan(30)
    for (const expression of expressions)
      expect(() => parseExpression(expression), expression).not.toThrow()
  })

  it("parses every http step's response expression once its ${{ }} parts are filled in", async () => {
    const { loadKargoProject } = await import('./support/kargo/player.js')
    const project = loadKargoProject(KARGO_EXAMPLE_DIR)
    const responseExpressions = [...project.tasks.values()].flatMap((task) =>
      task.steps.flatMap((step) => {
        const config = (step.config ?? {}) as Record<string, unknown>
        return [
          config.successExpression,
          config.failureExpression,
          ...((config.outputs as { fromExpression: string }[] | undefined) ?? []).map(
            (output) => output.fromExpression,
          ),
        ].filter((text): text is string => typeof text === 'string')
      }),
    )
    expect(responseExpressions.length).toBeGreaterThan(5)
    for (const text of responseExpressions) {
      const filled = text.replace(/\$\{\{[\s\S]*?\}\}/g, 'x')
      expect(() => parseExpression(filled), filled).not.toThrow()
    }
  })
})
