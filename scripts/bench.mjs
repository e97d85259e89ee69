// Runs the benchmarks in scripts/bench/<name>.ts with tsx.
//   npm run bench                 every benchmark, one after the other
//   npm run bench -- <name> [...] one benchmark; further arguments go to it
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const benchDir = join(root, 'scripts', 'bench')
const tsx = join(root, 'node_modules', '.bin', 'tsx')

const available = existsSync(benchDir)
  ? readdirSync(benchDir)
      .filter((file) => file.endsWith('.ts'))
      .map((file) => file.slice(0, -'.ts'.length))
      .sort()
  : []

function runBenchmark(name, args) {
  process.stdout.write(`\n== bench: ${name} ==\n`)
  const result = spawnSync(tsx, [join(benchDir, `${name}.ts`), ...args], {
    cwd: root,
    stdio: 'inherit',
  })
  if (result.error) throw result.error
  return result.status ?? 1
}

const [requested, ...args] = process.argv.slice(2)
if (requested !== undefined && !available.includes(requested)) {
  const list = available.length > 0 ? available.join(', ') : '(none yet)'
  process.stderr.write(`bench: unknown benchmark "${requested}"; available: ${list}\n`)
  process.exit(2)
}
if (available.length === 0) {
  process.stderr.write('bench: no benchmarks in scripts/bench/ yet\n')
  process.exit(2)
}

let failed = 0
for (const name of requested === undefined ? available : [requested]) {
  if (runBenchmark(name, requested === undefined ? [] : args) !== 0) failed += 1
}
process.exitCode = failed === 0 ? 0 : 1
