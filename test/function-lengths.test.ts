// No function in actions/ is longer than 120 lines (issue 15): a long function
// holds a plan and its execution together. Measured by
// scripts/function-lengths.mjs with the TypeScript parser.
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { DEFAULT_LIMIT, functionsIn, longFunctions } from '../scripts/function-lengths.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))

describe('function lengths', () => {
  it('measures every kind of function from its first line to its last', () => {
    const text = [
      'export function outer(a: number) {', // 1
      '  const inner = (b: number) => {', // 2
      '    return b', // 3
      '  }', // 4
      '  return inner(a)', // 5
      '}', // 6
      'class C {', // 7
      '  constructor() {}', // 8
      '  get value() {', // 9
      '    return 1', // 10
      '  }', // 11
      '}', // 12
      'const table = { run: function () { return 2 } }', // 13
      'declare function bodiless(): void', // 14
    ].join('\n')
    const found = functionsIn('sample.ts', text).map(({ name, line, lines }) => [name, line, lines])
    expect(found).toEqual([
      ['outer', 1, 6],
      ['inner', 2, 3],
      ['constructor', 8, 1],
      ['value', 9, 3],
      ['run', 13, 1],
    ])
  })

  it(`no function in actions/ is over ${DEFAULT_LIMIT} lines`, () => {
    const long = longFunctions(root, 'actions').map(
      (fn) => `${fn.file}:${fn.line} ${fn.name}: ${fn.lines} lines`,
    )
    expect(long, 'split these into named steps (node scripts/function-lengths.mjs)').toEqual([])
  })
})
