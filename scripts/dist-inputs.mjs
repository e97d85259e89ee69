// What dist/ is bundled from, as one SHA-256 recorded in dist/inputs.sha256 by
// scripts/bundle.mjs. Comparing it with the sources is instant, so the test
// suite and the release can refuse a stale dist/ without rebundling; the
// byte-for-byte comparison with a fresh bundle (scripts/check-dist.mjs) runs
// once per CI run.
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative, sep } from 'node:path'

export const INPUTS_FILE = 'inputs.sha256'

/** Files the bundler can read under actions/ (sources and imported JSON; not READMEs or action.yml). */
const SOURCE = /\.(ts|mts|js|mjs|json)$/
/** Besides actions/: the dependencies, the compiler settings and the bundler itself. */
const EXTRA = ['package-lock.json', 'tsconfig.json', 'scripts/bundle.mjs']

/** The repository-relative paths hashed, sorted. */
export function inputFiles(root) {
  const sources = readdirSync(join(root, 'actions'), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && SOURCE.test(entry.name))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'))
  return [...sources, ...EXTRA.filter((file) => existsSync(join(root, file)))].sort()
}

/** SHA-256 over every input's path and content. */
export function inputsHash(root) {
  const hash = createHash('sha256')
  for (const file of inputFiles(root)) {
    const content = readFileSync(join(root, file))
    hash.update(`${file}\0${content.length}\0`).update(content)
  }
  return hash.digest('hex')
}

export function formatInputsFile(hash) {
  return `# SHA-256 of the sources this dist/ was bundled from (scripts/dist-inputs.mjs)\n${hash}\n`
}

/** The hash recorded in `distDir`, or undefined when there is none. */
export function recordedHash(distDir) {
  const file = join(distDir, INPUTS_FILE)
  if (!existsSync(file)) return undefined
  return readFileSync(file, 'utf8')
    .split('\n')
    .find((line) => /^[0-9a-f]{64}$/.test(line))
}

/** Why dist/ under `root` was not bundled from the current sources, or undefined when it was. */
export function staleReason(root) {
  const recorded = recordedHash(join(root, 'dist'))
  if (recorded === undefined) return `dist/${INPUTS_FILE} is missing: run "npm run bundle"`
  if (recorded !== inputsHash(root))
    return `dist/ was bundled from other sources than these (dist/${INPUTS_FILE}): run "npm run bundle"`
  return undefined
}
