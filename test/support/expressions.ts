// Evaluates the subset of GitHub Actions expressions the workflows' `if:`
// conditions use, as GitHub documents them: literals ('…', numbers, true,
// false, null), property access on the context, `!`, `==`, `!=`, `&&`, `||`
// (returning an operand, not a boolean), parentheses, and the functions
// startsWith, contains (string or array, case-insensitive for strings) and
// fromJSON. Comparisons of strings are case-insensitive, as on GitHub.
type Value = unknown

const TOKEN =
  /\s*(?:('(?:[^']|'')*')|(\d+(?:\.\d+)?)|(&&|\|\||==|!=|[!(),.])|([A-Za-z_][\w-]*))\s*/y

function tokenize(text: string): string[] {
  const tokens: string[] = []
  TOKEN.lastIndex = 0
  while (TOKEN.lastIndex < text.length) {
    const start = TOKEN.lastIndex
    const match = TOKEN.exec(text)
    if (!match) throw new Error(`cannot read the expression at ${start}: ${text.slice(start)}`)
    tokens.push((match[1] ?? match[2] ?? match[3] ?? match[4]) as string)
  }
  return tokens
}

const fold = (value: Value) => (typeof value === 'string' ? value.toLowerCase() : value)

function truthy(value: Value): boolean {
  return !(value === false || value === null || value === undefined || value === 0 || value === '')
}

function equal(a: Value, b: Value): boolean {
  return fold(a) === fold(b)
}

/** A value as GitHub coerces it to a string (null and undefined are ''). */
function asText(value: Value): string {
  if (value === null || value === undefined) return ''
  return typeof value === 'string' ? value.toLowerCase() : JSON.stringify(value).toLowerCase()
}

const functions: Record<string, (...args: Value[]) => Value> = {
  startswith: (text, prefix) => asText(text).startsWith(asText(prefix)),
  contains: (haystack, needle) =>
    Array.isArray(haystack)
      ? haystack.some((item) => equal(item, needle))
      : asText(haystack).includes(asText(needle)),
  fromjson: (text) => JSON.parse(typeof text === 'string' ? text : asText(text)) as Value,
}

export function evaluate(expression: string, context: Record<string, Value>): Value {
  const tokens = tokenize(expression)
  let at = 0
  type Thunk = () => Value
  const peek = () => tokens[at]
  const take = (expected?: string) => {
    const token = tokens[at++]
    if (expected !== undefined && token !== expected)
      throw new Error(`expected ${expected}, got ${token}`)
    return token as string
  }
  // Parsed into thunks, so && and || short-circuit as on GitHub.
  const primary = (): Thunk => {
    const token = take()
    if (token === '(') {
      const inner = or()
      take(')')
      return inner
    }
    if (token === '!') {
      const operand = primary()
      return () => !truthy(operand())
    }
    if (token.startsWith("'")) return () => token.slice(1, -1).replace(/''/g, "'")
    if (/^\d/.test(token)) return () => Number(token)
    if (token === 'true' || token === 'false') return () => token === 'true'
    if (token === 'null') return () => null
    if (peek() === '(') {
      take('(')
      const args: Thunk[] = []
      while (peek() !== ')') {
        args.push(or())
        if (peek() === ',') take(',')
      }
      take(')')
      const fn = functions[token.toLowerCase()]
      if (!fn) throw new Error(`unknown function ${token}`)
      return () => fn(...args.map((arg) => arg()))
    }
    const path = [token]
    while (peek() === '.') {
      take('.')
      path.push(take())
    }
    return () =>
      path.reduce<Value>(
        (value, key) =>
          value !== null && typeof value === 'object'
            ? (value as Record<string, Value>)[key]
            : undefined,
        context,
      )
  }
  const comparison = (): Thunk => {
    const left = primary()
    if (peek() === '==' || peek() === '!=') {
      const op = take()
      const right = primary()
      return () => (op === '==' ? equal(left(), right()) : !equal(left(), right()))
    }
    return left
  }
  /** `a && b` is b when a is truthy, `a || b` is a: each operand evaluated only when needed. */
  const chain = (op: '&&' | '||', operand: () => Thunk) => (): Thunk => {
    let value = operand()
    while (peek() === op) {
      take()
      const left = value
      const right = operand()
      value = () => {
        const first = left()
        return truthy(first) === (op === '&&') ? right() : first
      }
    }
    return value
  }
  const and = chain('&&', comparison)
  function or(): Thunk {
    return chain('||', and)()
  }
  const expression_ = or()
  if (at !== tokens.length) throw new Error(`unexpected ${tokens[at]}`)
  return expression_()
}

/** An `if:` condition as GitHub decides it (a condition is an expression, `${{ }}` optional). */
export function condition(text: string, context: Record<string, Value>): boolean {
  const inner = text.trim().replace(/^\$\{\{([\s\S]*)\}\}$/, '$1')
  return truthy(evaluate(inner, context))
}
