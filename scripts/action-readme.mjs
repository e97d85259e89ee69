// Regenerates the inputs and outputs tables of every actions/<name>/README.md
// from its action.yml, between the markers
//   <!-- inputs:start --> … <!-- inputs:end -->
//   <!-- outputs:start --> … <!-- outputs:end -->
// so the documentation cannot drift from the metadata GitHub reads. It also
// regenerates README.md's references between
//   <!-- config-reference:start --> … (from actions/lib/fleet-promote.schema.json)
//   <!-- commands:start --> …         (from the command grammar's help text)
// which needs the TypeScript sources, so run it with tsx (npm run docs).
// In all of them every `uses:` line and raw URL naming this suite gets the one
// repository and ref users pin (scripts/suite-ref.mjs: package.json's
// repository at the major tag of its version).
//
//   tsx scripts/action-readme.mjs [name…|README.md]          rewrite (default: all)
//   tsx scripts/action-readme.mjs --check [name…|README.md]  exit 1 and list stale READMEs
// (names of actions alone also work with plain node).
import { existsSync } from 'node:fs'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as prettier from 'prettier'
import { parse } from 'yaml'
import { pinSuiteReferences } from './suite-ref.mjs'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const actionsDir = join(root, 'actions')

function cell(text) {
  return String(text)
    .trim()
    .replace(/\s*\n\s*/g, ' ')
    .replace(/\|/g, '\\|')
}

function code(text) {
  return text === '' ? '`""`' : `\`${cell(text)}\``
}

function inputsTable(inputs) {
  const rows = Object.entries(inputs ?? {}).map(([name, spec]) => {
    const defaultValue = spec?.default === undefined ? '' : code(String(spec.default))
    const required = spec?.required === true ? 'yes' : 'no'
    return `| \`${name}\` | ${required} | ${defaultValue} | ${cell(spec?.description ?? '')} |`
  })
  if (rows.length === 0) return 'This action has no inputs.'
  return [
    '| Input | Required | Default | Description |',
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n')
}

function outputsTable(outputs) {
  const rows = Object.entries(outputs ?? {}).map(
    ([name, spec]) => `| \`${name}\` | ${cell(spec?.description ?? '')} |`,
  )
  if (rows.length === 0) return 'This action has no outputs.'
  return ['| Output | Description |', '| --- | --- |', ...rows].join('\n')
}

function replaceSection(text, marker, body) {
  const start = `<!-- ${marker}:start -->`
  const end = `<!-- ${marker}:end -->`
  const from = text.indexOf(start)
  const to = text.indexOf(end)
  const section = `${start}\n\n${body}\n\n${end}`
  if (from === -1 && to === -1) {
    if (marker !== 'inputs' && marker !== 'outputs') throw new Error(`no "${marker}" markers`)
    const heading = marker === 'inputs' ? '## Inputs' : '## Outputs'
    return `${text.trimEnd()}\n\n${heading}\n\n${section}\n`
  }
  if (from === -1 || to === -1 || to < from) {
    throw new Error(`unbalanced "${marker}" markers`)
  }
  return text.slice(0, from) + section + text.slice(to + end.length)
}

/** The README as it should be: its own prose, tables regenerated, Prettier-formatted. */
export async function expectedReadme(name) {
  const metadata = parse(await readFile(join(actionsDir, name, 'action.yml'), 'utf8')) ?? {}
  const file = join(actionsDir, name, 'README.md')
  const current = existsSync(file)
    ? await readFile(file, 'utf8')
    : `# ${metadata.name ?? name}\n\n${metadata.description ?? ''}\n`
  let text = replaceSection(current, 'inputs', inputsTable(metadata.inputs))
  text = replaceSection(text, 'outputs', outputsTable(metadata.outputs))
  text = pinSuiteReferences(text, root)
  const options = (await prettier.resolveConfig(file)) ?? {}
  return {
    file,
    current: existsSync(file) ? current : undefined,
    expected: await prettier.format(text, { ...options, filepath: file }),
  }
}

/** README.md's generated sections, from the TypeScript sources they document. */
async function rootSections() {
  let modules
  try {
    modules = await Promise.all([
      import('../actions/lib/config/reference.js'),
      import('../actions/promote/commands.js'),
    ])
  } catch (error) {
    throw new Error(
      `README.md's references come from TypeScript sources: run this script with tsx ("npm run docs") (${error})`,
    )
  }
  const [{ renderConfigReference }, { helpText }] = modules
  const schema = JSON.parse(
    await readFile(join(actionsDir, 'lib', 'fleet-promote.schema.json'), 'utf8'),
  )
  return {
    'config-reference': renderConfigReference(schema),
    commands: helpText('.promote'),
  }
}

/** A README with generated sections (the repository's README.md by default), as it should be. */
export async function expectedRootReadme(file = join(root, 'README.md')) {
  const current = await readFile(file, 'utf8')
  let text = pinSuiteReferences(current, root)
  for (const [marker, body] of Object.entries(await rootSections())) {
    text = replaceSection(text, marker, body)
  }
  const options = (await prettier.resolveConfig(file)) ?? {}
  return { file, current, expected: await prettier.format(text, { ...options, filepath: file }) }
}

async function actionNames() {
  const entries = await readdir(actionsDir, { withFileTypes: true })
  return entries
    .filter(
      (entry) => entry.isDirectory() && existsSync(join(actionsDir, entry.name, 'action.yml')),
    )
    .map((entry) => entry.name)
    .sort()
}

async function main(args) {
  const check = args.includes('--check')
  const requested = args.filter((arg) => arg !== '--check')
  const names = requested.length > 0 ? requested : [...(await actionNames()), 'README.md']
  const stale = []
  for (const name of names) {
    const { file, current, expected } = name.endsWith('.md')
      ? await expectedRootReadme(resolve(root, name))
      : await expectedReadme(name)
    if (current === expected) continue
    if (check) {
      stale.push(relative(root, file))
    } else {
      await writeFile(file, expected)
      process.stdout.write(`updated ${relative(root, file)}\n`)
    }
  }
  if (stale.length > 0) {
    process.stderr.write(
      `Stale READMEs (run "npm run docs"):\n${stale.map((file) => `  ${file}\n`).join('')}`,
    )
    return 1
  }
  return 0
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2))
}
