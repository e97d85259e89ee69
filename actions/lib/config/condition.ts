// A verification condition (`stages[].verify.prometheus[].condition`): one
// comparison against a number, e.g. `< 0.01`. Parsed when the configuration is
// loaded, evaluated on every sample a query returns.

export type Comparison = '<' | '<=' | '>' | '>=' | '==' | '!='

export interface Condition {
  op: Comparison
  value: number
  /** As written, normalized: `< 0.01`. */
  text: string
}

const CONDITION = /^\s*(<=|>=|==|!=|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)\s*$/i

/** The condition, or undefined when `text` is not one. */
export function parseCondition(text: string): Condition | undefined {
  const match = CONDITION.exec(text)
  if (!match) return undefined
  const op = match[1] as Comparison
  const value = Number(match[2])
  return { op, value, text: `${op} ${match[2]}` }
}

export function holds(condition: Condition, sample: number): boolean {
  switch (condition.op) {
    case '<':
      return sample < condition.value
    case '<=':
      return sample <= condition.value
    case '>':
      return sample > condition.value
    case '>=':
      return sample >= condition.value
    case '==':
      return sample === condition.value
    case '!=':
      return sample !== condition.value
  }
}
