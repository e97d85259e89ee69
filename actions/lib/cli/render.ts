import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { discoverEnvironments, environmentsFromPaths } from '../config/config.js'
import type { Environment, FleetConfig } from '../config/types.js'
import { UserError } from '../errors.js'
import { Git } from '../git/git.js'
import type { EnvironmentHydration } from '../hydration-types.js'
import { hydrate } from '../render/hydrate.js'
import { loadChartLock, loadRenderConfig } from '../render/sources.js'
import { buildWetCommit, readDryCommit } from '../git/wet-commit.js'
import { parseCliArgs } from './args.js'
import { commands } from './index.js'
import { remoteCredentials, withCredentialsAdvice } from './remote-token.js'

const usage = `Usage: fleet-promote render --env PATH [--repo DIR] [--out DIR] [--config FILE]

Renders one environment exactly as the hydrate action does (safety checks,
shared chart cache, kustomize build, canonical YAML, diff with its WET branch,
deletion guard) and prints its result JSON (an EnvironmentHydration). With
--push it also commits the render onto the WET branch tip (managed files
replaced, other files kept) and pushes it, leased on that tip: the repair for
a WET branch that drifted from the DRY branch (see fleet-promote report).
kustomize and Helm run in the bubblewrap sandbox; the isolation used is
printed on stderr, and nothing renders without one unless hydrate.sandbox
is off.

Options:
  --repo DIR          Git repository (default: the current directory)
  --env PATH          Environment directory, relative to the repository root
  --out DIR           Write hydration.json and <environment>/ there (default: a temp dir, removed)
  --config FILE       Configuration file (default: fleet-promote.yaml)
  --base REV          Read --config and --chart-lock at this revision instead of the work tree
  --chart-lock FILE   Chart lock (charts: [{repo, chart, version, digest}]) to verify pulls against
  --remote NAME       Fetch the WET branch from this remote (default: local branches only);
                      an HTTPS remote gets the token in FLEET_PROMOTE_GIT_TOKEN, if set
  --allow-deletions   Let a render the deletion guard blocks through
  --push              Commit the render of HEAD onto the WET branch and push it to --remote

Exit code: 0 when rendered or unchanged, 1 when failed or blocked.`

commands.set('render', {
  summary: 'Render one environment the way the hydrate action does and print its result.',
  usage,
  async run(args) {
    const options = parseCliArgs('render', args, {
      repo: { type: 'string' },
      env: { type: 'string' },
      out: { type: 'string' },
      config: { type: 'string' },
      base: { type: 'string' },
      'chart-lock': { type: 'string' },
      remote: { type: 'string' },
      'allow-deletions': { type: 'boolean' },
      push: { type: 'boolean' },
    })
    if (!options.env) throw new UserError('--env is required (see "fleet-promote render --help")')
    const repoDir = resolve(options.repo ?? '.')
    const credentials =
      options.remote === undefined ? undefined : await remoteCredentials(repoDir, options.remote)
    const git = new Git(repoDir, credentials?.git)
    if (options.push) await checkPushable(git, options.remote)
    const base = options.base ?? ''
    const config = await loadRenderConfig(
      git,
      repoDir,
      options.config ?? 'fleet-promote.yaml',
      base,
    )
    const environment = await environmentAt(git, config, options.env)
    const scratch =
      options.out === undefined
        ? await mkdtemp(join(tmpdir(), 'fleet-promote-cli-render-'))
        : undefined
    const outputDir =
      options.out !== undefined ? resolve(options.out) : join(scratch as string, 'out')
    try {
      const { result, stats } = await hydrate({
        repoDir,
        environments: [environment],
        outputDir,
        settings: config.hydrate,
        allowDeletions: options['allow-deletions'] === true,
        chartLock: await loadChartLock(git, repoDir, options['chart-lock'] ?? '', base),
        ...(credentials ? { wetRemote: credentials.remote, git: credentials.git } : {}),
      })
      const env = result.environments[0]
      process.stderr.write(`${stats.sandbox}\n`)
      process.stdout.write(`${JSON.stringify(env, null, 2)}\n`)
      const ok = env !== undefined && (env.status === 'rendered' || env.status === 'unchanged')
      if (ok && options.push && options.remote !== undefined) {
        await pushRender(git, options.remote, env, outputDir, result.drySha)
      }
      return ok ? 0 : 1
    } catch (error) {
      throw credentials ? withCredentialsAdvice(error, credentials) : error
    } finally {
      if (scratch) await rm(scratch, { recursive: true, force: true })
    }
  },
})

/** --push needs a remote and a clean work tree: the render reads the work tree but records HEAD. */
async function checkPushable(git: Git, remote: string | undefined): Promise<void> {
  if (remote === undefined) throw new UserError('--push needs --remote (where the WET branch is)')
  if ((await git.run(['status', '--porcelain', '--untracked-files=no'])).trim() !== '') {
    throw new UserError(
      '--push renders the committed HEAD: commit or stash the changes in the work tree first',
    )
  }
}

/** The environment --env names: a discovered one at that path, or the path as its own environment. */
async function environmentAt(git: Git, config: FleetConfig, env: string): Promise<Environment> {
  const path = env.replace(/^\.\//, '').replace(/\/+$/, '')
  const files = await git.listFiles('HEAD')
  const environment: Environment | undefined =
    discoverEnvironments(config, files, { allowUnmatched: true }).find(
      (candidate) => candidate.path === path,
    ) ?? environmentsFromPaths(config, files, [path])[0]
  if (!environment) throw new UserError(`--env ${env}: not an environment directory`)
  return environment
}

/** Commits the render onto the WET tip it was diffed against and pushes it, leased on that tip. */
async function pushRender(
  git: Git,
  remote: string,
  env: EnvironmentHydration,
  renderedDir: string,
  drySha: string,
): Promise<void> {
  const dry = await readDryCommit(git, drySha)
  if (!dry) throw new UserError(`DRY commit ${drySha} is not in the repository`)
  const commit = await buildWetCommit(git, { environment: env, renderedDir, dry })
  if (!commit.changed) {
    process.stderr.write(
      `${env.branch} already holds the render of ${drySha.slice(0, 7)}: nothing pushed\n`,
    )
    return
  }
  const ref = `refs/heads/${env.branch}`
  await git.push(remote, [`${commit.sha}:${ref}`], { leases: [{ ref, expect: env.baseSha }] })
  process.stderr.write(
    `pushed ${commit.sha.slice(0, 7)} (render of ${drySha.slice(0, 7)}) to ${env.branch}\n`,
  )
}
