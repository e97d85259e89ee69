import { describe, expect, it } from 'vitest'
import { renderConfigReference, type SchemaNode } from '../actions/lib/config/reference.js'
import configSchema from '../actions/lib/fleet-promote.schema.json' with { type: 'json' }

/** Every key path of the schema, in the reference's notation. */
function keyPaths(node: SchemaNode, prefix = ''): string[] {
  const out: string[] = []
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key
    out.push(path, ...keyPaths(child, path))
    if (child.items?.properties) out.push(...keyPaths(child.items, `${path}[]`))
  }
  return out
}

describe('renderConfigReference', () => {
  const markdown = renderConfigReference(configSchema)
  const rows = markdown.split('\n').filter((line) => line.startsWith('| `'))

  it('has one table row per key of the schema, in schema order', () => {
    const paths = keyPaths(configSchema)
    expect(paths).toContain('hydrate.deletionGuard.protectedKinds')
    expect(paths).toContain('stages[].requires')
    expect(rows.map((row) => /^\| `([^`]+)`/.exec(row)?.[1])).toEqual(paths)
  })

  it('shows types, defaults, required keys and descriptions', () => {
    expect(markdown).toContain('### `hydrate`')
    expect(rows).toContain(
      "| `stages[].approvals` | integer, ≥ 0 | `0` | Approving reviews on the pull request's current head commit required to promote this stage. |",
    )
    expect(rows.find((row) => row.startsWith('| `version` (required)'))).toContain('| `1` |')
    expect(rows.find((row) => row.startsWith('| `promote.permission`'))).toContain(
      '`"write"` or `"maintain"` or `"admin"` | `"write"` |',
    )
    expect(rows.find((row) => row.startsWith('| `impact.extra` '))).toContain('list of mappings')
    expect(rows.find((row) => row.startsWith('| `stages[].name` (required)'))).toBeDefined()
  })

  it('every row has a description and four cells', () => {
    for (const row of rows) {
      const cells = row.replaceAll('\\|', '').split('|').slice(1, -1)
      expect(cells, row).toHaveLength(4)
      expect(cells[3]!.trim().length, row).toBeGreaterThan(10)
    }
  })

  it('escapes pipes and line breaks inside cells', () => {
    const md = renderConfigReference({
      properties: { a: { type: 'string', description: 'x | y\nz', default: 'p|q' } },
    })
    expect(md).toContain('| `a` | string | `"p\\|q"` | x \\| y z |')
  })
})
