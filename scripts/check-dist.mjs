// dist/ is what the runner executes, so it must be exactly what the sources
// bundle to: rebuild into a temporary directory and compare both ways, byte
// for byte. CI runs this once (.ci/run, ci.yml, the release); the test suite
// only compares dist/inputs.sha256 with the sources (scripts/dist-inputs.mjs).
//   node scripts/check-dist.mjs      (npm run check-dist)   exit 1 and list what differs
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

function listFiles(dir) {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort()
}

/** How `committed` differs from `fresh`: one line per missing, extra or differing file. */
export function compareTrees(fresh, committed) {
  const built = listFiles(fresh)
  const present = listFiles(committed)
  return [
    ...built.filter((file) => !present.includes(file)).map((file) => `missing: dist/${file}`),
    ...present.filter((file) => !built.includes(file)).map((file) => `extra:   dist/${file}`),
    ...built
      .filter((file) => present.includes(file))
      .filter(
        (file) => !readFileSync(join(fresh, file)).equals(readFileSync(join(committed, file))),
      )
      .map((file) => `differs: dist/${file}`),
  ]
}

/** ncc echoes its own minified source on errors: keep the readable tail only. */
function readableTail(output) {
  const lines = output.split('\n').filter((line) => line.length <= 400 && line.trim() !== '')
  return lines.slice(-40).join('\n')
}

function main() {
  const scratch = mkdtempSync(join(tmpdir(), 'fleet-promote-check-dist-'))
  try {
    const fresh = join(scratch, 'dist')
    const bundle = spawnSync(process.execPath, ['scripts/bundle.mjs', '--out', fresh], {
      cwd: root,
      encoding: 'utf8',
    })
    if (bundle.status !== 0) {
      process.stderr.write(
        `bundling failed (run "npm run bundle" for the full error):\n${readableTail(`${bundle.stderr}${bundle.stdout}`)}\n`,
      )
      return 1
    }
    if (listFiles(fresh).length === 0) {
      process.stderr.write('the bundler produced no files\n')
      return 1
    }
    const stale = compareTrees(fresh, join(root, 'dist'))
    if (stale.length > 0) {
      process.stderr.write(
        `dist/ differs from a fresh bundle; run "npm run bundle" and commit dist/:\n${stale.join('\n')}\n`,
      )
      return 1
    }
    process.stdout.write('dist/ matches a fresh bundle of the sources\n')
    return 0
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main()
}
