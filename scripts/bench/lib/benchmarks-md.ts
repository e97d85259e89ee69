import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * Replaces one `## <name>` section of BENCHMARKS.md (or appends it), leaving
 * the other benchmarks' sections alone, and formats the file as
 * `npm run format` would so a benchmark run never fails the format check.
 */
export async function writeBenchmarkSection(root: string, name: string, section: string) {
  const file = join(root, 'BENCHMARKS.md')
  let text = ''
  try {
    text = await readFile(file, 'utf8')
  } catch {
    text = '# Benchmarks\n'
  }
  const start = text.search(new RegExp(`^## ${name}\\s*$`, 'm'))
  if (start === -1) {
    text = `${text.replace(/\n*$/, '\n\n')}${section}`
  } else {
    const rest = text.slice(start + 1).search(/^## /m)
    text = `${text.slice(0, start)}${section}${rest === -1 ? '' : `\n${text.slice(start + 1 + rest)}`}`
  }
  // Loaded only now: benchmarks measure their own process's memory.
  const { format } = await import('prettier')
  await writeFile(file, await format(text, { filepath: file }))
}
