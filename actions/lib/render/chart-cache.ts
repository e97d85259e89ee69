// A run-scoped chart cache: each (repository, chart, version) is pulled once
// with `helm pull` (never `helm dependency update`, never a plugin), its
// archive digest checked against the optional lock, unpacked, checked (regular
// files only, no getHostByName) and then hard-linked into every render root
// that needs it (see render-tree.ts).
import { createHash } from 'node:crypto'
import { lstat, mkdir, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runProcess } from '../process.js'
import { RefusedError, scanChartTemplates, type RemoteChartRef } from './safety.js'
import type { Sandbox } from './sandbox.js'

export interface ChartLockEntry {
  /** Repository URL; when absent the entry applies to the chart from any allowed repository. */
  repo?: string
  chart: string
  version: string
  /** `sha256:<hex>` of the packaged chart archive. */
  digest: string
}

export interface CachedChart {
  /** Directory holding the unpacked chart (`<dir>/<name>` is the chart). */
  dir: string
  digest: string
}

export interface ChartCacheOptions {
  cacheDir: string
  helm: string
  env: NodeJS.ProcessEnv
  timeoutMs: number
  lock: readonly ChartLockEntry[]
  /** `helm pull` runs in it too, with the network (allowlisted repositories only reach it). */
  sandbox: Sandbox
  /** The run directory holding Helm's config and cache dirs (writable for the pull). */
  runDir: string
}

export class ChartCache {
  private readonly entries = new Map<string, Promise<CachedChart>>()
  /** Charts actually pulled in this run (for the benchmark and tests). */
  pulls = 0

  constructor(private readonly options: ChartCacheOptions) {}

  get(chart: RemoteChartRef): Promise<CachedChart> {
    const key = `${chart.repo}\0${chart.name}\0${chart.version}`
    let entry = this.entries.get(key)
    if (!entry) {
      entry = this.pull(chart, createHash('sha256').update(key).digest('hex').slice(0, 24))
      this.entries.set(key, entry)
    }
    return entry
  }

  private async pull(chart: RemoteChartRef, id: string): Promise<CachedChart> {
    const base = join(this.options.cacheDir, id)
    const archiveDir = join(base, 'archive')
    const dir = join(base, 'chart')
    await mkdir(archiveDir, { recursive: true })
    await mkdir(dir, { recursive: true })
    const ref = chart.repo.startsWith('oci://')
      ? `${chart.repo.replace(/\/+$/, '')}/${chart.name}`
      : chart.name
    const args = ['pull', ref, '--version', chart.version, '--destination', archiveDir]
    if (!chart.repo.startsWith('oci://')) args.push('--repo', chart.repo)
    this.pulls++
    const { runDir, helm } = this.options
    const [command, argv] = this.options.sandbox.command(helm, args, {
      readOnly: [helm],
      writable: [archiveDir, ...['helm', 'home', 'tmp'].map((dir) => join(runDir, dir))],
      network: true,
      cwd: archiveDir,
    })
    const pulled = await runProcess(command, argv, {
      env: this.options.env,
      timeoutMs: this.options.timeoutMs,
    })
    if (pulled.code !== 0) {
      const detail =
        (pulled.stderr.trim() || pulled.killedFor || `exit ${pulled.code}`).split('\n')[0] ?? ''
      throw new RefusedError(`chart ${chart.name}@${chart.version}: pull failed: ${detail}`)
    }
    const archives = (await readdir(archiveDir)).filter((name) => name.endsWith('.tgz'))
    if (archives.length !== 1)
      throw new RefusedError(`chart ${chart.name}@${chart.version}: pull gave no archive`)
    const archive = join(archiveDir, archives[0] as string)
    const digest = `sha256:${createHash('sha256')
      .update(await readFile(archive))
      .digest('hex')}`
    this.verifyLock(chart, digest)
    const untar = await runProcess(
      'tar',
      ['-xzf', archive, '-C', dir, '--no-same-owner', '--no-same-permissions'],
      {
        env: this.options.env,
        timeoutMs: this.options.timeoutMs,
      },
    )
    if (untar.code !== 0)
      throw new RefusedError(`chart ${chart.name}@${chart.version}: archive does not unpack`)
    const top = await readdir(dir)
    if (top.length !== 1 || top[0] !== chart.name) {
      throw new RefusedError(
        `chart ${chart.name}@${chart.version}: archive must hold one directory "${chart.name}"`,
      )
    }
    await assertRegularFiles(dir, `${chart.name}@${chart.version}`)
    await scanChartTemplates(join(dir, chart.name), `${chart.name}@${chart.version}`)
    return { dir, digest }
  }

  private verifyLock(chart: RemoteChartRef, digest: string): void {
    const locked = this.options.lock.filter(
      (entry) =>
        entry.chart === chart.name &&
        entry.version === chart.version &&
        (entry.repo === undefined || entry.repo === chart.repo),
    )
    for (const entry of locked) {
      if (entry.digest.toLowerCase() !== digest) {
        throw new RefusedError(
          `chart ${chart.name}@${chart.version} digest ${digest.slice(0, 19)}… does not match the lock`,
        )
      }
    }
  }
}

/** A chart archive may hold only directories and regular files (no links to host files). */
async function assertRegularFiles(dir: string, label: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    const stats = await lstat(path)
    if (stats.isDirectory()) await assertRegularFiles(path, label)
    else if (!stats.isFile())
      throw new RefusedError(`chart ${label}: archive holds a link or special file (${entry.name})`)
  }
}
