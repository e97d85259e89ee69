// Glue between the configuration loader and the render core, shared by the
// hydrate action and the CLI: fleet-promote.yaml and the optional chart lock
// come from the base revision when one is given (privileged runs must not
// trust the PR head), else from the working tree.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parse } from 'yaml'
import { loadConfig, loadConfigFrom } from '../config/config.js'
import type { FleetConfig } from '../config/types.js'
import { UserError } from '../errors.js'
import type { Git } from '../git/git.js'
import type { ChartLockEntry } from './chart-cache.js'

const SHA40 = /^[0-9a-f]{40}$/i

/** The commit `base` names here, fetching it from origin when it is a SHA this checkout lacks. */
async function resolveBase(git: Git, base: string): Promise<string> {
  const local =
    (await git.tryRevParse(base)) ?? (await git.tryRevParse(`refs/remotes/origin/${base}`))
  if (local) return local
  if (SHA40.test(base)) {
    await git.fetch('origin', [base], { depth: 1 })
    return git.revParse(base)
  }
  throw new UserError(`base revision "${base}" is not in this checkout`)
}

async function readSource(
  git: Git,
  repoDir: string,
  file: string,
  base: string,
): Promise<string | undefined> {
  if (base) return git.showFile(await resolveBase(git, base), file)
  try {
    return await readFile(join(repoDir, file), 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/** fleet-promote.yaml from the base revision (when given) or the working tree. */
export async function loadRenderConfig(
  git: Git,
  repoDir: string,
  file: string,
  base: string,
): Promise<FleetConfig> {
  if (!base) return loadConfig(repoDir, file)
  return loadConfigFrom(
    { where: `at ${base}`, revision: base, read: (name) => readSource(git, repoDir, name, base) },
    file,
  )
}

/**
 * The optional chart lock: `charts: [{repo?, chart, version, digest: sha256:<hex>}]`.
 * Pinning digests makes a re-published chart version fail loudly instead of rendering.
 */
export function parseChartLock(text: string, file: string): ChartLockEntry[] {
  let raw: unknown
  try {
    raw = parse(text)
  } catch (error) {
    throw new UserError(
      `${file}: invalid YAML (${(error as Error).message.split('\n')[0] ?? ''})`,
      { file },
    )
  }
  const charts = (raw as { charts?: unknown } | null)?.charts
  if (!Array.isArray(charts)) throw new UserError(`${file}: expected a "charts" list`, { file })
  return charts.map((entry: unknown, index) => {
    const e = (entry ?? {}) as Record<string, unknown>
    const text = (key: string) => {
      const value = e[key]
      return typeof value === 'string' ? value : undefined
    }
    const chart = text('chart')
    const version = text('version')
    const digest = text('digest')?.toLowerCase()
    if (!chart || !version || !digest || !/^sha256:[0-9a-f]{64}$/.test(digest)) {
      throw new UserError(
        `${file}: charts[${index}] needs chart, version and digest "sha256:<64 hex>"`,
        { file },
      )
    }
    const repo = text('repo')
    return { chart, version, digest, ...(repo ? { repo } : {}) }
  })
}

export async function loadChartLock(
  git: Git,
  repoDir: string,
  file: string,
  base: string,
): Promise<ChartLockEntry[]> {
  if (!file) return []
  const text = await readSource(git, repoDir, file, base)
  if (text === undefined)
    throw new UserError(`chart lock ${file} does not exist${base ? ` at ${base}` : ''}`, { file })
  return parseChartLock(text, file)
}
