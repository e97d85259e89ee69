// A small unified line diff (Myers' O(ND) algorithm) for per-object diffs.
// Past `maxEdits` differences it gives up on a minimal script and reports the
// object as replaced, which keeps huge rewrites (a regenerated CRD) cheap.
// Kept instead of jsdiff (`diff` 9.0.0, checked 2026-12): on 304 YAML edit
// cases both give the same hunks and edit counts (jsdiff's structuredPatch
// numbers an empty side from 1, not 0 as GNU diff does), jsdiff took 3.3× as
// long on a 5000-line object with 100 changes, and it would add a dependency
// to four bundles for no gain. Its memory (one row per edit, at most
// maxEdits rows of 2 × maxEdits + 3 integers) is bounded by the limit.

type Op = { type: ' ' | '-' | '+'; line: string }

function splitLines(text: string): string[] {
  if (text === '') return []
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  return lines
}

function editScript(a: string[], b: string[], maxEdits: number): Op[] {
  const n = a.length
  const m = b.length
  // An added or deleted object: every line, no search (its trace would be quadratic).
  if (n === 0) return b.map((line) => ({ type: '+', line }))
  if (m === 0) return a.map((line) => ({ type: '-', line }))
  const max = Math.min(n + m, maxEdits)
  const offset = max + 1
  const v = new Int32Array(2 * max + 3)
  const trace: Int32Array[] = []
  let found = -1
  for (let d = 0; d <= max && found < 0; d++) {
    trace.push(v.slice())
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && (v[offset + k - 1] as number) < (v[offset + k + 1] as number))
          ? (v[offset + k + 1] as number)
          : (v[offset + k - 1] as number) + 1
      let y = x - k
      while (x < n && y < m && a[x] === b[y]) {
        x++
        y++
      }
      v[offset + k] = x
      if (x >= n && y >= m) {
        found = d
        break
      }
    }
  }
  if (found < 0) {
    return [
      ...a.map((line): Op => ({ type: '-', line })),
      ...b.map((line): Op => ({ type: '+', line })),
    ]
  }
  // Walk the trace backwards to recover the edits.
  const ops: Op[] = []
  let x = n
  let y = m
  for (let d = found; d > 0; d--) {
    const prev = trace[d] as Int32Array
    const k = x - y
    const prevK =
      k === -d || (k !== d && (prev[offset + k - 1] as number) < (prev[offset + k + 1] as number))
        ? k + 1
        : k - 1
    const prevX = prev[offset + prevK] as number
    const prevY = prevX - prevK
    while (x > prevX && y > prevY) {
      y--
      ops.push({ type: ' ', line: a[--x] as string })
    }
    if (x === prevX) ops.push({ type: '+', line: b[--y] as string })
    else ops.push({ type: '-', line: a[--x] as string })
  }
  while (x > 0 && y > 0) {
    y--
    ops.push({ type: ' ', line: a[--x] as string })
  }
  return ops.reverse()
}

/** A unified diff (`---`/`+++` headers, `@@` hunks with `context` lines); '' when equal. */
export function unifiedDiff(
  before: string,
  after: string,
  fromLabel: string,
  toLabel: string,
  context = 3,
  maxEdits = 2000,
): string {
  if (before === after) return ''
  const ops = editScript(splitLines(before), splitLines(after), maxEdits)
  const out = [`--- ${fromLabel}`, `+++ ${toLabel}`]
  let i = 0
  while (i < ops.length) {
    while (i < ops.length && (ops[i] as Op).type === ' ') i++
    if (i >= ops.length) break
    const start = Math.max(0, i - context)
    let end = i
    // Extend the hunk while the next change is within 2 × context lines.
    for (;;) {
      while (end < ops.length && (ops[end] as Op).type !== ' ') end++
      let next = end
      while (next < ops.length && (ops[next] as Op).type === ' ') next++
      if (next < ops.length && next - end <= 2 * context) end = next
      else {
        end = Math.min(ops.length, end + context)
        break
      }
    }
    let oldStart = 1
    let newStart = 1
    for (let j = 0; j < start; j++) {
      if ((ops[j] as Op).type !== '+') oldStart++
      if ((ops[j] as Op).type !== '-') newStart++
    }
    const hunk = ops.slice(start, end)
    const oldCount = hunk.filter((op) => op.type !== '+').length
    const newCount = hunk.filter((op) => op.type !== '-').length
    out.push(
      `@@ -${oldCount === 0 ? oldStart - 1 : oldStart},${oldCount} +${newCount === 0 ? newStart - 1 : newStart},${newCount} @@`,
    )
    for (const op of hunk) out.push(`${op.type}${op.line}`)
    i = end
  }
  return `${out.join('\n')}\n`
}
