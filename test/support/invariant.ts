// SPEC.md §3 "What a cluster runs", checked from the simulators' state:
//   - every Argo CD Application of the fleet targets its WET branch, or the
//     child branch of exactly one open parent that holds the environment's lock;
//   - that branch exists;
//   - the revision it is synced to lies on that branch, and its render holds
//     every change merged to the DRY branch for that environment: the DRY
//     commit it was rendered from (hydrator.metadata) contains main HEAD, or
//     main changed nothing of this environment's render since their merge base.
// The demo and the flow scenarios call `check()` after every step.
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { argoCdApplicationName, discoverEnvironments } from '../../actions/lib/config/config.js'
import type { Environment, FleetConfig } from '../../actions/lib/config/types.js'
import { canonicalRepoURL } from '../../actions/lib/argocd/client.js'
import { childUnit, parseChildBranch } from '../../actions/lib/children.js'
import { Git } from '../../actions/lib/git/git.js'
import { LOCK_BRANCH_PREFIX, LOCK_FILE } from '../../actions/lib/locks.js'
import { hydrate } from '../../actions/lib/render/hydrate.js'
import type { ArgoCdSimulator } from './argocd/index.js'
import type { GitHubSimulator } from './github/index.js'

/** Files that record provenance, not objects: a render differs there on every DRY commit. */
const PROVENANCE = new Set(['hydrator.metadata', 'README.md'])
const SHA = /^[0-9a-f]{40}$/

export interface InvariantOptions {
  gh: GitHubSimulator
  argocd: ArgoCdSimulator
  /** `owner/name` of the fleet repository. */
  repo: string
  config: FleetConfig
  /** Environments another system deploys (Kargo pins commits): not checked. */
  skip?: (environment: Environment) => boolean
}

export interface InvariantChecker {
  /** The violations now, one sentence each (empty: the invariant holds). */
  check(): Promise<string[]>
  stop(): Promise<void>
}

export async function startInvariantChecker(options: InvariantOptions): Promise<InvariantChecker> {
  const { gh, argocd, repo, config } = options
  const scratch = await mkdtemp(join(tmpdir(), 'fleet-invariant-'))
  const git = await Git.clone(gh.remoteUrl(repo), join(scratch, 'repo'), { token: gh.adminToken })
  // Every object the simulator holds, also DRY commits no ref reaches any more (an old test merge).
  await writeFile(
    join(git.dir, '.git', 'objects', 'info', 'alternates'),
    `${join(gh.repoPath(repo), 'objects')}\n`,
  )
  // Render of each DRY commit checked, per environment: path → content of its objects.
  const renders = new Map<string, Promise<Map<string, Map<string, string>>>>()
  let renderCount = 0

  const renderAt = (sha: string) => {
    let rendered = renders.get(sha)
    if (!rendered) {
      rendered = renderCommit(git, config, sha, join(scratch, `render-${++renderCount}`))
      renders.set(sha, rendered)
    }
    return rendered
  }

  async function check(): Promise<string[]> {
    await git.run(['fetch', '--quiet', '--prune', 'origin', '+refs/heads/*:refs/remotes/origin/*'])
    const branches = new Map<string, string>()
    for (const line of (
      await git.run(['for-each-ref', '--format=%(refname) %(objectname)', 'refs/remotes/origin/'])
    )
      .trim()
      .split('\n')
      .filter(Boolean)) {
      const [ref = '', sha = ''] = line.split(' ')
      branches.set(ref.slice('refs/remotes/origin/'.length), sha)
    }
    const main = branches.get('main') ?? ''
    const environments = discoverEnvironments(config, await git.listFiles(main), {
      allowUnmatched: true,
    })
    const problems: string[] = []
    for (const env of environments) {
      if (options.skip?.(env)) continue
      problems.push(...(await checkEnvironment(env, branches, main)))
    }
    return problems
  }

  async function checkEnvironment(
    env: Environment,
    branches: ReadonlyMap<string, string>,
    main: string,
  ): Promise<string[]> {
    const name = argoCdApplicationName(config, env)
    const app = argocd.getApplication(name)
    if (!app) return []
    const remote = canonicalRepoURL(gh.remoteUrl(repo))
    const sources = app.spec.sources?.length
      ? app.spec.sources
      : app.spec.source
        ? [app.spec.source]
        : []
    const index = sources.findIndex((source) => canonicalRepoURL(source.repoURL ?? '') === remote)
    if (index < 0) return []
    const target = sources[index]?.targetRevision ?? ''
    const synced =
      (app.spec.sources?.length
        ? app.status?.sync?.revisions?.[index]
        : app.status?.sync?.revision) ?? ''
    const at = `Application ${name} (${env.name})`
    if (!branches.has(target))
      return [`${at} targets ${target || '(nothing)'}, a branch that does not exist`]
    if (target !== env.branch) {
      const child = parseChildBranch(target)
      if (!child || child.environment !== childUnit(env))
        return [`${at} targets ${target}: neither ${env.branch} nor a child branch of ${env.name}`]
      const pull = gh.state.pull(repo, child.parent)
      if (pull.state !== 'open')
        return [
          `${at} targets ${target}, a child of #${child.parent}, which is ${pull.merged ? 'merged' : 'closed'}`,
        ]
      const holder = await lockHolder(git, branches.get(`${LOCK_BRANCH_PREFIX}${env.name}`))
      if (holder !== child.parent)
        return [
          `${at} targets ${target}, but the lock of ${env.name} is ${holder === undefined ? 'free' : `held by #${holder}`}`,
        ]
    }
    const path = sources[index]?.path
    if (env.folder !== undefined && path !== env.folder)
      return [`${at} deploys ${path ?? '(no path)'} of ${target}, not its folder ${env.folder}`]
    if (!SHA.test(synced)) return [`${at} reports no synced revision`]
    const tip = branches.get(target) ?? ''
    if (!(await isAncestor(git, synced, tip)))
      return [
        `${at} runs ${synced.slice(0, 7)}, which is not on ${target} (tip ${tip.slice(0, 7)})`,
      ]
    const drySha = await renderedFrom(git, synced, env.folder)
    if (!drySha) return [`${at} runs ${synced.slice(0, 7)}, which records no DRY commit`]
    if (await isAncestor(git, main, drySha)) return []
    const base = (await git.raw(['merge-base', drySha, main])).stdout.trim()
    if (!SHA.test(base)) return [`${at} runs a render of ${drySha.slice(0, 7)}, unrelated to main`]
    const before = (await renderAt(base)).get(env.name)
    const now = (await renderAt(main)).get(env.name)
    if (!sameObjects(before, now)) {
      return [
        `${at} runs ${synced.slice(0, 7)}, rendered from ${drySha.slice(0, 7)}: it lacks what main merged for ${env.name} since ${base.slice(0, 7)} (main is ${main.slice(0, 7)})`,
      ]
    }
    return []
  }

  return {
    check,
    async stop() {
      await rm(scratch, { recursive: true, force: true })
    },
  }
}

async function isAncestor(git: Git, ancestor: string, commit: string): Promise<boolean> {
  if (!SHA.test(ancestor) || !SHA.test(commit)) return false
  return (await git.raw(['merge-base', '--is-ancestor', ancestor, commit])).code === 0
}

/** The PR number in a lock commit's lock.json, undefined when there is no lock. */
async function lockHolder(git: Git, commit: string | undefined): Promise<number | undefined> {
  if (!commit) return undefined
  const text = await git.showFile(commit, LOCK_FILE)
  const pr = text ? (JSON.parse(text) as { pr?: unknown }).pr : undefined
  return typeof pr === 'number' ? pr : -1
}

/** The `drySha` a WET commit's hydrator.metadata records. */
async function renderedFrom(
  git: Git,
  commit: string,
  folder: string | undefined,
): Promise<string | undefined> {
  // A shared WET branch: the folder's own metadata (the root's names the newest render of any folder).
  const text = await git.showFile(
    commit,
    folder === undefined ? 'hydrator.metadata' : `${folder}/hydrator.metadata`,
  )
  if (!text) return undefined
  const sha = (JSON.parse(text) as { drySha?: unknown }).drySha
  return typeof sha === 'string' && SHA.test(sha) ? sha : undefined
}

function sameObjects(
  a: ReadonlyMap<string, string> | undefined,
  b: ReadonlyMap<string, string> | undefined,
): boolean {
  if (!a || !b) return a === b
  if (a.size !== b.size) return false
  for (const [path, text] of a) if (b.get(path) !== text) return false
  return true
}

/** Every environment of a DRY commit rendered with the render core, without provenance files. */
async function renderCommit(
  git: Git,
  config: FleetConfig,
  sha: string,
  dir: string,
): Promise<Map<string, Map<string, string>>> {
  return git.withWorktree(sha, join(dir, 'tree'), async (tree) => {
    const environments = discoverEnvironments(config, await git.listFiles(sha), {
      allowUnmatched: true,
    })
    const output = join(dir, 'out')
    const { result } = await hydrate({
      repoDir: tree,
      environments,
      outputDir: output,
      settings: config.hydrate,
      drySha: sha,
      repoURL: 'invariant',
      wetStates: new Map(),
    })
    const byEnvironment = new Map<string, Map<string, string>>()
    for (const env of result.environments) {
      const files = new Map<string, string>()
      if (env.status === 'rendered') {
        for (const file of await readdir(join(output, env.outputDir), { recursive: true })) {
          if (PROVENANCE.has(file)) continue
          const text = await readFile(join(output, env.outputDir, file), 'utf8').catch(
            () => undefined,
          )
          if (text !== undefined) files.set(file, text)
        }
      } else {
        files.set('(render)', `${env.status}: ${env.reason ?? ''}`)
      }
      byEnvironment.set(env.name, files)
    }
    return byEnvironment
  })
}
