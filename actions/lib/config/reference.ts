// Renders the Markdown configuration reference from the published JSON Schema,
// so the README's reference cannot drift from what validation accepts.

/** The subset of JSON Schema that fleet-promote.schema.json uses. */
export interface SchemaNode {
  description?: string
  type?: string | string[]
  enum?: readonly unknown[]
  const?: unknown
  default?: unknown
  properties?: Record<string, SchemaNode>
  required?: readonly string[]
  items?: SchemaNode
  pattern?: string
  minimum?: number
  maximum?: number
  minItems?: number
  minLength?: number
}

interface Row {
  key: string
  required: boolean
  node: SchemaNode
}

/** Markdown: one section per top-level key with a table of every key below it. */
export function renderConfigReference(schema: SchemaNode): string {
  const out: string[] = []
  const required = new Set(schema.required ?? [])
  for (const [key, node] of Object.entries(schema.properties ?? {})) {
    out.push(`### \`${key}\``, '')
    if (node.description) out.push(node.description, '')
    const rows: Row[] = []
    collect(key, node, required.has(key), rows)
    out.push('| Key | Type | Default | Description |', '| --- | --- | --- | --- |')
    for (const row of rows) {
      const key = `\`${row.key}\`${row.required ? ' (required)' : ''}`
      out.push(
        `| ${cell(key)} | ${cell(typeOf(row.node))} | ${cell(defaultOf(row.node))} | ${cell(row.node.description ?? '')} |`,
      )
    }
    out.push('')
  }
  return out.join('\n')
}

function collect(path: string, node: SchemaNode, required: boolean, rows: Row[]): void {
  rows.push({ key: path, required, node })
  const item = node.items
  if (item?.properties) {
    const itemRequired = new Set(item.required ?? [])
    for (const [key, child] of Object.entries(item.properties)) {
      collect(`${path}[].${key}`, child, itemRequired.has(key), rows)
    }
  }
  const childRequired = new Set(node.required ?? [])
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    collect(`${path}.${key}`, child, childRequired.has(key), rows)
  }
}

function typeOf(node: SchemaNode): string {
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``
  if (node.enum) return node.enum.map((value) => `\`${JSON.stringify(value)}\``).join(' or ')
  const types = Array.isArray(node.type) ? node.type : node.type ? [node.type] : []
  const names = types.map((type) => {
    if (type === 'array') return `list of ${node.items ? plural(typeOf(node.items)) : 'values'}`
    if (type === 'object') return 'mapping'
    return type
  })
  const bounds: string[] = []
  if (node.minimum !== undefined) bounds.push(`≥ ${node.minimum}`)
  if (node.maximum !== undefined) bounds.push(`≤ ${node.maximum}`)
  return [names.join(' or ') || 'any', ...bounds].join(', ')
}

function plural(type: string): string {
  if (type === 'mapping') return 'mappings'
  if (/^(string|integer|number|boolean)$/.test(type)) return `${type}s`
  return type
}

function defaultOf(node: SchemaNode): string {
  if (node.default === undefined) return ''
  return `\`${JSON.stringify(node.default)}\``
}

/** Table cells: no raw pipes or line breaks. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ')
}
