// Lists the functions under a directory longer than a limit, measured with the
// TypeScript compiler's own parser (no type check), so what counts as a
// function is what the language says: declarations, methods, accessors,
// constructors, function expressions and arrow functions, nested ones too.
// A function's length is the lines from its first token to its last,
// comments inside included. test/function-lengths.test.ts holds actions/ to
// the limit; `node scripts/function-lengths.mjs [dir] [--limit N]` prints them.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

export const DEFAULT_LIMIT = 120

/** The name a reader would search for: the declared name, else the variable or property it is assigned to. */
function functionName(node) {
  if (ts.isConstructorDeclaration(node)) return 'constructor'
  if (node.name) return node.name.getText()
  const parent = node.parent
  if (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent))) {
    return parent.name.getText()
  }
  if (parent && ts.isCallExpression(parent)) {
    return `(callback of ${parent.expression.getText().split('\n')[0]})`
  }
  return '(anonymous)'
}

/** Every function in one source text with its first line and length in lines. */
export function functionsIn(file, text) {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const found = []
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line
      found.push({ file, name: functionName(node), line: first + 1, lines: last - first + 1 })
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

/** The TypeScript sources under `dir` (declaration files have no bodies). */
function sourcesUnder(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter(
      (entry) => entry.isFile() && /\.m?ts$/.test(entry.name) && !entry.name.endsWith('.d.ts'),
    )
    .map((entry) => join(entry.parentPath, entry.name))
    .sort()
}

/** Functions under `dir` longer than `limit` lines, longest first; paths relative to `root`. */
export function longFunctions(root, dir, limit = DEFAULT_LIMIT) {
  return sourcesUnder(join(root, dir))
    .flatMap((path) =>
      functionsIn(relative(root, path).split(sep).join('/'), readFileSync(path, 'utf8')),
    )
    .filter((fn) => fn.lines > limit)
    .sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file) || a.line - b.line)
}

function main(args) {
  const limitAt = args.indexOf('--limit')
  const limit = limitAt === -1 ? DEFAULT_LIMIT : Number(args[limitAt + 1])
  if (!Number.isInteger(limit) || limit < 1) {
    throw new Error(`--limit must be a whole number of lines, got "${args[limitAt + 1]}"`)
  }
  const dirs = args.filter((arg, index) => arg !== '--limit' && index !== limitAt + 1)
  const root = fileURLToPath(new URL('..', import.meta.url))
  for (const dir of dirs.length > 0 ? dirs : ['actions']) {
    for (const fn of longFunctions(root, dir, limit)) {
      console.log(`${String(fn.lines).padStart(5)}  ${fn.file}:${fn.line}  ${fn.name}`)
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1])
  main(process.argv.slice(2))
