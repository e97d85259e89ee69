// A small fleet (test/fixtures/flow/fleet: 2 testing clusters that deploy
// automatically, 2 production clusters behind an approval) on the GitHub and
// Argo CD simulators, driven through the REAL action bundles in the order and
// with the conditions of the reusable workflows:
//   prWorkflow      fleet-promote-pr.yml       detect → hydrate → open-child-prs → promote (auto) → aggregate
//   command         fleet-promote-command.yml  promote → aggregate
//   closedWorkflow  fleet-promote-closed.yml   merge-cleanup
//   dispatched      fleet-promote-pr.yml       for each workflow_dispatch an action asked for
// After every workflow run the invariant of SPEC.md §3 (test/support/invariant.ts)
// is checked; its violations collect in `violations`.
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseDocument, type Document } from 'yaml'
import { afterEach } from 'vitest'
import {
  argoCdApplicationName,
  discoverEnvironments,
  parseConfig,
} from '../../actions/lib/config/config.js'
import type { Environment, FleetConfig } from '../../actions/lib/config/types.js'
import { Git } from '../../actions/lib/git/git.js'
import { buildWetCommit, readDryCommit } from '../../actions/lib/git/wet-commit.js'
import { hydrate } from '../../actions/lib/render/hydrate.js'
import { startArgoCdSimulator, type ArgoCdSimulator } from './argocd/index.js'
import { startGitHubSimulator, type GitHubSimulator } from './github/index.js'
import { startInvariantChecker, type InvariantChecker } from './invariant.js'
import { actionBundles, FLOW_ACTIONS, type ActionBundles } from './bundles.js'
import { actionDefaults, runAction, type RunActionOptions, type RunActionResult } from './runner.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const FLOW_FLEET = join(ROOT, 'test', 'fixtures', 'flow', 'fleet')
export const FLOW_REPO = 'acme/fleet'

const IDENTITY = {
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Alice Example',
  GIT_AUTHOR_EMAIL: 'alice@example.com',
  GIT_COMMITTER_NAME: 'Alice Example',
  GIT_COMMITTER_EMAIL: 'alice@example.com',
}

let built: Promise<ActionBundles> | undefined

/**
 * The bundles the scenarios run: FLEET_PROMOTE_TEST_DIST, else dist/ when it
 * was bundled from these sources, else one quick build per test process.
 */
export function flowBundles(): Promise<string> {
  const given = process.env.FLEET_PROMOTE_TEST_DIST
  if (given) return Promise.resolve(resolve(given))
  built ??= actionBundles(FLOW_ACTIONS)
  return built.then((bundles) => bundles.distDir)
}

export interface FlowOptions {
  /** Edits fleet-promote.yaml before it is pushed. */
  config?: (document: Document) => void
  /** When test merges follow a base push (the simulator's `testMerges`; default eager). */
  testMerges?: 'eager' | 'on-read'
}

export type PullAction = 'opened' | 'synchronize' | 'reopened' | 'ready_for_review'

/** One run of a workflow: its event and run id (kept by "Re-run all jobs") and each step's result. */
export interface WorkflowRun {
  event: Record<string, unknown>
  runId: string
  attempt: number
  steps: Record<string, RunActionResult>
}

export interface Flow {
  gh: GitHubSimulator
  argocd: ArgoCdSimulator
  config: FleetConfig
  environments: Environment[]
  users: { author: User; maintainer: User; app: User }
  /** Invariant violations seen after a step, as `<step>: <problem>`. */
  violations: string[]
  /** The latest status per context on the parent's head. */
  statuses(parent: number): Map<string, { state: string; description: string }>
  comments(parent: number): { id: number; body: string }[]
  /** Where each environment's Application points: `targetRevision@syncedRevision`. */
  applications(): Map<string, string>
  /** Pushes a branch off main with `files` (null deletes) and opens a parent PR. */
  openParent(branch: string, files: Files, title?: string): Promise<number>
  /** Pushes another commit to the parent's branch; returns the new head. */
  push(parent: number, files: Files): Promise<string>
  prWorkflow(parent: number, action: PullAction): Promise<WorkflowRun>
  /** "Re-run all jobs": the same event payload and run id, the next attempt. */
  rerun(run: WorkflowRun): Promise<WorkflowRun>
  /** A comment on the parent and the command workflow it starts. */
  command(parent: number, user: User, body: string): Promise<WorkflowRun>
  approve(parent: number, user?: User): void
  merge(parent: number): Promise<Record<string, unknown>>
  close(parent: number): Promise<Record<string, unknown>>
  reopen(parent: number): Promise<Record<string, unknown>>
  closedWorkflow(parent: number, event: Record<string, unknown>): Promise<WorkflowRun>
  /**
   * The PR workflow for each `workflow_dispatch` of it the actions requested
   * since the last call (merge-cleanup's re-renders), in the order GitHub got them.
   */
  dispatched(): Promise<WorkflowRun[]>
  /** Checks the invariant now and records violations under `step`. */
  checkInvariant(step: string): Promise<string[]>
  stop(): Promise<void>
}

export interface User {
  login: string
  token: string
}

export type Files = Record<string, string | null>

/** A scenario file's flows, one per test, each stopped after its test: `const f = await start()`. */
export function flowPerTest(): (options?: FlowOptions) => Promise<Flow> {
  let current: Flow | undefined
  afterEach(async () => {
    await current?.stop()
    current = undefined
  })
  return async (options) => (current = await startFlow(options))
}

export async function startFlow(options: FlowOptions = {}): Promise<Flow> {
  const distDir = await flowBundles()
  const work = await mkdtemp(join(tmpdir(), 'fleet-flow-'))
  const gh = await startGitHubSimulator({ testMerges: options.testMerges ?? 'eager' })
  const argocd = await startArgoCdSimulator()
  await gh.createRepo(FLOW_REPO)
  const remote = gh.remoteUrl(FLOW_REPO)
  argocd.resolveRevision = (revision) =>
    /^[0-9a-f]{40}$/.test(revision)
      ? revision
      : (gh.state.refSha(FLOW_REPO, `refs/heads/${revision}`) ?? '0'.repeat(40))
  const users = {
    author: gh.addUser('alice'),
    maintainer: gh.addUser('bob'),
    app: gh.addUser('fleet-promote-app[bot]', { type: 'Bot' }),
  }
  gh.setPermission(FLOW_REPO, users.author.login, 'write')
  gh.setPermission(FLOW_REPO, users.maintainer.login, 'maintain')
  gh.setPermission(FLOW_REPO, users.app.login, 'write')

  // The fleet on main, its WET branches rendered from main, one Application each.
  const author = await Git.clone(remote, join(work, 'author'), {
    token: gh.adminToken,
    env: IDENTITY,
  })
  await cp(FLOW_FLEET, author.dir, { recursive: true })
  // The caller workflow a fleet repository holds: what a dispatched re-render starts.
  await mkdir(join(author.dir, '.github', 'workflows'), { recursive: true })
  await cp(
    join(ROOT, 'examples', 'workflows', 'fleet-promote-pr.yml'),
    join(author.dir, '.github', 'workflows', 'fleet-promote-pr.yml'),
  )
  const configPath = join(author.dir, 'fleet-promote.yaml')
  const document = parseDocument(await readFile(configPath, 'utf8'))
  document.setIn(['deploy', 'argocd', 'server'], argocd.url)
  options.config?.(document)
  await writeFile(configPath, document.toString())
  await author.run(['add', '-A'])
  await author.run(['commit', '-qm', 'fleet'])
  await author.run(['push', '-q', 'origin', 'HEAD:refs/heads/main'])
  const config = parseConfig(await readFile(configPath, 'utf8'), 'fleet-promote.yaml')
  const environments = discoverEnvironments(config, await author.listFiles('HEAD'))
  await seedWetBranches(
    author,
    config,
    environments,
    join(work, 'seed'),
    `${gh.serverUrl}/${FLOW_REPO}`,
  )
  await gh.refreshRefs(FLOW_REPO)
  await addApplications(argocd, config, environments, remote)
  const checker: InvariantChecker = await startInvariantChecker({
    gh,
    argocd,
    repo: FLOW_REPO,
    config,
  })
  const violations: string[] = []
  let runs = 0
  let jobs = 0
  let dispatchesRun = 0

  const step = async (
    name: string,
    options: RunActionOptions & { runId: string; attempt: number },
  ): Promise<RunActionResult> => {
    const result = await runAction(name, {
      github: gh,
      distDir,
      timeoutMs: 300_000,
      ...options,
      inputs: { ...(await actionDefaults(name)), ...options.inputs },
      env: {
        FLEET_PROMOTE_WRITE_INTERVAL_MS: '0',
        FLEET_PROMOTE_RETRY_BASE_MS: '10',
        GITHUB_RUN_ID: options.runId,
        GITHUB_RUN_ATTEMPT: String(options.attempt),
        ...options.env,
      },
    })
    await result.cleanup()
    return result
  }

  const newJob = async () => {
    const dir = join(work, `job-${++jobs}`)
    await mkdir(dir, { recursive: true })
    return dir
  }

  const checkInvariant = async (name: string) => {
    const problems = await checker.check()
    violations.push(...problems.map((problem) => `${name}: ${problem}`))
    return problems
  }

  /** fleet-promote-pr.yml for one event: a pull_request, or a workflow_dispatch naming the PR. */
  async function runPrWorkflow(run: WorkflowRun): Promise<WorkflowRun> {
    const { event, runId, attempt } = run
    const dispatch = event.inputs as { pr?: string } | undefined
    const pull = event.pull_request as
      { number: number; base: { sha: string }; head: { sha: string } } | undefined
    // As the workflow's expressions: the event's pull request, else the dispatch's `pr` input.
    const number = pull?.number ?? Number(dispatch?.pr)
    const merge = `refs/pull/${number}/merge`
    const ids = {
      runId,
      attempt,
      eventName: pull ? 'pull_request' : 'workflow_dispatch',
      event,
    }
    const detect = await step('detect-impact', {
      ...ids,
      workspace: await newJob(),
      checkout: { ref: merge, depth: 0, persistCredentials: false },
      inputs: {
        config: 'fleet-promote.yaml',
        base: pull?.base.sha ?? '',
        head: pull?.head.sha ?? '',
        'shard-size': 25,
      },
    })
    run.steps.detect = detect
    if (detect.exitCode !== 0) {
      // The children job then only sets the gate, failed with detect-impact's reason.
      if (detect.outputs.error) {
        run.steps.aggregate = await step('aggregate-status', {
          ...ids,
          workspace: await newJob(),
          inputs: { token: users.app.token, pr: number, error: detect.outputs.error },
        })
      }
      return run
    }
    const base = detect.outputs.base ?? ''
    const count = detect.outputs.count ?? '0'
    const names = JSON.stringify(
      (JSON.parse(detect.outputs.environments ?? '[]') as { name: string }[]).map(
        (env) => env.name,
      ),
    )
    const shards = join(await newJob(), 'shards')
    if (count !== '0') {
      const matrix = JSON.parse(detect.outputs.matrix ?? '{"include":[]}') as {
        include: { shard: number; environments: string }[]
      }
      for (const shard of matrix.include) {
        run.steps[`hydrate-${shard.shard}`] = await step('hydrate', {
          ...ids,
          workspace: await newJob(),
          checkout: { ref: merge, depth: 2, token: users.app.token },
          inputs: {
            config: 'fleet-promote.yaml',
            base,
            environments: shard.environments,
            'output-dir': join(shards, `shard-${shard.shard}`),
          },
        })
      }
    }
    const children = await newJob()
    if (count === '0') {
      run.steps['hydrate-none'] = await step('hydrate', {
        ...ids,
        workspace: children,
        checkout: { ref: merge, depth: 2, persistCredentials: false },
        inputs: {
          config: 'fleet-promote.yaml',
          base,
          environments: '[]',
          'output-dir': join(shards, 'none'),
        },
      })
    }
    const open = await step('open-child-prs', {
      ...ids,
      workspace: children,
      ...(count === '0' ? {} : { checkout: { ref: merge, depth: 2, persistCredentials: false } }),
      inputs: {
        token: users.app.token,
        config: 'fleet-promote.yaml',
        'rendered-dir': shards,
        pr: number,
        'argocd-token': argocd.token,
        'argocd-poll-seconds': '0.05',
      },
    })
    run.steps.children = open
    // Also after open-child-prs failed: what it updated for this head still deploys.
    run.steps.auto = await step('promote', {
      ...ids,
      workspace: children,
      inputs: {
        token: users.app.token,
        config: 'fleet-promote.yaml',
        'argocd-token': argocd.token,
        'argocd-poll-seconds': '0.05',
        pr: number,
        'auto-promote': 'true',
      },
    })
    run.steps.aggregate = await step('aggregate-status', {
      ...ids,
      workspace: children,
      inputs: { token: users.app.token, pr: number, environments: names },
    })
    return run
  }

  const flow: Flow = {
    gh,
    argocd,
    config,
    environments,
    users,
    violations,
    statuses(parent) {
      const head = gh.state.pull(FLOW_REPO, parent).headSha
      return new Map(
        gh.state
          .latestStatuses(FLOW_REPO, head)
          .map((s) => [s.context, { state: s.state, description: s.description ?? '' }]),
      )
    },
    comments(parent) {
      return gh.state
        .comments(FLOW_REPO, parent)
        .filter((c) => c.user === users.app.login)
        .map((c) => ({ id: c.id, body: c.body }))
    },
    applications() {
      return new Map(
        environments.map((env) => {
          const app = argocd.getApplication(argoCdApplicationName(config, env))
          return [
            env.name,
            `${app?.spec.source?.targetRevision ?? '?'}@${app?.status?.sync?.revision ?? '?'}`,
          ]
        }),
      )
    },
    async openParent(branch, files, title = `Change ${branch}`) {
      await author.run(['checkout', '-q', '-B', branch, 'origin/main'])
      await author.run(['fetch', '-q', 'origin', 'main'])
      await author.run(['reset', '-q', '--hard', 'origin/main'])
      await commitFiles(author, files, title)
      await author.run(['push', '-q', 'origin', `HEAD:refs/heads/${branch}`])
      const opened = await gh.openPullRequest(FLOW_REPO, {
        head: branch,
        base: 'main',
        title,
        user: users.author.login,
      })
      return opened.number
    },
    async push(parent, files) {
      const branch = gh.state.pull(FLOW_REPO, parent).headRef
      await author.run(['fetch', '-q', 'origin', branch])
      await author.run(['checkout', '-q', '-B', branch, `origin/${branch}`])
      await commitFiles(author, files, `update ${branch}`)
      await author.run(['push', '-q', 'origin', `HEAD:refs/heads/${branch}`])
      await gh.refreshRefs(FLOW_REPO)
      return gh.state.pull(FLOW_REPO, parent).headSha
    },
    async prWorkflow(parent, action) {
      const event = gh.pullRequestEvent(
        FLOW_REPO,
        parent,
        action === 'ready_for_review' ? 'synchronize' : action,
      )
      if (action === 'ready_for_review') event.action = 'ready_for_review'
      const run = await runPrWorkflow({
        event,
        runId: String(++runs + 7000),
        attempt: 1,
        steps: {},
      })
      await checkInvariant(`pull_request ${action} #${parent}`)
      return run
    },
    async rerun(previous) {
      const run = await runPrWorkflow({ ...previous, attempt: previous.attempt + 1, steps: {} })
      await checkInvariant(`re-run of run ${previous.runId}`)
      return run
    },
    async command(parent, user, body) {
      const posted = gh.comment(FLOW_REPO, parent, { user: user.login, body })
      const ids = {
        runId: String(++runs + 7000),
        attempt: 1,
        eventName: 'issue_comment',
        event: posted.event,
      }
      const workspace = await newJob()
      const promote = await step('promote', {
        ...ids,
        workspace,
        inputs: {
          token: users.app.token,
          config: 'fleet-promote.yaml',
          'argocd-token': argocd.token,
          'argocd-poll-seconds': '0.05',
          aggregate: 'false',
        },
      })
      const run: WorkflowRun = { ...ids, steps: { promote } }
      if (promote.outputs.decision !== 'ignored') {
        run.steps.aggregate = await step('aggregate-status', {
          ...ids,
          workspace,
          inputs: { token: users.app.token, pr: parent },
        })
      }
      await checkInvariant(`${body} on #${parent}`)
      return run
    },
    approve(parent, user = users.maintainer) {
      gh.review(FLOW_REPO, parent, {
        user: user.login,
        state: 'APPROVED',
        commitId: gh.state.pull(FLOW_REPO, parent).headSha,
      })
    },
    merge: (parent) => gh.mergePullRequestAsUser(FLOW_REPO, parent, users.maintainer.login),
    close: (parent) => gh.closePullRequestAsUser(FLOW_REPO, parent, users.maintainer.login),
    reopen: (parent) => gh.reopenPullRequestAsUser(FLOW_REPO, parent, users.maintainer.login),
    async closedWorkflow(parent, event) {
      const ids = {
        runId: String(++runs + 7000),
        attempt: 1,
        eventName: 'pull_request_target',
        event,
      }
      const cleanup = await step('merge-cleanup', {
        ...ids,
        workspace: await newJob(),
        checkout: { ref: 'refs/heads/main', depth: 0, persistCredentials: false },
        inputs: {
          token: users.app.token,
          config: 'fleet-promote.yaml',
          'argocd-token': argocd.token,
        },
      })
      await checkInvariant(`pull_request closed #${parent}`)
      return { ...ids, steps: { cleanup } }
    },
    async dispatched() {
      const started: WorkflowRun[] = []
      const all = gh.state.dispatches(FLOW_REPO)
      for (const dispatch of all.slice(dispatchesRun)) {
        dispatchesRun++
        if (dispatch.workflowId !== 'fleet-promote-pr.yml') continue
        const ref = dispatch.ref.startsWith('refs/') ? dispatch.ref : `refs/heads/${dispatch.ref}`
        const event = gh.workflowDispatchEvent(
          FLOW_REPO,
          ref,
          dispatch.inputs,
          '.github/workflows/fleet-promote-pr.yml',
        )
        const run = await runPrWorkflow({
          event,
          runId: String(++runs + 7000),
          attempt: 1,
          steps: {},
        })
        await checkInvariant(
          `workflow_dispatch of fleet-promote-pr.yml #${String(dispatch.inputs.pr)}`,
        )
        started.push(run)
      }
      return started
    },
    checkInvariant,
    async stop() {
      await checker.stop()
      await Promise.allSettled([gh.stop(), argocd.stop()])
      await rm(work, { recursive: true, force: true })
    },
  }
  return flow
}

/** One Argo CD Application per environment, on its WET branch. */
export async function addApplications(
  argocd: ArgoCdSimulator,
  config: FleetConfig,
  environments: readonly Environment[],
  repoURL: string,
): Promise<void> {
  for (const env of environments) {
    await argocd.addApplication({
      name: argoCdApplicationName(config, env),
      repoURL,
      // On a shared WET branch an Application deploys its environment's folder.
      path: env.folder ?? '.',
      targetRevision: env.branch,
    })
  }
}

async function commitFiles(git: Git, files: Files, message: string): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const file = join(git.dir, path)
    if (content === null) await rm(file, { force: true })
    else {
      await mkdir(dirname(file), { recursive: true })
      await writeFile(file, content)
    }
  }
  await git.run(['add', '-A'])
  await git.run(['commit', '-qm', message])
}

/** Each WET branch starts as the render of main, as a platform team would seed it. */
async function seedWetBranches(
  git: Git,
  config: FleetConfig,
  environments: readonly Environment[],
  outputDir: string,
  repoURL: string,
): Promise<void> {
  const { result } = await hydrate({
    repoDir: git.dir,
    environments,
    outputDir,
    settings: config.hydrate,
    repoURL,
    wetStates: new Map(),
  })
  const dry = await readDryCommit(git, result.drySha)
  if (!dry) throw new Error('seeding the WET branches: no DRY commit')
  const refspecs: string[] = []
  for (const env of result.environments) {
    if (env.status !== 'rendered')
      throw new Error(`seeding ${env.name}: ${env.reason ?? env.status}`)
    const commit = await buildWetCommit(git, { environment: env, renderedDir: outputDir, dry })
    refspecs.push(`${commit.sha}:refs/heads/${env.branch}`)
  }
  await git.run(['push', '-q', '--atomic', 'origin', ...refspecs])
}
