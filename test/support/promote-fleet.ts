// An 8-environment fleet on the GitHub and Argo CD simulators, in the state
// open-child-prs leaves it: WET branches, a parent PR, one child PR per
// environment (branch `fleet-promote/pr-<n>/<env>`, marker in the body) and
// pending `fleet-promote/<env>` statuses on the parent head. Children are
// made directly, so promote tests do not depend on open-child-prs.
import { execFileSync } from 'node:child_process'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { expect } from 'vitest'
import { createArgoCdClient } from '../../actions/lib/argocd/client.js'
import { childBranch, encodeMarker } from '../../actions/lib/children.js'
import { Git } from '../../actions/lib/git/git.js'
import { createGitHubClient, type GitHubClient } from './github-client.js'
import type { PromoteSettings, Trigger } from '../../actions/promote/promote.js'
import { environmentContext } from '../../actions/lib/statuses.js'
import { startArgoCdSimulator, type ArgoCdSimulator } from './argocd/index.js'
import { startGitHubSimulator, type GitHubSimulator, type Role } from './github/index.js'

const IDENTITY = {
  GIT_AUTHOR_NAME: 'Fleet Test',
  GIT_AUTHOR_EMAIL: 'fleet-test@example.com',
  GIT_COMMITTER_NAME: 'Fleet Test',
  GIT_COMMITTER_EMAIL: 'fleet-test@example.com',
  GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z',
}

export const OWNER = 'acme'
export const NAME = 'fleet'
export const FULL_NAME = `${OWNER}/${NAME}`
export const REPO = { owner: OWNER, repo: NAME }

export const ENVIRONMENTS = [
  { name: 'ap-test-1', stage: 'testing' },
  { name: 'eu-test-1', stage: 'testing' },
  { name: 'us-test-1', stage: 'testing' },
  { name: 'ap-prod-1', stage: 'production' },
  { name: 'eu-prod-1', stage: 'production' },
  { name: 'eu-prod-2', stage: 'production' },
  { name: 'us-prod-1', stage: 'production' },
  { name: 'us-prod-2', stage: 'production' },
] as const

/** The multi-source Application (a Helm chart from elsewhere plus this repository). */
export const MULTI_SOURCE_ENV = 'ap-test-1'

export interface FleetUser {
  login: string
  token: string
}

export interface PromoteFleet {
  gh: GitHubSimulator
  argocd: ArgoCdSimulator
  admin: GitHubClient
  users: Record<
    'writer' | 'maintainer' | 'reader' | 'triager' | 'approver' | 'other',
    FleetUser
  > & {
    bot: FleetUser
  }
  parent: number
  headSha: string
  work: Git
  /** Opens another parent PR with its own children (for lock races), for all or some environments. */
  openParent(
    branch: string,
    user: string,
    impacts?: (environment: string) => boolean,
  ): Promise<{ number: number; headSha: string }>
  /** Pushes a new commit to the parent branch (the head moves). */
  moveHead(): Promise<string>
  settings(overrides?: Partial<PromoteSettings>): PromoteSettings
  /** Posts a comment as a user and returns the trigger the action would build from the event. */
  comment(user: FleetUser, body: string, pr?: number): Trigger
  /** Everything a promotion may change, to compare before and after a refusal. */
  snapshot(): Promise<unknown>
  cleanup(): Promise<void>
}

/** The promote action's inputs as a workflow passes them, against this fleet's simulators. */
/** A test file's afterAll: both simulators saw only requests their API descriptions allow, then everything stops. */
export async function endPromoteFleet(fleet: PromoteFleet): Promise<void> {
  expect(fleet.gh.validationErrors).toEqual([])
  expect(fleet.argocd.validationErrors).toEqual([])
  await fleet.cleanup()
}

export function promoteActionInputs(fleet: PromoteFleet): Record<string, string> {
  return {
    token: fleet.gh.adminToken,
    config: 'fleet-promote.yaml',
    'argocd-token': fleet.argocd.token,
    'argocd-poll-seconds': '0.02',
    pr: '',
    target: '',
    noop: 'false',
    'auto-promote': 'false',
    aggregate: 'true',
  }
}

export function fleetConfig(argocdUrl: string, extra = ''): string {
  return [
    'version: 1',
    'environments:',
    '  - glob: clusters/*/*',
    '    name: "{1}-{2}"',
    '    branch: "env/{name}"',
    'stages:',
    '  - name: testing',
    '    match: ["*-test-*"]',
    '  - name: production',
    '    match: ["*-prod-*"]',
    '    requires: [testing]',
    '    approvals: 1',
    '    permission: maintain',
    'promote:',
    '  allowBots: ["trusted[bot]"]',
    'deploy:',
    '  backend: argocd',
    '  argocd:',
    `    server: ${argocdUrl}`,
    '    application: "{name}-addons"',
    '    timeoutSeconds: 2',
    extra,
  ].join('\n')
}

async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true })
    await writeFile(join(dir, path), content)
  }
}

export async function startPromoteFleet(
  options: {
    config?: (argocdUrl: string) => string
    /** Other environments (directories `clusters/<first part>/<rest>`); default ENVIRONMENTS. */
    environments?: readonly { name: string; stage: string }[]
    /** The environments the first parent PR impacts (children and statuses); default all. */
    impacts?: (environment: string) => boolean
    /**
     * Shared WET branches: `env/<stage>` with a folder per environment (the
     * configuration's `branch: "env/{stage}"`, `path: "{name}"`), one child
     * per stage holding every impacted folder, Applications at their folders.
     */
    shared?: boolean
  } = {},
): Promise<PromoteFleet> {
  const environments = options.environments ?? ENVIRONMENTS
  const shared = options.shared ?? false
  /** Where an environment lives on the WET side: its branch and folder ('' for the root). */
  const wetOf = (env: { name: string; stage: string }) =>
    shared
      ? { branch: `env/${env.stage}`, folder: env.name, prefix: `${env.name}/` }
      : { branch: `env/${env.name}`, folder: '', prefix: '' }
  /** The environments rendered onto one branch, by branch. */
  const byBranch = (envs: readonly { name: string; stage: string }[]) => {
    const groups = new Map<string, { name: string; stage: string }[]>()
    for (const env of envs)
      groups.set(wetOf(env).branch, [...(groups.get(wetOf(env).branch) ?? []), env])
    return groups
  }
  const gh = await startGitHubSimulator()
  const argocd = await startArgoCdSimulator()
  await gh.createRepo(FULL_NAME)
  const remote = gh.remoteUrl(FULL_NAME)
  argocd.resolveRevision = (revision) => gh.state.refSha(FULL_NAME, revision) ?? revision
  const admin = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl, retries: 0 })

  const user = (
    login: string,
    role: Role | undefined,
    type: 'User' | 'Bot' = 'User',
  ): FleetUser => {
    const created = gh.addUser(login, { type })
    if (role) gh.setPermission(FULL_NAME, login, role)
    return created
  }
  const users = {
    writer: user('wendy', 'write'),
    maintainer: user('max', 'maintain'),
    reader: user('rita', 'read'),
    triager: user('trish', 'triage'),
    approver: user('april', 'write'),
    other: user('oscar', 'maintain'),
    bot: user('renovate[bot]', 'write', 'Bot'),
  }

  const dir = await mkdtemp(join(tmpdir(), 'promote-fleet-'))
  const work = await Git.clone(remote, dir, { token: gh.adminToken, env: IDENTITY })
  // Every run builds its lock commits in a scratch repository of its own, as each job does.
  const lockDir = await mkdtemp(join(tmpdir(), 'promote-fleet-locks-'))
  let lockRuns = 0
  const lockScratch = () => {
    const scratch = join(lockDir, String(++lockRuns))
    execFileSync('git', ['init', '--quiet', '--bare', scratch])
    return new Git(scratch, { token: gh.adminToken })
  }
  const commitAll = async (message: string) => {
    await work.run(['add', '-A'])
    await work.run(['commit', '--quiet', '--allow-empty', '-m', message])
    return work.revParse('HEAD')
  }
  const config =
    options.config ??
    ((url: string) => {
      const text = fleetConfig(url)
      return shared
        ? text.replace('branch: "env/{name}"', 'branch: "env/{stage}"\n    path: "{name}"')
        : text
    })
  await writeFiles(dir, {
    'fleet-promote.yaml': config(argocd.url),
    ...Object.fromEntries(
      environments.map((env) => {
        const [region, ...rest] = env.name.split('-')
        return [`clusters/${region}/${rest.join('-')}/kustomization.yaml`, 'resources: []\n']
      }),
    ),
  })
  const mainSha = await commitAll('fleet')
  await work.run(['push', '--quiet', 'origin', 'HEAD:refs/heads/main'])

  // WET branches, each with its rendered manifests (one folder each when shared), rendered from main.
  const metadata = `${JSON.stringify({ drySha: mainSha, repoURL: remote })}\n`
  for (const [branch, envs] of byBranch(environments)) {
    await work.run(['checkout', '--quiet', '--orphan', branch])
    await work.run(['rm', '-r', '--quiet', '--cached', '.'])
    await work.run(['clean', '-fdq'])
    await writeFiles(dir, {
      'hydrator.metadata': metadata,
      ...Object.fromEntries(
        envs.flatMap((env): [string, string][] => {
          const { prefix } = wetOf(env)
          return [
            [`${prefix}manifest.yaml`, `# ${env.name}\nversion: 1\n`],
            ...(prefix ? [[`${prefix}hydrator.metadata`, metadata] as [string, string]] : []),
          ]
        }),
      ),
    })
    await commitAll(`render ${branch}`)
  }
  await work.run([
    'push',
    '--quiet',
    'origin',
    ...[...byBranch(environments).keys()].map((b) => `refs/heads/${b}:refs/heads/${b}`),
  ])
  await work.run(['checkout', '--quiet', '-f', 'main'])

  for (const env of environments) {
    const app = `${env.name}-addons`
    if (env.name === MULTI_SOURCE_ENV) {
      await argocd.addApplication({
        name: app,
        repoURL: remote,
        path: '.',
        targetRevision: `env/${env.name}`,
        multiSource: [
          {
            repoURL: 'https://charts.example.com/cert-manager',
            path: 'chart',
            targetRevision: 'v1.16.0',
          },
          { repoURL: remote, path: '.', targetRevision: `env/${env.name}` },
        ],
      })
    } else {
      const wet = wetOf(env)
      await argocd.addApplication({
        name: app,
        repoURL: remote,
        path: wet.folder || '.',
        targetRevision: wet.branch,
      })
    }
  }

  let counter = 0
  const openParent = async (
    branch: string,
    login: string,
    impacts: (environment: string) => boolean = () => true,
  ) => {
    await work.run(['checkout', '--quiet', '-B', branch, 'origin/main'])
    await writeFiles(dir, { [`components/addon-${++counter}.yaml`]: `bump: ${counter}\n` })
    const headSha = await commitAll(`bump ${counter}`)
    await work.run(['push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`])
    await gh.refreshRefs(FULL_NAME)
    const { number } = await gh.openPullRequest(FULL_NAME, {
      head: branch,
      base: 'main',
      title: `Bump ${counter}`,
      user: login,
    })
    const refspecs: string[] = []
    const impacted = environments.filter((e) => impacts(e.name))
    // One child per WET branch: per environment, or per stage holding each folder.
    const unitOf = (branch: string, envs: readonly { name: string }[]) =>
      shared ? branch.replaceAll('/', '-') : envs[0]!.name
    for (const [branch, envs] of byBranch(impacted)) {
      const child = childBranch(number, unitOf(branch, envs))
      await work.run(['checkout', '--quiet', '-B', child, `origin/${branch}`])
      await writeFiles(
        dir,
        Object.fromEntries(
          envs.map((env) => [
            `${wetOf(env).prefix}manifest.yaml`,
            `# ${env.name}\nversion: ${counter + 1}\n`,
          ]),
        ),
      )
      await commitAll(`render ${branch} for #${number}`)
      refspecs.push(`refs/heads/${child}:refs/heads/${child}`)
    }
    if (refspecs.length > 0) await work.run(['push', '--quiet', '--atomic', 'origin', ...refspecs])
    await gh.refreshRefs(FULL_NAME)
    for (const [branch, envs] of byBranch(impacted)) {
      const unit = unitOf(branch, envs)
      const marker = encodeMarker({
        version: 1,
        parent: number,
        environment: unit,
        stage: envs[0]!.stage,
        branch,
        drySha: headSha,
        headSha,
        ...(shared
          ? {
              environments: envs.map((env) => env.name),
              folders: Object.fromEntries(envs.map((env) => [env.name, wetOf(env).folder])),
            }
          : {}),
      })
      await admin.rest.pulls.create({
        ...REPO,
        head: childBranch(number, unit),
        base: branch,
        title: `[${unit}] Bump ${counter} (#${number})`,
        body: `Rendered manifests of ${unit}.\n\n${marker}\n`,
      })
    }
    for (const env of impacted) {
      await admin.rest.repos.createCommitStatus({
        ...REPO,
        sha: headSha,
        context: environmentContext(env.name),
        state: 'pending',
        description: `promote with .promote ${env.stage}`,
      })
    }
    await work.run(['checkout', '--quiet', '-f', branch])
    return { number, headSha }
  }

  const first = await openParent('feature/bump', users.writer.login, options.impacts)
  let commentCounter = 0

  const fleet: PromoteFleet = {
    gh,
    argocd,
    admin,
    users,
    parent: first.number,
    headSha: first.headSha,
    work,
    openParent,
    async moveHead() {
      await work.run(['checkout', '--quiet', '-f', 'feature/bump'])
      await writeFiles(dir, { 'components/late.yaml': `late: ${++commentCounter}\n` })
      const sha = await commitAll('a late change')
      await work.run(['push', '--quiet', 'origin', 'HEAD:refs/heads/feature/bump'])
      await gh.refreshRefs(FULL_NAME)
      return sha
    },
    settings(overrides = {}) {
      return {
        client: admin,
        repo: REPO,
        configFile: 'fleet-promote.yaml',
        locks: { git: lockScratch(), remote },
        serverUrl: gh.serverUrl,
        runUrl: `${gh.serverUrl}/${FULL_NAME}/actions/runs/1`,
        argocd: (server) =>
          createArgoCdClient({ server, token: argocd.token, retries: 1, retryDelayMs: 10 }),
        argocdPollMs: 20,
        aggregate: true,
        log: () => undefined,
        ...overrides,
      }
    },
    comment(user, body, pr = first.number) {
      const { id, event } = gh.comment(FULL_NAME, pr, { user: user.login, body })
      const commentUser = (event.comment as { user: { type: string } }).user
      return {
        kind: 'comment',
        pr,
        commentId: id,
        body,
        actor: { login: user.login, type: commentUser.type },
      }
    },
    async snapshot() {
      const refs = await work.lsRemote(remote)
      return {
        refs: [...refs].filter(([ref]) => !ref.startsWith('refs/pull/')).sort(),
        statuses: gh.state
          .statuses(FULL_NAME)
          .map((s) => [s.sha, s.context, s.state, s.description]),
        deployments: gh.state.deployments(FULL_NAME).map((d) => [d.environment, d.statuses.length]),
        pulls: gh.state.pulls(FULL_NAME).map((p) => [p.number, p.state, p.merged, p.headSha]),
        applications: environments.map((env) => {
          const app = argocd.getApplication(`${env.name}-addons`)
          return [
            env.name,
            app?.spec.source?.targetRevision,
            app?.spec.sources?.map((s) => s.targetRevision),
          ]
        }),
        argocdWrites: argocd.requests.filter((r) => r.method !== 'GET').length,
      }
    },
    async cleanup() {
      await gh.stop()
      await argocd.stop()
      await rm(dir, { recursive: true, force: true })
      await rm(lockDir, { recursive: true, force: true })
    },
  }
  return fleet
}
