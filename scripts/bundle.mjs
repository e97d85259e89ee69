// Bundles every action (actions/<name>/index.ts with an action.yml) and the
// CLI into dist/<name>/index.js with @vercel/ncc.
//   node scripts/bundle.mjs [--out DIR]   (DIR defaults to dist/)
import { existsSync } from 'node:fs'
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ncc from '@vercel/ncc'

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

// ncc's own errors dump megabytes of its minified source: report the message only.
async function bundle(target) {
  try {
    return await ncc(target.entry, {
      minify: false,
      sourceMap: false,
      license: 'licenses.txt',
      quiet: true,
      target: 'es2022',
    })
  } catch (error) {
    const message = String(error?.message ?? error)
    process.stderr.write(
      `bundling ${target.name} failed:\n${message.split('\n').slice(0, 30).join('\n')}\n`,
    )
    await rm(staging, { recursive: true, force: true })
    process.exit(1)
  }
}

// Built beside the output and swapped in at the end: an interrupted or failed
// run leaves the previous bundles whole.
const staging = `${outRoot}.staging-${process.pid}`
await rm(staging, { recursive: true, force: true })
for (const target of await bundleTargets()) {
  const { code, assets } = await bundle(target)
  const dir = join(staging, target.name)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'index.js'), code)
  for (const [file, asset] of Object.entries(assets ?? {})) {
    await mkdir(dirname(join(dir, file)), { recursive: true })
    await writeFile(join(dir, file), asset.source)
  }
  process.stdout.write(`bundled ${target.name} -> ${join(outRoot, target.name, 'index.js')}\n`)
}
await rm(outRoot, { recursive: true, force: true })
await rename(staging, outRoot)
