// The one repository and ref users write after `uses:` (and in the README's
// schema URL): the repository in package.json at the moving major tag of its
// version, e.g. fleet-promote/fleet-promote@v1. scripts/action-readme.mjs
// writes it into the READMEs; test/suite-ref.test.ts fails where any `uses:`
// line of the docs, examples or workflows names another.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** `{ repository: 'owner/name', version: '1.2.3', ref: 'v1' }` from package.json. */
export function canonicalSuite(root) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  const url = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url
  const repository = /github\.com[/:]([\w.-]+\/[\w.-]+?)(?:\.git)?$/.exec(url ?? '')?.[1]
  if (!repository) throw new Error('package.json: "repository" must name a GitHub repository')
  const major = /^(\d+)\.\d+\.\d+$/.exec(pkg.version ?? '')?.[1]
  if (major === undefined) throw new Error(`package.json: "version" ${pkg.version} is not x.y.z`)
  return { repository, version: pkg.version, ref: `v${major}` }
}

// `uses: owner/name/actions/<action>@ref` and `…/.github/workflows/<file>@ref`.
const USES =
  /(\buses:\s*['"]?)([\w.-]+\/[\w.-]+)\/(actions\/[\w.-]+|\.github\/workflows\/[\w.-]+\.ya?ml)@([^\s'"#]+)/g
const SCHEMA_URL =
  /https:\/\/raw\.githubusercontent\.com\/([\w.-]+\/[\w.-]+)\/([\w.-]+)\/([\w./-]+)/g

/** Whether `path` (actions/<name> or .github/workflows/<file>) exists in the repository at `root`. */
export function suitePathExists(root, path) {
  return path.startsWith('actions/')
    ? existsSync(join(root, path, 'action.yml'))
    : existsSync(join(root, path))
}

/** Whether a reference names this suite: its repository, or a path only it has. */
function names(root, suite, kind, repository, path) {
  if (repository === suite.repository) return true
  return kind === 'uses' ? suitePathExists(root, path) : existsSync(join(root, path))
}

function lineOf(text, index) {
  return text.slice(0, index).split('\n').length
}

/**
 * Every reference to this suite in `text`: `uses:` lines naming one of its
 * actions or reusable workflows, or naming its repository, and raw URLs of
 * its files. `{ kind, line, repository, ref, path, text }`.
 */
export function suiteReferences(text, root, suite = canonicalSuite(root)) {
  const found = []
  for (const match of text.matchAll(USES)) {
    const [, , repository = '', path = '', ref = ''] = match
    if (names(root, suite, 'uses', repository, path)) {
      const at = match.index + (match[1]?.length ?? 0)
      found.push({ kind: 'uses', line: lineOf(text, at), repository, path, ref, text: match[0] })
    }
  }
  for (const match of text.matchAll(SCHEMA_URL)) {
    const [, repository = '', ref = '', path = ''] = match
    if (names(root, suite, 'url', repository, path)) {
      found.push({
        kind: 'url',
        line: lineOf(text, match.index),
        repository,
        path,
        ref,
        text: match[0],
      })
    }
  }
  return found.sort((a, b) => a.line - b.line)
}

/** What is wrong with each reference in `text` ("file:line: …"), or [] when all agree. */
export function suiteReferenceProblems(file, text, root, suite = canonicalSuite(root)) {
  return suiteReferences(text, root, suite).flatMap((found) => {
    const where = `${file}:${found.line}`
    const problems = []
    if (found.repository !== suite.repository || found.ref !== suite.ref) {
      problems.push(
        `${where}: ${found.text} names ${found.repository}@${found.ref}, not ${suite.repository}@${suite.ref}`,
      )
    }
    const exists =
      found.kind === 'uses' ? suitePathExists(root, found.path) : existsSync(join(root, found.path))
    if (!exists) problems.push(`${where}: ${found.path} does not exist in this repository`)
    return problems
  })
}

/** `text` with every reference to this suite at `suite.repository` and `suite.ref`. */
export function pinSuiteReferences(text, root, suite = canonicalSuite(root)) {
  return text
    .replace(USES, (whole, prefix, repository, path) =>
      names(root, suite, 'uses', repository, path)
        ? `${prefix}${suite.repository}/${path}@${suite.ref}`
        : whole,
    )
    .replace(SCHEMA_URL, (whole, repository, _ref, path) =>
      names(root, suite, 'url', repository, path)
        ? `https://raw.githubusercontent.com/${suite.repository}/${suite.ref}/${path}`
        : whole,
    )
}
