// One name and one ref to pin: every `uses:` line and raw URL naming this suite
// in the READMEs, the examples and the workflows says
// fleet-promote/fleet-promote@v1 (package.json's repository at the major tag of
// its version), and names an action, workflow or file that exists.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  canonicalSuite,
  pinSuiteReferences,
  suiteReferenceProblems,
  suiteReferences,
} from '../scripts/suite-ref.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const suite = canonicalSuite(root)

function filesIn(dir: string, pattern: RegExp): string[] {
  return readdirSync(join(root, dir))
    .filter((file) => pattern.test(file))
    .map((file) => `${dir}/${file}`)
}

// Every text file of the repository a user or the runner reads: test/ plants wrong
// refs on purpose, dist/ and node_modules/ are generated.
const SKIP = new Set(['.git', 'node_modules', 'dist', 'test'])
function textFiles(dir = ''): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = dir ? `${dir}/${entry.name}` : entry.name
    if (entry.isDirectory()) return SKIP.has(entry.name) ? [] : textFiles(path)
    return /\.(md|ya?ml|json|[cm]?[jt]s)$/.test(entry.name) && entry.name !== 'package-lock.json'
      ? [path]
      : []
  })
}

const actions = readdirSync(join(root, 'actions')).filter((name) =>
  existsSync(join(root, 'actions', name, 'action.yml')),
)
const documents = textFiles()
const read = (file: string) => readFileSync(join(root, file), 'utf8')

it('is the repository of package.json at the major tag of its version', () => {
  expect(suite.repository).toBe('fleet-promote/fleet-promote')
  expect(suite.version).toMatch(/^\d+\.\d+\.\d+$/)
  expect(suite.ref).toBe(`v${suite.version.split('.')[0]}`)
})

it('every uses: line and raw URL of the repository names it', () => {
  for (const file of [
    'README.md',
    'examples/kargo/README.md',
    'actions/promote/README.md',
    '.github/workflows/fleet-promote-pr.yml',
    'examples/workflows/fleet-promote-report.yml',
  ]) {
    expect(documents).toContain(file)
  }
  expect(documents.flatMap((file) => suiteReferenceProblems(file, read(file), root))).toEqual([])
})

it('has no second copy of the ref: no caller or doc sets suite-ref', () => {
  const pinned = documents
    .filter((file) => !file.startsWith('.github/workflows/'))
    .flatMap((file) =>
      read(file)
        .split('\n')
        .flatMap((line, index) =>
          /^\s*suite-ref:[ \t]*\S/.test(line) ? [`${file}:${index + 1}: ${line.trim()}`] : [],
        ),
    )
  expect(pinned).toEqual([])
})

it('is what every action README and every example caller writes', () => {
  for (const name of actions) {
    const uses = suiteReferences(read(`actions/${name}/README.md`), root).filter(
      (found) => found.kind === 'uses',
    )
    // The action itself, or the reusable workflow that runs it (fleet-report).
    expect(
      uses.some(
        (found) =>
          found.path === `actions/${name}` ||
          found.path.startsWith('.github/workflows/fleet-promote-'),
      ),
      name,
    ).toBe(true)
  }
  for (const file of filesIn('examples/workflows', /\.ya?ml$/)) {
    expect(suiteReferences(read(file), root).map((found) => found.text)).toEqual([
      `uses: ${suite.repository}/.github/workflows/${file.split('/').pop()}@${suite.ref}`,
    ])
  }
})

it("gives the README's schema URL at that tag, for a file that exists", () => {
  const urls = suiteReferences(read('README.md'), root).filter((found) => found.kind === 'url')
  expect(urls.map((found) => found.text)).toContain(
    `https://raw.githubusercontent.com/${suite.repository}/${suite.ref}/actions/lib/fleet-promote.schema.json`,
  )
  for (const url of urls) expect(existsSync(join(root, url.path)), url.path).toBe(true)
  // The tag a release creates (the moving major one), in the comment editors read.
  expect(read('README.md')).toContain(
    `# yaml-language-server: $schema=https://raw.githubusercontent.com/${suite.repository}/${suite.ref}/actions/lib/fleet-promote.schema.json\n`,
  )
})

describe('a planted disagreement', () => {
  const caller = 'examples/workflows/fleet-promote-pr.yml'
  const planted = read(caller).replace(`pr.yml@${suite.ref}`, 'pr.yml@v0.1.0')
  const line = planted.split('\n').findIndex((text) => text.includes('@v0.1.0')) + 1

  it('fails on a wrong ref, naming the file and line', () => {
    expect(planted).not.toBe(read(caller))
    expect(suiteReferenceProblems(caller, planted, root)).toEqual([
      `${caller}:${line}: uses: fleet-promote/fleet-promote/.github/workflows/fleet-promote-pr.yml@v0.1.0 names fleet-promote/fleet-promote@v0.1.0, not fleet-promote/fleet-promote@v1`,
    ])
  })

  it('fails on another repository, a missing action and a schema URL at another tag', () => {
    const text = [
      '- uses: acme/fleet-promote/actions/merge-cleanup@v1',
      '- uses: fleet-promote/fleet-promote/actions/no-such-action@v1',
      '- uses: actions/checkout@v5',
      '# yaml-language-server: $schema=https://raw.githubusercontent.com/fleet-promote/fleet-promote/v0.1.0/actions/lib/fleet-promote.schema.json',
    ].join('\n')
    expect(suiteReferenceProblems('x.md', text, root)).toEqual([
      'x.md:1: uses: acme/fleet-promote/actions/merge-cleanup@v1 names acme/fleet-promote@v1, not fleet-promote/fleet-promote@v1',
      'x.md:2: actions/no-such-action does not exist in this repository',
      'x.md:4: https://raw.githubusercontent.com/fleet-promote/fleet-promote/v0.1.0/actions/lib/fleet-promote.schema.json names fleet-promote/fleet-promote@v0.1.0, not fleet-promote/fleet-promote@v1',
    ])
    // npm run docs writes the one name and ref back (third-party actions untouched).
    const pinned = pinSuiteReferences(text, root)
    expect(pinned).toContain('- uses: fleet-promote/fleet-promote/actions/merge-cleanup@v1\n')
    expect(pinned).toContain('- uses: actions/checkout@v5\n')
    expect(pinned).toContain('/fleet-promote/fleet-promote/v1/actions/lib/')
  })
})
