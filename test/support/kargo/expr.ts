/**
 * A small evaluator for the part of Kargo's expression language
 * (expr-lang, https://expr-lang.org, inside `${{ }}`) that
 * examples/kargo/ uses, with Kargo's template rules (pkg/expressions):
 *
 *   literals ('…', "…", numbers, true, false, nil), [lists], {"maps": …},
 *   a.b, a?.b, a['b'], calls, predicates {.field == …} for any(), unary !,
 *   + (numbers, or two strings), == != < <= > >=, in, && ||, ??, ?:
 *
 * Anything else is refused with an error rather than guessed at, so a
 * manifest that starts using more of the language fails its tests until the
 * evaluator learns it.
 */

export type Value = unknown
export type KargoFunction = (...args: Value[]) => Value
export interface Env {
  [name: string]: Value
}

type Token =
  | { kind: 'number'; value: number; at: number }
  | { kind: 'string'; value: string; at: number }
  | { kind: 'name'; value: string; at: number }
  | { kind: 'op'; value: string; at: number }

const OPERATORS = [
  '?.',
  '??',
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '!',
  '<',
  '>',
  '+',
  '?',
  ':',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  '.',
  '#',
]

export class ExpressionError extends Error {
  override name = 'ExpressionError'
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < source.length) {
    const ch = source[i] as string
    if (/\s/.test(ch)) {
      i++
      continue
    }
    const number = /^\d+(\.\d+)?/.exec(source.slice(i))
    if (number) {
      tokens.push({ kind: 'number', value: Number(number[0]), at: i })
      i += number[0].length
      continue
    }
    if (ch === '"' || ch === "'") {
      let value = ''
      let j = i + 1
      for (; j < source.length && source[j] !== ch; j++) {
        if (source[j] === '\\') {
          const next = source[++j]
          value += next === 'n' ? '\n' : next === 't' ? '\t' : (next ?? '')
        } else value += source[j]
      }
      if (j >= source.length) throw new ExpressionError(`unterminated string at ${i}: ${source}`)
      tokens.push({ kind: 'string', value, at: i })
      i = j + 1
      continue
    }
    const name = /^[A-Za-z_$][\w$]*/.exec(source.slice(i))
    if (name) {
      tokens.push({ kind: 'name', value: name[0], at: i })
      i += name[0].length
      continue
    }
    const op = OPERATORS.find((candidate) => source.startsWith(candidate, i))
    if (!op) throw new ExpressionError(`unsupported character "${ch}" at ${i}: ${source}`)
    tokens.push({ kind: 'op', value: op, at: i })
    i += op.length
  }
  return tokens
}

type Ast =
  | { type: 'literal'; value: Value }
  | { type: 'name'; name: string }
  | { type: 'element' }
  | { type: 'member'; object: Ast; property: Ast; optional: boolean }
  | { type: 'call'; callee: string; args: Ast[] }
  | { type: 'predicate'; body: Ast }
  | { type: 'list'; items: Ast[] }
  | { type: 'map'; entries: [string, Ast][] }
  | { type: 'unary'; op: string; operand: Ast }
  | { type: 'binary'; op: string; left: Ast; right: Ast }
  | { type: 'ternary'; test: Ast; then: Ast; otherwise: Ast }

/** expr-lang's builtins that take a predicate as their second argument (only those used here). */
const PREDICATE_BUILTINS = new Set(['any', 'all'])

class Parser {
  private position = 0

  constructor(
    private readonly tokens: Token[],
    private readonly source: string,
  ) {}

  parse(): Ast {
    const ast = this.ternary()
    const rest = this.tokens[this.position]
    if (rest) this.fail(`unexpected "${String(rest.value)}"`, rest)
    return ast
  }

  private fail(message: string, token = this.tokens[this.position]): never {
    throw new ExpressionError(
      `${message} at ${token ? token.at : this.source.length} in: ${this.source}`,
    )
  }

  private peek(value: string): boolean {
    const token = this.tokens[this.position]
    return (
      token !== undefined && (token.kind === 'op' || token.kind === 'name') && token.value === value
    )
  }

  private take(value: string): boolean {
    if (!this.peek(value)) return false
    this.position++
    return true
  }

  private expect(value: string): void {
    if (!this.take(value)) this.fail(`expected "${value}"`)
  }

  private ternary(): Ast {
    const test = this.coalesce()
    if (!this.take('?')) return test
    const then = this.ternary()
    this.expect(':')
    return { type: 'ternary', test, then, otherwise: this.ternary() }
  }

  private coalesce(): Ast {
    let left = this.or()
    while (this.take('??')) left = { type: 'binary', op: '??', left, right: this.or() }
    return left
  }

  private or(): Ast {
    let left = this.and()
    while (this.take('||') || this.take('or'))
      left = { type: 'binary', op: '||', left, right: this.and() }
    return left
  }

  private and(): Ast {
    let left = this.equality()
    while (this.take('&&') || this.take('and'))
      left = { type: 'binary', op: '&&', left, right: this.equality() }
    return left
  }

  private equality(): Ast {
    let left = this.relation()
    for (;;) {
      const op = ['==', '!='].find((candidate) => this.take(candidate))
      if (!op) return left
      left = { type: 'binary', op, left, right: this.relation() }
    }
  }

  private relation(): Ast {
    let left = this.additive()
    for (;;) {
      const op = ['<=', '>=', '<', '>', 'in'].find((candidate) => this.take(candidate))
      if (!op) return left
      left = { type: 'binary', op, left, right: this.additive() }
    }
  }

  private additive(): Ast {
    let left = this.unary()
    while (this.take('+')) left = { type: 'binary', op: '+', left, right: this.unary() }
    return left
  }

  private unary(): Ast {
    if (this.take('!') || this.take('not')) return { type: 'unary', op: '!', operand: this.unary() }
    return this.postfix(this.primary())
  }

  private postfix(node: Ast): Ast {
    for (;;) {
      if (this.take('.'))
        node = { type: 'member', object: node, property: this.field(), optional: false }
      else if (this.take('?.'))
        node = { type: 'member', object: node, property: this.field(), optional: true }
      else if (this.take('[')) {
        const property = this.ternary()
        this.expect(']')
        node = { type: 'member', object: node, property, optional: false }
      } else return node
    }
  }

  private field(): Ast {
    const token = this.tokens[this.position]
    if (token?.kind !== 'name') this.fail('expected a field name')
    this.position++
    return { type: 'literal', value: token.value }
  }

  private list(close: string, item: () => Ast): Ast[] {
    const items: Ast[] = []
    if (this.take(close)) return items
    do items.push(item())
    while (this.take(','))
    this.expect(close)
    return items
  }

  private primary(): Ast {
    const token = this.tokens[this.position]
    if (!token) this.fail('unexpected end')
    this.position++
    switch (token.kind) {
      case 'number':
      case 'string':
        return { type: 'literal', value: token.value }
      case 'name': {
        if (token.value === 'true' || token.value === 'false')
          return { type: 'literal', value: token.value === 'true' }
        if (token.value === 'nil') return { type: 'literal', value: null }
        if (!this.take('(')) return { type: 'name', name: token.value }
        const callee = token.value
        const args: Ast[] = []
        if (!this.take(')')) {
          do {
            if (PREDICATE_BUILTINS.has(callee) && args.length === 1 && this.take('{')) {
              const body = this.ternary()
              this.expect('}')
              args.push({ type: 'predicate', body })
            } else args.push(this.ternary())
          } while (this.take(','))
          this.expect(')')
        }
        return { type: 'call', callee, args }
      }
      case 'op':
        switch (token.value) {
          case '(': {
            const inner = this.ternary()
            this.expect(')')
            return inner
          }
          case '[':
            return { type: 'list', items: this.list(']', () => this.ternary()) }
          case '{': {
            const entries: [string, Ast][] = []
            if (!this.take('}')) {
              do {
                const key = this.tokens[this.position]
                if (key?.kind !== 'string' && key?.kind !== 'name') this.fail('expected a map key')
                this.position++
                this.expect(':')
                entries.push([String(key.value), this.ternary()])
              } while (this.take(','))
              this.expect('}')
            }
            return { type: 'map', entries }
          }
          case '.':
            // `.field` inside a predicate: a field of the element.
            return {
              type: 'member',
              object: { type: 'element' },
              property: this.field(),
              optional: false,
            }
          case '#':
            return { type: 'element' }
        }
    }
    return this.fail(`unexpected "${String(token.value)}"`, token)
  }
}

export function parseExpression(source: string): Ast {
  return new Parser(tokenize(source), source).parse()
}

function typeName(value: Value): string {
  if (value === null || value === undefined) return 'nil'
  if (Array.isArray(value)) return 'array'
  return typeof value
}

function requireBoolean(value: Value, what: string): boolean {
  if (typeof value !== 'boolean')
    throw new ExpressionError(`${what} needs a bool, got ${typeName(value)}`)
  return value
}

const BUILTINS: Record<string, (args: Ast[], env: Env, element: Value) => Value> = {
  any: (args, env) => {
    const [list, predicate] = args
    const items = run(list as Ast, env, undefined)
    if (!Array.isArray(items))
      throw new ExpressionError(`any() needs an array, got ${typeName(items)}`)
    if (predicate?.type !== 'predicate') throw new ExpressionError('any() needs a predicate {…}')
    return items.some((item) => requireBoolean(run(predicate.body, env, item), 'any() predicate'))
  },
  trimPrefix: (args, env, element) => {
    const [text, prefix] = args.map((arg) => run(arg, env, element))
    if (typeof text !== 'string' || typeof prefix !== 'string')
      throw new ExpressionError('trimPrefix() needs two strings')
    return text.startsWith(prefix) ? text.slice(prefix.length) : text
  },
}

function run(node: Ast, env: Env, element: Value): Value {
  switch (node.type) {
    case 'literal':
      return node.value
    case 'element':
      return element
    case 'name':
      if (!(node.name in env)) throw new ExpressionError(`unknown name ${node.name}`)
      return env[node.name] ?? null
    case 'member': {
      const object = run(node.object, env, element)
      const property = run(node.property, env, element)
      if (object === null || object === undefined) {
        if (node.optional) return null
        throw new ExpressionError(`cannot fetch ${String(property)} from nil`)
      }
      if (Array.isArray(object) && typeof property === 'number') return object[property] ?? null
      if (typeof object === 'object')
        return (object as Record<string, Value>)[String(property)] ?? null
      throw new ExpressionError(`cannot fetch ${String(property)} from ${typeName(object)}`)
    }
    case 'call': {
      const builtin = BUILTINS[node.callee]
      if (builtin) return builtin(node.args, env, element)
      const fn = env[node.callee]
      if (typeof fn !== 'function') throw new ExpressionError(`unknown function ${node.callee}()`)
      return (fn as KargoFunction)(...node.args.map((arg) => run(arg, env, element)))
    }
    case 'predicate':
      throw new ExpressionError('a predicate {…} is only allowed as an argument of any()')
    case 'list':
      return node.items.map((item) => run(item, env, element))
    case 'map':
      return Object.fromEntries(node.entries.map(([key, value]) => [key, run(value, env, element)]))
    case 'unary':
      return !requireBoolean(run(node.operand, env, element), '!')
    case 'ternary':
      return requireBoolean(run(node.test, env, element), '?:')
        ? run(node.then, env, element)
        : run(node.otherwise, env, element)
    case 'binary': {
      const left = run(node.left, env, element)
      switch (node.op) {
        case '&&':
          return requireBoolean(left, '&&') && requireBoolean(run(node.right, env, element), '&&')
        case '||':
          return requireBoolean(left, '||') || requireBoolean(run(node.right, env, element), '||')
        case '??':
          return left ?? run(node.right, env, element)
      }
      const right = run(node.right, env, element)
      switch (node.op) {
        case '==':
          return (left ?? null) === (right ?? null)
        case '!=':
          return (left ?? null) !== (right ?? null)
        case 'in':
          if (!Array.isArray(right))
            throw new ExpressionError(`in needs an array, got ${typeName(right)}`)
          return right.includes(left)
        case '+':
          if (typeof left === 'number' && typeof right === 'number') return left + right
          if (typeof left === 'string' && typeof right === 'string') return left + right
          throw new ExpressionError(`invalid operation: ${typeName(left)} + ${typeName(right)}`)
        default: {
          if (typeof left !== 'number' || typeof right !== 'number')
            throw new ExpressionError(
              `${node.op} needs numbers, got ${typeName(left)} and ${typeName(right)}`,
            )
          return node.op === '<'
            ? left < right
            : node.op === '<='
              ? left <= right
              : node.op === '>'
                ? left > right
                : left >= right
        }
      }
    }
  }
}

export function evaluate(source: string, env: Env): Value {
  return run(parseExpression(source), env, undefined)
}

/** Go's encoding/json: sorted map keys, `<`, `>`, `&`, U+2028 and U+2029 escaped. */
export function goJson(value: Value): string {
  const sorted = (item: Value): Value => {
    if (Array.isArray(item)) return item.map(sorted)
    if (item !== null && typeof item === 'object') {
      return Object.fromEntries(
        Object.keys(item)
          .sort()
          .map((key) => [key, sorted((item as Record<string, Value>)[key])]),
      )
    }
    return item ?? null
  }
  return JSON.stringify(sorted(value)).replace(
    /[<>&\u2028\u2029]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

/** Kargo's `quote()`: a string as Go's %q would print it, anything else as JSON, in quotes. */
export function quote(value: Value): string {
  return typeof value === 'string' ? JSON.stringify(value) : `"${goJson(value)}"`
}

const DELIMITERS = [
  ['${{', '}}'],
  ['${%', '%}'],
] as const

/** Go's strconv.ParseFloat for the decimal forms, and ParseBool. */
function coerceScalar(text: string): Value {
  if (/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) return Number(text)
  if (/^[+-]?(inf|infinity|nan)$/i.test(text))
    return Number(text.replace(/inf(inity)?/i, 'Infinity'))
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false
  return undefined
}

/**
 * One configuration value with `${{ }}` (or `${% %}`) expressions, as
 * Kargo's EvaluateTemplate renders it: each expression's result as text (a
 * string as is, anything else as JSON), then the whole coerced back to a
 * number, a bool or JSON when it reads as one, unless it is wrapped in quotes.
 */
export function renderTemplate(template: string, env: Env): Value {
  if (!DELIMITERS.some(([start]) => template.includes(start))) return template
  let out = ''
  let rest = template
  for (;;) {
    const found = DELIMITERS.map(([start, end]) => ({ start, end, at: rest.indexOf(start) }))
      .filter((d) => d.at >= 0)
      .sort((a, b) => a.at - b.at)[0]
    if (!found) {
      out += rest
      break
    }
    out += rest.slice(0, found.at)
    const from = found.at + found.start.length
    const close = rest.indexOf(found.end, from)
    if (close < 0)
      throw new ExpressionError(`unclosed expression: expected "${found.end}" in ${template}`)
    const result = evaluate(rest.slice(from, close), env)
    out += typeof result === 'string' ? result : goJson(result)
    rest = rest.slice(close + found.end.length)
  }
  let removedNewline = false
  if (out.endsWith('\n')) {
    out = out.slice(0, -1)
    removedNewline = true
  }
  if (out.length > 1 && out.startsWith('"') && out.endsWith('"')) {
    return out.slice(1, -1) + (removedNewline ? '\n' : '')
  }
  const scalar = coerceScalar(out)
  if (scalar !== undefined) return scalar
  try {
    return JSON.parse(out) as Value
  } catch {
    return out + (removedNewline ? '\n' : '')
  }
}

/** A step's config: every string value rendered, keys left alone (as Kargo does). */
export function renderConfig(value: Value, env: Env): Value {
  if (typeof value === 'string') return renderTemplate(value, env)
  if (Array.isArray(value)) return value.map((item) => renderConfig(item, env))
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, renderConfig(item, env)]),
    )
  }
  return value
}
