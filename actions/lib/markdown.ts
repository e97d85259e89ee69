// Markdown for PR comments, PR bodies and job summaries: the helpers every
// action's renderers share.

/** GitHub rejects issue comments and PR bodies longer than this. */
export const GITHUB_BODY_LIMIT = 65_536

/** The most characters of one piece of PR-controlled text a comment shows; the rest is cut. */
export const UNTRUSTED_TEXT_LIMIT = 1000

const ZERO_WIDTH_JOINER = '\u200d'
const INERT: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '\\': '&#92;',
  '`': '&#96;',
  '*': '&#42;',
  _: '&#95;',
  '~': '&#126;',
  '[': '&#91;',
  ']': '&#93;',
}

/**
 * The one way PR-controlled text (render errors, reasons, details, anything
 * from the PR or a comment) enters a comment, PR body or job summary: one
 * line, at most `max` characters of it, every character that could format,
 * open a tag or start a link or image (`[`) written as an entity, mentions (`@user`, `@org/team`) and autolinks (`http://`, `www.`)
 * broken with a zero-width joiner so GitHub neither notifies nor links. Safe
 * in paragraphs and list items; in a table cell wrap it in `tableCell` (as
 * `table()` does), which escapes the pipes; not inside code spans (there
 * entities show as typed: use `inlineCode`).
 */
export function untrusted(text: string, max = UNTRUSTED_TEXT_LIMIT): string {
  const line = truncate(text.replace(/\s+/g, ' ').trim(), max, '…')
  return line
    .replace(/[&<>\\`*_~[\]]/g, (char) => INERT[char] ?? char)
    .replace(/^#/, '&#35;')
    .replace(/@(?=[\w-])/g, `@${ZERO_WIDTH_JOINER}`)
    .replace(/:\/\//g, `:${ZERO_WIDTH_JOINER}//`)
    .replace(/\b(www)\./gi, `$1${ZERO_WIDTH_JOINER}.`)
}

/** Text safe inside a table cell: pipes escaped, newlines turned into <br>. */
export function tableCell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>')
}

/** Inline code that survives backticks in the text. */
export function inlineCode(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length))
  const fence = '`'.repeat(longest + 1)
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : ''
  return `${fence}${pad}${text}${pad}${fence}`
}

/** A table; cells are escaped. `align` per column: 'l' | 'r' | 'c'. */
export function table(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly ('l' | 'r' | 'c')[] = [],
): string {
  const rule = headers.map((_, i) => {
    const a = align[i] ?? 'l'
    return a === 'r' ? '---:' : a === 'c' ? ':---:' : '---'
  })
  const line = (cells: readonly string[]) =>
    `| ${headers.map((_, i) => tableCell(cells[i] ?? '')).join(' | ')} |`
  return [line(headers), `| ${rule.join(' | ')} |`, ...rows.map(line)].join('\n')
}

/** A collapsed section; the summary is plain text, escaped as `untrusted` escapes. */
export function details(summary: string, body: string, open = false): string {
  return `<details${open ? ' open' : ''}><summary>${untrusted(summary)}</summary>\n\n${body}\n\n</details>`
}

/** A fenced code block whose fence is longer than any backtick run inside. */
export function codeBlock(text: string, language = ''): string {
  const longest = Math.max(0, ...[...text.matchAll(/^\s*(`{3,})/gm)].map((m) => m[1]?.length ?? 0))
  const fence = '`'.repeat(Math.max(3, longest + 1))
  const body = text.endsWith('\n') ? text : `${text}\n`
  return `${fence}${language}\n${body}${fence}`
}

/**
 * Cuts text to at most `max` characters (UTF-16 units, which never undercount
 * GitHub's limit), ending with `note` when something was cut.
 */
export function truncate(text: string, max: number, note = '\n\n…(truncated)'): string {
  if (text.length <= max) return text
  let cut = Math.max(0, max - note.length)
  // Do not split a surrogate pair.
  if (cut > 0 && /[\uD800-\uDBFF]/.test(text.charAt(cut - 1))) cut -= 1
  return `${text.slice(0, cut)}${note}`.slice(0, max)
}

export function link(text: string, url: string | undefined): string {
  return url ? `[${text.replace(/([[\]])/g, '\\$1')}](${url})` : text
}

/** `1 environment`, `2 environments` */
export function plural(count: number, noun: string, pluralNoun = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : pluralNoun}`
}

/** GitHub caps a step's job summary at 1 MiB. */
export const JOB_SUMMARY_LIMIT = 1_048_576

/** Where a bounded body sends the reader for what it left out. */
export interface Overflow {
  /** What the items are, plural: `environments`. */
  noun: string
  /** The run whose job summary lists everything. */
  url?: string | undefined
}

/** `…and 12 more environments: see the job summary.` (linked when the run is known) */
export function andMore(count: number, overflow: Overflow): string {
  const where = overflow.url ? link('job summary', overflow.url) : 'job summary'
  return `…and ${count} more ${overflow.noun}: see the ${where}.`
}

/**
 * The one way a comment, PR body or summary listing many items stays within
 * `limit`: `render(shown, more)` lays out the shown items and puts `more` (empty
 * when all fit, else the `andMore` line) where the list ends; as many leading
 * items are shown as fit. If not even the first fits, the text is cut.
 */
export function fitItems<T>(
  items: readonly T[],
  limit: number,
  render: (shown: readonly T[], more: string) => string,
  overflow: Overflow,
  /** How the limit counts (check runs count UTF-8 bytes); characters by default. */
  measure: (text: string) => number = (text) => text.length,
): string {
  const all = render(items, '')
  if (measure(all) <= limit) return all
  const withFirst = (count: number) =>
    render(items.slice(0, count), andMore(items.length - count, overflow))
  // Longer prefixes render longer: search for the longest that fits.
  let low = 0
  let high = items.length - 1
  while (low < high) {
    const middle = Math.ceil((low + high) / 2)
    if (measure(withFirst(middle)) <= limit) low = middle
    else high = middle - 1
  }
  const best = withFirst(low)
  // Under a byte limit each byte over is at least one character too many.
  let cut = limit
  let text = truncate(best, cut)
  while (measure(text) > limit) {
    cut -= measure(text) - limit
    text = truncate(best, cut)
  }
  return text
}

/** `a, b, c` or `a, b, …, h and 4 more` (plain text, for one-line descriptions). */
export function nameList(names: readonly string[], max = 8): string {
  return names.length > max
    ? `${names.slice(0, max).join(', ')} and ${names.length - max} more`
    : names.join(', ')
}
