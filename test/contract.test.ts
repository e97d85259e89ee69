// The action.yml contract: what GitHub reads (action.yml), what the code reads
// and writes (the `contract` exported by main.ts), the bundle the runner starts
// (dist/) and the generated README must all agree, for every action there is.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import type { ActionContract, InputSpec } from '../actions/lib/action-io.js'
import { runProcess } from '../actions/lib/process.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const actionsDir = join(root, 'actions')
const sharedLibDir = 'lib'
const actionFiles = ['action.yml', 'index.ts', 'main.ts', 'README.md']
/** An import of the runner toolkit; only main.ts files may have one. */
const toolkitImport = /(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"]@actions\//

interface ActionMetadata {
  name?: unknown
  description?: unknown
  branding?: { icon?: unknown; color?: unknown }
  inputs?: Record<string, { description?: unknown; required?: unknown; default?: unknown } | null>
  outputs?: Record<string, { description?: unknown } | null>
  runs?: { using?: unknown; main?: unknown }
}

/** Every directory of actions/ except the shared library is an action. */
const actionDirs = readdirSync(actionsDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && entry.name !== sharedLibDir)
  .map((entry) => entry.name)
  .sort()

function readMetadata(name: string): ActionMetadata {
  const file = join(actionsDir, name, 'action.yml')
  try {
    return (parse(readFileSync(file, 'utf8')) ?? {}) as ActionMetadata
  } catch (error) {
    throw new Error(`${relative(root, file)}: ${(error as Error).message}`)
  }
}

function filesUnder(dir: string, suffix: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return filesUnder(path, suffix)
    return entry.name.endsWith(suffix) ? [path] : []
  })
}

/** The files a module's relative imports (static, dynamic, re-exports) point at. */
function relativeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  return [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((match) =>
    resolve(dirname(file), match[1] ?? ''),
  )
}

/** The actions/ room a path is in: an action's name, or `lib`. */
function roomOf(path: string): string {
  return relative(actionsDir, path).split(sep)[0] ?? ''
}

/** GitHub passes every default as a string: YAML `default: 4` means "4". */
function defaultText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return typeof value === 'string' ? value : JSON.stringify(value)
}

/** The part of an input GitHub acts on: whether it is required and its default. */
function inputShape(spec: { required?: unknown; default?: unknown } | null | undefined) {
  return { required: spec?.required === true, default: defaultText(spec?.default) }
}

function sectionOf(readme: string, marker: string): string | undefined {
  const start = readme.indexOf(`<!-- ${marker}:start -->`)
  const end = readme.indexOf(`<!-- ${marker}:end -->`)
  return start === -1 || end < start ? undefined : readme.slice(start, end)
}

describe('actions/ layout', () => {
  it('every action directory has action.yml, index.ts, main.ts and README.md', () => {
    const missing = actionDirs.flatMap((name) =>
      actionFiles
        .filter((file) => !existsSync(join(actionsDir, name, file)))
        .map((file) => `actions/${name}/${file}`),
    )
    expect(missing, 'incomplete action directories').toEqual([])
  })

  it('dist/ holds no bundle of an action that does not exist', () => {
    const distDir = join(root, 'dist')
    const bundles = existsSync(distDir)
      ? readdirSync(distDir).filter((entry) => statSync(join(distDir, entry)).isDirectory())
      : []
    const orphans = bundles.filter((bundle) => bundle !== 'cli' && !actionDirs.includes(bundle))
    expect(orphans, 'dist/ bundles without actions/<name>/ (run "npm run bundle")').toEqual([])
  })

  it('no file under actions/lib imports @actions/* (each main.ts passes the toolkit in)', () => {
    const offenders = filesUnder(join(actionsDir, sharedLibDir), '.ts')
      .filter((file) => toolkitImport.test(readFileSync(file, 'utf8')))
      .map((file) => relative(root, file))
    expect(offenders, 'actions/lib modules importing the toolkit').toEqual([])
  })

  it('in an action, only main.ts imports @actions/* (the core files never touch the runner)', () => {
    const offenders = actionDirs
      .flatMap((name) => filesUnder(join(actionsDir, name), '.ts'))
      .filter((file) => !file.endsWith(`${sep}main.ts`))
      .filter((file) => toolkitImport.test(readFileSync(file, 'utf8')))
      .map((file) => relative(root, file))
    expect(offenders, 'action core files importing the toolkit').toEqual([])
  })

  it('actions/lib never imports an action', () => {
    const offenders = filesUnder(join(actionsDir, sharedLibDir), '.ts').flatMap((file) =>
      relativeImports(file)
        .filter((target) => roomOf(target) !== sharedLibDir)
        .map((target) => `${relative(root, file)} -> ${relative(root, target)}`),
    )
    expect(offenders, 'shared code importing an action').toEqual([])
  })

  it('no action imports another action', () => {
    const offenders = actionDirs.flatMap((name) =>
      filesUnder(join(actionsDir, name), '.ts').flatMap((file) =>
        relativeImports(file)
          .filter((target) => ![name, sharedLibDir].includes(roomOf(target)))
          .map((target) => `${relative(root, file)} -> ${relative(root, target)}`),
      ),
    )
    expect(offenders, 'actions importing each other').toEqual([])
  })
})

for (const name of actionDirs) {
  describe(`actions/${name}`, () => {
    const dir = join(actionsDir, name)

    it('action.yml declares a node24 action with a name, description and branding', () => {
      const metadata = readMetadata(name)
      expect(metadata.runs?.using).toBe('node24')
      expect(metadata.runs?.main).toBe(`../../dist/${name}/index.js`)
      expect(typeof metadata.name === 'string' && metadata.name.trim() !== '').toBe(true)
      expect(typeof metadata.description === 'string' && metadata.description.trim() !== '').toBe(
        true,
      )
      expect(typeof metadata.branding?.icon).toBe('string')
      expect(typeof metadata.branding?.color).toBe('string')
    })

    it('action.yml describes the action in one short sentence (the README has the details)', () => {
      const description = String(readMetadata(name).description).trim()
      // The Marketplace shows at most 125 characters.
      expect(description.length, description).toBeLessThanOrEqual(125)
      expect(description, 'one sentence').toMatch(/^(?:[^.]|\.(?!\s))+\.$/)
    })

    it('the bundle runs.main points at exists', () => {
      expect(
        existsSync(join(root, 'dist', name, 'index.js')),
        `dist/${name}/index.js is missing (run "npm run bundle")`,
      ).toBe(true)
    })

    it('every input and output in action.yml has a description', () => {
      const metadata = readMetadata(name)
      const undocumented = [
        ...Object.entries(metadata.inputs ?? {}).map(
          ([key, spec]) => ['input', key, spec] as const,
        ),
        ...Object.entries(metadata.outputs ?? {}).map(
          ([key, spec]) => ['output', key, spec] as const,
        ),
      ]
        .filter(
          ([, , spec]) => typeof spec?.description !== 'string' || spec.description.trim() === '',
        )
        .map(([kind, key]) => `${kind} ${key}`)
      expect(undocumented).toEqual([])
    })

    it('main.ts exports a contract identical to action.yml inputs and outputs', async () => {
      const module = (await import(pathToFileURL(join(dir, 'main.ts')).href)) as {
        contract?: ActionContract<string, string>
      }
      const contract = module.contract
      expect(
        contract,
        `actions/${name}/main.ts must export "contract" (defineContract)`,
      ).toBeDefined()
      if (!contract) return
      const metadata = readMetadata(name)

      const declaredInputs = Object.fromEntries(
        Object.entries(metadata.inputs ?? {}).map(([key, spec]) => [key, inputShape(spec)]),
      )
      const codeInputs = Object.fromEntries(
        Object.entries<InputSpec>(contract.inputs).map(([key, spec]) => [key, inputShape(spec)]),
      )
      expect(codeInputs, 'inputs: main.ts contract vs action.yml').toEqual(declaredInputs)
      expect(
        Object.keys(contract.outputs).sort(),
        'outputs: main.ts contract vs action.yml',
      ).toEqual(Object.keys(metadata.outputs ?? {}).sort())
      const blank = [
        ...Object.entries<InputSpec>(contract.inputs),
        ...Object.entries<{ description: string }>(contract.outputs),
      ]
        .filter(([, spec]) => spec.description.trim() === '')
        .map(([key]) => key)
      expect(blank, 'contract entries without a description').toEqual([])
    })

    it('index.ts is the two-line entry point', () => {
      const lines = readFileSync(join(dir, 'index.ts'), 'utf8')
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '')
      expect(lines).toEqual(["import { run } from './main.js'", 'await run()'])
    })

    it('reads inputs only through readInputs and fails through one failAction', () => {
      const metadata = readMetadata(name)
      const direct = filesUnder(dir, '.ts')
        .filter((file) =>
          /\bget(?:Multiline|Boolean)?Input\s*\(|\bINPUT_/.test(readFileSync(file, 'utf8')),
        )
        .map((file) => relative(root, file))
      expect(direct, 'files reading inputs without readInputs(contract)').toEqual([])

      const main = readFileSync(join(dir, 'main.ts'), 'utf8')
      if (Object.keys(metadata.inputs ?? {}).length > 0) {
        expect(main).toMatch(/\breadInputs\(\s*core,\s*contract\s*\)/)
      }
      if (Object.keys(metadata.outputs ?? {}).length > 0) {
        expect(main).toMatch(/\bwriteOutputs\(\s*core,\s*contract\s*,/)
      }
      expect(main.match(/\bfailAction\(/g) ?? [], 'exactly one failAction( call').toHaveLength(1)
    })

    it('README.md lists every input and output, regenerated from action.yml', async () => {
      const metadata = readMetadata(name)
      const readme = readFileSync(join(dir, 'README.md'), 'utf8')
      const inputs = sectionOf(readme, 'inputs')
      const outputs = sectionOf(readme, 'outputs')
      expect(inputs, 'README.md needs <!-- inputs:start/end --> markers').toBeDefined()
      expect(outputs, 'README.md needs <!-- outputs:start/end --> markers').toBeDefined()
      for (const key of Object.keys(metadata.inputs ?? {})) expect(inputs).toContain(`\`${key}\``)
      for (const key of Object.keys(metadata.outputs ?? {})) expect(outputs).toContain(`\`${key}\``)

      const check = await runProcess('node', ['scripts/action-readme.mjs', '--check', name], {
        cwd: root,
      })
      expect(check.code, `${check.stderr}(tables are stale: run "npm run docs")`).toBe(0)
    })
  })
}
