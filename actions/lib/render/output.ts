// Writes what goes on a WET branch (`manifest.yaml` or per-resource files,
// `hydrator.metadata`, `README.md`) and `hydration.json`, and merges the
// outputs of several matrix shards into one, identical to a single-runner run.
import { cp, mkdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Environment } from '../config/types.js'
import { UserError } from '../errors.js'
import type { Git } from '../git/git.js'
import type { HydrationResult } from '../hydration-types.js'
import type { ToolVersions } from './tools.js'
import { HYDRATION_FILE, readHydrationFile } from '../hydration.js'

export const RESULT_FILE = HYDRATION_FILE
export const METADATA_FILE = 'hydrator.metadata'

export interface CommitInfo {
  author: string
  /** Author date of the DRY commit, ISO 8601 as git records it. */
  date: string
  subject: string
}

export async function commitInfo(git: Git, sha: string): Promise<CommitInfo> {
  const out = await git.run([
    'log',
    '-1',
    '--no-show-signature',
    '--format=%an%x00%ae%x00%aI%x00%s',
    '--end-of-options',
    sha,
  ])
  const [name = '', email = '', date = '', subject = ''] = out.replace(/\n$/, '').split('\0')
  return { author: `${name} <${email}>`, date, subject }
}

export interface RenderProvenance {
  commit: CommitInfo
  drySha: string
  repoURL: string
  tools: ToolVersions
  helm: boolean
}

/** The Argo CD source hydrator / GitOps Promoter `hydrator.metadata` document. */
export function hydratorMetadata(provenance: RenderProvenance): string {
  const metadata = {
    repoURL: provenance.repoURL,
    drySha: provenance.drySha,
    author: provenance.commit.author,
    date: provenance.commit.date,
    subject: provenance.commit.subject,
    references: [] as unknown[],
  }
  return `${JSON.stringify(metadata, null, 2)}\n`
}

export function reproduceReadme(env: Environment, provenance: RenderProvenance): string {
  const flags = `--load-restrictor LoadRestrictionsRootOnly${provenance.helm ? ' --enable-helm' : ''}`
  return [
    `# ${env.name}`,
    '',
    `Rendered manifests of \`${env.path}\` at DRY commit \`${provenance.drySha}\`${provenance.repoURL ? ` of ${provenance.repoURL}` : ''}.`,
    'This branch is written by fleet-promote hydrate: edit the DRY branch instead.',
    '',
    '## Reproduce',
    '',
    '```sh',
    `git checkout ${provenance.drySha}`,
    `fleet-promote render --repo . --env ${env.path}`,
    '```',
    '',
    `which runs \`kustomize build ${env.path} ${flags}\` (builtins only, Helm \`template\` only)`,
    'and re-emits each object with the `yaml` package, sorted by kind priority, API group, kind,',
    'namespace and name.',
    '',
    `Tools: kustomize ${provenance.tools.kustomize}, helm ${provenance.tools.helm}.`,
    '',
  ].join('\n')
}

/**
 * Replaces `<outputDir>/<env name>/` with the environment's files. Without
 * manifest files (failed or blocked) the directory is removed and nothing is
 * listed, so no reader can push it.
 */
export async function writeEnvironmentFiles(
  outputDir: string,
  env: Environment,
  manifests: ReadonlyMap<string, string> | undefined,
  provenance: RenderProvenance,
): Promise<string[]> {
  const dir = join(outputDir, env.name)
  await rm(dir, { recursive: true, force: true })
  if (manifests === undefined) return []
  const files = new Map(manifests)
  files.set(METADATA_FILE, hydratorMetadata(provenance))
  files.set('README.md', reproduceReadme(env, provenance))
  for (const [path, text] of files) {
    await mkdir(dirname(join(dir, path)), { recursive: true })
    await writeFile(join(dir, path), text)
  }
  return [...files.keys()].sort()
}

export async function writeHydrationResult(
  outputDir: string,
  result: HydrationResult,
): Promise<void> {
  await mkdir(outputDir, { recursive: true })
  await writeFile(join(outputDir, RESULT_FILE), `${JSON.stringify(result, null, 2)}\n`)
}

export function readHydrationResult(dir: string): Promise<HydrationResult> {
  return readHydrationFile(dir)
}

/** Merges shard outputs (same DRY commit, disjoint environments) into `outDir`. */
export async function mergeHydrationResults(
  outDir: string,
  shardDirs: readonly string[],
): Promise<HydrationResult> {
  if (shardDirs.length === 0)
    throw new UserError('merge-results needs at least one shard directory')
  const shards = await Promise.all(
    shardDirs.map(async (dir) => ({ dir, result: await readHydrationResult(dir) })),
  )
  const first = (shards[0] as (typeof shards)[number]).result
  const merged: HydrationResult = {
    version: 1,
    drySha: first.drySha,
    repoURL: first.repoURL,
    environments: [],
  }
  const seen = new Set<string>()
  for (const { dir, result } of shards) {
    if (result.drySha !== first.drySha || result.repoURL !== first.repoURL) {
      throw new UserError(
        `${dir}: rendered ${result.drySha} of ${result.repoURL}, not ${first.drySha} of ${first.repoURL}`,
      )
    }
    for (const env of result.environments) {
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(env.outputDir) || env.outputDir.includes('..')) {
        throw new UserError(
          `${dir}: environment ${env.name} has an unsafe outputDir "${env.outputDir}"`,
        )
      }
      if (seen.has(env.name))
        throw new UserError(`environment ${env.name} appears in more than one shard`)
      seen.add(env.name)
      merged.environments.push(env)
      if (env.files.length > 0) {
        const target = join(outDir, env.outputDir)
        await rm(target, { recursive: true, force: true })
        await cp(join(dir, env.outputDir), target, { recursive: true })
      }
    }
  }
  merged.environments.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  await writeHydrationResult(outDir, merged)
  return merged
}
