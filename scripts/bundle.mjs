// Bundles every action (actions/<name>/index.ts with an action.yml) and the
// CLI into dist/<name>/index.js with @vercel/ncc, and records the hash of the
// sources it read in dist/inputs.sha256 (scripts/dist-inputs.mjs).
//   node scripts/bundle.mjs [--out DIR]   (DIR defaults to dist/)
//
// `npm run typecheck` checks the project once, so the bundler does not: the
// sources are emitted to JavaScript in one TypeScript pass without checking
// (noCheck), then ncc bundles that JavaScript. ncc's own transpileOnly cannot
// do this: it transpiles file by file without package.json, so under
// module NodeNext every file comes out as CommonJS.
import { existsSync } from 'node:fs'
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ncc from '@vercel/ncc'
import ts from 'typescript'
import { formatInputsFile, INPUTS_FILE, inputsHash } from './dist-inputs.mjs'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const outIndex = process.argv.indexOf('--out')
const outRoot = outIndex > 0 ? resolve(process.argv[outIndex + 1]) : join(root, 'dist')

export async function bundleTargets() {
  const targets = []
  for (const entry of await readdir(join(root, 'actions'), { withFileTypes: true })) {
    if (entry.isDirectory() && existsSync(join(root, 'actions', entry.name, 'action.yml'))) {
      targets.push({ name: entry.name, entry: join(root, 'actions', entry.name, 'index.ts') })
    }
  }
  targets.push({ name: 'cli', entry: join(root, 'actions', 'lib', 'cli', 'main.ts') })
  return targets.sort((a, b) => a.name.localeCompare(b.name))
}

function fail(message) {
  process.stderr.write(message)
  process.exitCode = 1
}

// Emits the entries and everything they import as ESM JavaScript under outDir,
// mirroring the source tree so node_modules resolves as it does for the sources.
function emitJavaScript(entries, outDir) {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'))
      },
    },
  )
  const options = { ...config.options, noEmit: false, noCheck: true, outDir, rootDir: root }
  const program = ts.createProgram(entries, options)
  const diagnostics = [...program.getSyntacticDiagnostics(), ...program.emit().diagnostics]
  return diagnostics.map((diagnostic) =>
    ts.formatDiagnostic(diagnostic, {
      getCanonicalFileName: (name) => name,
      getCurrentDirectory: () => root,
      getNewLine: () => '\n',
    }),
  )
}

// ncc's own errors dump megabytes of its minified source: report the message only.
async function bundle(target, entry) {
  try {
    return await ncc(entry, {
      minify: false,
      sourceMap: false,
      license: 'licenses.txt',
      quiet: true,
      target: 'es2022',
    })
  } catch (error) {
    const message = String(error?.message ?? error)
    fail(`bundling ${target.name} failed:\n${message.split('\n').slice(0, 30).join('\n')}\n`)
    return undefined
  }
}

// Built beside the output and swapped in at the end: an interrupted or failed
// run leaves the previous bundles whole. The JavaScript lives inside the
// repository so that node_modules resolves.
const staging = `${outRoot}.staging-${process.pid}`
const emitted = join(root, `.bundle-js-${process.pid}`)
try {
  await build()
} finally {
  process.chdir(root)
  await rm(emitted, { recursive: true, force: true })
  await rm(staging, { recursive: true, force: true })
}

async function build() {
  // Hashed before reading: an edit made while bundling leaves dist/ marked stale.
  const inputs = inputsHash(root)
  const targets = await bundleTargets()
  const errors = emitJavaScript(
    targets.map((target) => target.entry),
    emitted,
  )
  if (errors.length > 0) return fail(`bundling failed:\n${errors.join('')}`)
  // webpack names modules relative to the working directory: from inside the
  // emitted tree those names do not depend on the tree's (per-run) name.
  process.chdir(emitted)
  for (const target of targets) {
    const entry = join(emitted, relative(root, target.entry)).replace(/\.ts$/, '.js')
    const result = await bundle(target, entry)
    if (!result) return
    await write(target, result)
  }
  await writeFile(join(staging, INPUTS_FILE), formatInputsFile(inputs))
  await rm(outRoot, { recursive: true, force: true })
  await rename(staging, outRoot)
}

async function write(target, { code, assets }) {
  const dir = join(staging, target.name)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'index.js'), code)
  for (const [file, asset] of Object.entries(assets ?? {})) {
    await mkdir(dirname(join(dir, file)), { recursive: true })
    await writeFile(join(dir, file), asset.source)
  }
  process.stdout.write(`bundled ${target.name} -> ${join(outRoot, target.name, 'index.js')}\n`)
}
