// A fast reader for the plain block-YAML that kustomization files are
// written in (mappings, sequences, one-line flow collections, quoted and
// plain scalars, literal block scalars). Anything outside that subset makes
// it return undefined, and the caller parses with the full `yaml` package:
// the fast path only has to be right when it answers, never complete.
// (The `yaml` package reads ~1 MB/s; a 500-cluster fleet has ~1.5 MB of
// kustomizations to read on every run.)

interface Line {
  /** Columns of leading spaces; -1 for a blank line. */
  indent: number
  /** The line without its indentation and trailing spaces. */
  text: string
  raw: string
  /** Blank or comment-only: structure ignores it, a literal block keeps it. */
  filler: boolean
}

class Bail extends Error {}
const bail = (): never => {
  throw new Bail()
}

/** Parses `text` when it stays within the supported subset; undefined otherwise. */
export function parseBlockYaml(text: string): unknown {
  try {
    const lines = toLines(text)
    const reader = new Reader(lines)
    const first = reader.peek()
    if (!first) return null
    const value = reader.block(first.indent)
    if (reader.peek()) bail()
    return value
  } catch (error) {
    if (error instanceof Bail) return undefined
    throw error
  }
}

function toLines(text: string): Line[] {
  const lines: Line[] = []
  let started = false
  for (const raw of text.split(/\r?\n/)) {
    const text = raw.trim()
    const lead = raw.slice(0, raw.length - raw.trimStart().length)
    if (lead.includes('\t')) bail()
    if (text === '' || text.startsWith('#')) {
      lines.push({ indent: text === '' ? -1 : lead.length, text, raw, filler: true })
      continue
    }
    if (!started && text === '---') {
      started = true
      continue
    }
    if (text === '---' || text === '...' || raw.startsWith('%')) bail()
    started = true
    lines.push({ indent: lead.length, text, raw, filler: false })
  }
  return lines
}

const KEY = /^([A-Za-z0-9_][A-Za-z0-9_./-]*):(?:\s+(.*))?$/

class Reader {
  position = 0
  constructor(private readonly lines: Line[]) {}

  peek(): Line | undefined {
    while (this.lines[this.position]?.filler) this.position++
    return this.lines[this.position]
  }

  /** A mapping or sequence whose entries start at exactly `indent`. */
  block(indent: number): unknown {
    const first = this.peek()
    if (!first || first.indent !== indent) return bail()
    return first.text === '-' || first.text.startsWith('- ')
      ? this.sequence(indent)
      : this.mapping(indent)
  }

  private sequence(indent: number): unknown[] {
    const items: unknown[] = []
    for (let line = this.peek(); line && line.indent === indent; line = this.peek()) {
      // A key at the same indentation ends a sequence nested in a mapping.
      if (!(line.text === '-' || line.text.startsWith('- '))) break
      const rest = line.text.slice(1).trimStart()
      if (rest === '') {
        this.position++
        const next = this.peek()
        items.push(next && next.indent > indent ? this.block(next.indent) : null)
      } else if (rest.startsWith('- ') || rest === '-') {
        bail()
      } else if (rest === '|' || rest === '|-') {
        this.position++
        items.push(this.literal(indent, rest === '|-'))
      } else if (KEY.test(rest) && !/^["'[{]/.test(rest)) {
        // "- key: value": a mapping whose keys line up after the dash.
        const column = indent + (line.text.length - rest.length)
        this.lines[this.position] = { ...line, indent: column, text: rest }
        items.push(this.mapping(column))
      } else {
        this.position++
        items.push(this.inlineValue(rest, indent))
      }
    }
    const after = this.peek()
    if (after && after.indent > indent) bail()
    return items
  }

  private mapping(indent: number): Record<string, unknown> {
    const map: Record<string, unknown> = {}
    for (let line = this.peek(); line && line.indent === indent; line = this.peek()) {
      const match = KEY.exec(line.text)
      if (!match || line.text.startsWith('- ')) return bail()
      const key = match[1]!
      if (Object.hasOwn(map, key) || key === '__proto__') bail()
      const rest = (match[2] ?? '').trim()
      this.position++
      if (rest === '' || rest.startsWith('#')) {
        const next = this.peek()
        if (next && next.indent > indent) map[key] = this.block(next.indent)
        else if (
          next &&
          next.indent === indent &&
          (next.text === '-' || next.text.startsWith('- '))
        )
          map[key] = this.sequence(indent)
        else map[key] = null
      } else if (rest === '|' || rest === '|-') {
        map[key] = this.literal(indent, rest === '|-')
      } else {
        map[key] = this.inlineValue(rest, indent)
      }
    }
    const after = this.peek()
    if (after && after.indent > indent) bail()
    return map
  }

  /** A `|` or `|-` block scalar: the following lines indented deeper than the key, and blank lines. */
  private literal(parentIndent: number, strip: boolean): string {
    const body: Line[] = []
    for (
      let line = this.lines[this.position];
      line && (line.indent === -1 || line.indent > parentIndent);
      line = this.lines[this.position]
    ) {
      body.push(line)
      this.position++
    }
    while (body.length > 0 && body[body.length - 1]!.indent === -1) body.pop()
    const first = body[0]
    if (!first || first.indent === -1) return bail()
    const base = first.indent
    if (body.some((line) => line.indent !== -1 && line.indent < base)) bail()
    const text = body.map((line) => (line.indent === -1 ? '' : line.raw.slice(base))).join('\n')
    return strip ? text : `${text}\n`
  }

  /** A value on the same line as its key or dash; continuation lines are not supported. */
  private inlineValue(text: string, indent: number): unknown {
    const next = this.peek()
    if (next && next.indent > indent) bail()
    if (text.startsWith('[')) return flow(text, '[', ']').map((item) => scalar(item))
    if (text.startsWith('{')) {
      const map: Record<string, unknown> = {}
      for (const entry of flow(text, '{', '}')) {
        const match = /^([A-Za-z0-9_][A-Za-z0-9_./-]*):\s+(.+)$/.exec(entry)
        if (!match || Object.hasOwn(map, match[1]!) || match[1] === '__proto__') return bail()
        map[match[1]!] = scalar(match[2]!)
      }
      return map
    }
    return scalar(text)
  }
}

/** Items of a one-line flow collection of scalars. */
function flow(text: string, open: string, close: string): string[] {
  const body = stripComment(text)
  if (!body.endsWith(close)) return bail()
  const inner = body.slice(1, -1).trim()
  if (/[[\]{}]/.test(inner)) bail()
  if (inner === '') return []
  const items = inner.split(',').map((item) => item.trim())
  // Quoted items containing commas would have been split: refuse them.
  if (items.some((item) => item === '' || /^["']/.test(item) !== /["']$/.test(item))) bail()
  return items
}

function stripComment(text: string): string {
  const hash = text.search(/\s#/)
  return (hash === -1 ? text : text.slice(0, hash)).trim()
}

function scalar(raw: string): unknown {
  const text = raw.startsWith('"') || raw.startsWith("'") ? raw.trim() : stripComment(raw)
  if (text.startsWith('"')) {
    const end = text.indexOf('"', 1)
    if (end !== text.length - 1 || text.includes('\\')) return bail()
    return text.slice(1, -1)
  }
  if (text.startsWith("'")) {
    const end = text.indexOf("'", 1)
    if (end !== text.length - 1) return bail()
    return text.slice(1, -1)
  }
  if (/^[&*!|>%@`?{[\]},]/.test(text)) return bail()
  if (/:(\s|$)/.test(text)) return bail()
  if (text === '' || text === '~' || text === 'null' || text === 'Null' || text === 'NULL')
    return null
  if (/^(true|True|TRUE)$/.test(text)) return true
  if (/^(false|False|FALSE)$/.test(text)) return false
  if (/^[-+]?[0-9]+$/.test(text)) {
    const value = Number(text)
    return Number.isSafeInteger(value) ? value : bail()
  }
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(text)) return Number(text)
  if (/^[-+]?\.(inf|Inf|INF|nan|NaN|NAN)$/.test(text) || /^0[xo]/.test(text)) return bail()
  return text
}
