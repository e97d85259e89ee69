/**
 * Runs a JavaScript action the way the GitHub Actions runner does: inputs as
 * INPUT_* variables, the event payload in a file, GITHUB_* context variables,
 * file commands (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_STATE) and
 * workflow-command annotations parsed back from stdout.
 *
 * ```ts
 * const result = await runAction('detect-impact', {
 *   github: gh, eventName: 'pull_request', event, inputs: { token: gh.adminToken },
 *   checkout: {},   // clone refs/pull/N/merge at depth 1, like actions/checkout
 * })
 * expect(result.exitCode).toBe(0)
 * expect(JSON.parse(result.outputs.environments ?? '[]')).toEqual([...])
 * await result.cleanup()
 * ```
 */
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { runChecked, runProcess } from '../../actions/lib/process.js'
import type { GitHubSimulator } from './github/index.js'

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

export interface CheckoutOptions {
  /** Ref or SHA to check out; defaults like actions/checkout: the event's ref (refs/pull/N/merge for pull_request). */
  ref?: string
  /** Fetch depth (default 1, as actions/checkout; 0 = full history). */
  depth?: number
  /** Repository to clone (default: GITHUB_REPOSITORY). */
  repository?: string
  /** Token for the clone (default: the simulator's admin token). */
  token?: string
  /** Keep the token in the workspace's git config, as actions/checkout does by default (default true). */
  persistCredentials?: boolean
}

export interface RunActionOptions {
  /** Action inputs, by their action.yml names. */
  inputs?: Record<string, string | number | boolean | undefined>
  /** Webhook payload written to GITHUB_EVENT_PATH (default `{}`). */
  event?: Record<string, unknown>
  /** GITHUB_EVENT_NAME (default `push`). */
  eventName?: string
  /** The simulator providing GITHUB_API_URL, GITHUB_SERVER_URL and the clone for `checkout`. */
  github?: GitHubSimulator
  /** `owner/name` (default: the event's repository.full_name). */
  repository?: string
  /** GITHUB_SHA and GITHUB_REF (default: derived from the event as the runner does). */
  sha?: string
  ref?: string
  /** GITHUB_ACTOR (default: the event's sender). */
  actor?: string
  /** Use this directory as GITHUB_WORKSPACE (it may be combined with `checkout`, which then clones into it). */
  workspace?: string
  /** Make the workspace like actions/checkout does. */
  checkout?: CheckoutOptions
  /** Extra environment (undefined removes a variable). */
  env?: Record<string, string | undefined>
  /** Directory holding `<name>/index.js` (default: the repository's dist/). */
  distDir?: string
  /** Run this script instead of `<distDir>/<name>/index.js` (e.g. a throwaway test action). */
  script?: string
  timeoutMs?: number
}

export interface Annotation {
  level: 'error' | 'warning' | 'notice'
  message: string
  file?: string
  line?: number
  endLine?: number
  col?: number
  title?: string
}

export interface RunActionResult {
  exitCode: number
  outputs: Record<string, string>
  /** Everything the action appended to GITHUB_STEP_SUMMARY. */
  summary: string
  annotations: Annotation[]
  /** Values saved with GITHUB_STATE (for a post step). */
  state: Record<string, string>
  stdout: string
  stderr: string
  workspace: string
  /** Removes the run's temporary files (and the workspace, when the harness created it). */
  cleanup(): Promise<void>
}

/** `INPUT_<NAME>`: spaces become underscores, upper-cased, hyphens kept (as the runner does). */
export function inputVariable(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`
}

/** Parses a file-command file: `name=value` lines and `name<<DELIMITER` heredocs. */
export function parseFileCommand(content: string): Record<string, string> {
  const values: Record<string, string> = {}
  const lines = content.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? ''
    if (line === '') continue
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line)
    if (heredoc) {
      const [, name = '', delimiter = ''] = heredoc
      const body: string[] = []
      i++
      while (i < lines.length && lines[i] !== delimiter) body.push(lines[i++] ?? '')
      if (i >= lines.length)
        throw new Error(`file command: missing delimiter ${delimiter} for ${name}`)
      values[name] = body.join('\n')
      continue
    }
    const equals = line.indexOf('=')
    if (equals === -1) throw new Error(`file command: cannot parse line ${JSON.stringify(line)}`)
    values[line.slice(0, equals)] = line.slice(equals + 1)
  }
  return values
}

function unescapeData(value: string): string {
  return value.replace(/%0D/gi, '\r').replace(/%0A/gi, '\n').replace(/%25/g, '%')
}

function unescapeProperty(value: string): string {
  return unescapeData(value).replace(/%3A/gi, ':').replace(/%2C/gi, ',')
}

/** Parses `::error file=a.yaml,line=3::message` (and warning/notice) workflow commands. */
export function parseAnnotations(stdout: string): Annotation[] {
  const annotations: Annotation[] = []
  for (const line of stdout.split(/\r?\n/)) {
    const match = /^::(error|warning|notice)(?: ([^:]*))?::(.*)$/.exec(line)
    if (!match) continue
    const [, level = 'error', properties = '', message = ''] = match
    const annotation: Annotation = {
      level: level as Annotation['level'],
      message: unescapeData(message),
    }
    for (const property of properties.split(',').filter(Boolean)) {
      const equals = property.indexOf('=')
      const key = property.slice(0, equals).trim()
      const value = unescapeProperty(property.slice(equals + 1))
      if (key === 'file' || key === 'title') annotation[key] = value
      else if (key === 'line' || key === 'endLine' || key === 'col') annotation[key] = Number(value)
    }
    annotations.push(annotation)
  }
  return annotations
}

/** Deprecated `::set-output name=x::value` commands, still honoured by the runner. */
function parseSetOutput(stdout: string): Record<string, string> {
  const outputs: Record<string, string> = {}
  for (const line of stdout.split(/\r?\n/)) {
    const match = /^::set-output name=([^:]+)::(.*)$/.exec(line)
    if (match) outputs[unescapeProperty(match[1] ?? '')] = unescapeData(match[2] ?? '')
  }
  return outputs
}

interface EventShape {
  repository?: { full_name?: string; default_branch?: string; owner?: { login?: string } }
  sender?: { login?: string }
  pull_request?: {
    number?: number
    merge_commit_sha?: string | null
    base?: { ref?: string; sha?: string }
  }
  ref?: string
  after?: string
}

/** GITHUB_REF and GITHUB_SHA as the runner sets them for each trigger. */
function contextRefs(
  eventName: string,
  event: EventShape,
  gh: GitHubSimulator | undefined,
  repo: string,
) {
  const refSha = (ref: string) =>
    gh && gh.state.repos.has(repo) ? gh.state.refSha(repo, ref) : undefined
  const defaultRef = `refs/heads/${event.repository?.default_branch ?? 'main'}`
  const pull = event.pull_request
  switch (eventName) {
    case 'pull_request': {
      const ref = `refs/pull/${pull?.number ?? 0}/merge`
      return { ref, sha: refSha(ref) ?? pull?.merge_commit_sha ?? '' }
    }
    case 'pull_request_target': {
      const ref = `refs/heads/${pull?.base?.ref ?? 'main'}`
      return { ref, sha: refSha(ref) ?? pull?.base?.sha ?? '' }
    }
    case 'push':
      return {
        ref: event.ref ?? defaultRef,
        sha: event.after ?? refSha(event.ref ?? defaultRef) ?? '',
      }
    case 'workflow_dispatch': {
      const ref = event.ref ?? defaultRef
      return { ref, sha: refSha(ref) ?? '' }
    }
    default:
      return { ref: defaultRef, sha: refSha(defaultRef) ?? '' }
  }
}

function gitEnvWithToken(token: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.extraHeader',
    GIT_CONFIG_VALUE_0: `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`,
  }
}

/** What actions/checkout does: init, fetch one ref at a depth, check it out detached, persist the credential. */
async function checkoutWorkspace(
  workspace: string,
  gh: GitHubSimulator,
  repo: string,
  ref: string,
  sha: string,
  options: CheckoutOptions,
) {
  const token = options.token ?? gh.adminToken
  const env = gitEnvWithToken(token)
  const git = (args: string[]) => runChecked('git', args, { cwd: workspace, env })
  const url = gh.remoteUrl(options.repository ?? repo)
  await git(['init', '--quiet', workspace])
  await git(['remote', 'add', 'origin', url])
  const target = options.ref ?? (sha || ref)
  const depth = options.depth ?? 1
  const depthArgs = depth > 0 ? [`--depth=${depth}`] : []
  let fetchSpec: string
  if (/^[0-9a-f]{40}$/.test(target)) fetchSpec = `+${target}:refs/remotes/origin/checkout`
  else if (target.startsWith('refs/pull/'))
    fetchSpec = `+${target}:refs/remotes/pull/${target.split('/')[2]}/${target.split('/')[3]}`
  else if (target.startsWith('refs/heads/'))
    fetchSpec = `+${target}:refs/remotes/origin/${target.slice('refs/heads/'.length)}`
  else if (target.startsWith('refs/')) fetchSpec = `+${target}:${target}`
  else fetchSpec = `+refs/heads/${target}:refs/remotes/origin/${target}`
  await git([
    '-c',
    'protocol.version=2',
    'fetch',
    '--no-tags',
    '--prune',
    '--quiet',
    ...depthArgs,
    'origin',
    fetchSpec,
  ])
  await git(['checkout', '--quiet', '--detach', 'FETCH_HEAD'])
  if (options.persistCredentials ?? true) {
    const header = `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`
    await git(['config', '--local', `http.${gh.serverUrl}/.extraheader`, header])
  }
}

/** Variables a developer's shell or CI might hold that must not leak into the simulated runner. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(GITHUB_|INPUT_|RUNNER_|ACTIONS_|STATE_)/.test(key)) continue
    env[key] = value
  }
  return env
}

/**
 * The defaults the runner fills in from action.yml for inputs a workflow does
 * not set (expression defaults such as `${{ github.token }}` are left out:
 * the demo passes tokens explicitly).
 */
export async function actionDefaults(name: string): Promise<Record<string, string>> {
  const metadata = parse(
    await readFile(join(REPO_ROOT, 'actions', name, 'action.yml'), 'utf8'),
  ) as {
    inputs?: Record<string, { default?: string | number | boolean }>
  }
  const defaults: Record<string, string> = {}
  for (const [input, spec] of Object.entries(metadata.inputs ?? {})) {
    if (spec.default === undefined || String(spec.default).includes('${{')) continue
    defaults[input] = String(spec.default)
  }
  return defaults
}

export async function runAction(
  name: string,
  options: RunActionOptions = {},
): Promise<RunActionResult> {
  const runDir = await mkdtemp(join(tmpdir(), 'fleet-runner-'))
  const runnerTemp = join(runDir, '_temp')
  await mkdir(runnerTemp, { recursive: true })
  const event = (options.event ?? {}) as EventShape
  const eventName = options.eventName ?? 'push'
  const gh = options.github
  const repository = options.repository ?? event.repository?.full_name ?? 'owner/repo'
  const derived = contextRefs(eventName, event, gh, repository)
  const ref = options.ref ?? derived.ref
  const sha = options.sha ?? derived.sha

  const workspace = options.workspace ?? join(runDir, 'workspace')
  await mkdir(workspace, { recursive: true })
  if (options.checkout) {
    if (!gh) throw new Error('runAction: checkout needs the `github` simulator')
    await checkoutWorkspace(workspace, gh, repository, ref, sha, options.checkout)
  }

  const files = {
    event: join(runnerTemp, '_github_workflow', 'event.json'),
    output: join(runnerTemp, '_runner_file_commands', 'set_output'),
    summary: join(runnerTemp, '_runner_file_commands', 'step_summary'),
    state: join(runnerTemp, '_runner_file_commands', 'save_state'),
    env: join(runnerTemp, '_runner_file_commands', 'set_env'),
    path: join(runnerTemp, '_runner_file_commands', 'add_path'),
  }
  await mkdir(dirname(files.event), { recursive: true })
  await mkdir(dirname(files.output), { recursive: true })
  await writeFile(files.event, JSON.stringify(event, null, 2))
  for (const file of [files.output, files.summary, files.state, files.env, files.path])
    await writeFile(file, '')

  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_EVENT_NAME: eventName,
    GITHUB_EVENT_PATH: files.event,
    GITHUB_REPOSITORY: repository,
    GITHUB_REPOSITORY_OWNER: repository.split('/')[0] ?? '',
    GITHUB_SHA: sha,
    GITHUB_REF: ref,
    GITHUB_REF_NAME: ref
      .replace(/^refs\/(heads|tags)\//, '')
      .replace(/^refs\/pull\/(\d+)\/merge$/, '$1/merge'),
    GITHUB_REF_TYPE: ref.startsWith('refs/tags/') ? 'tag' : 'branch',
    GITHUB_WORKSPACE: workspace,
    GITHUB_OUTPUT: files.output,
    GITHUB_STEP_SUMMARY: files.summary,
    GITHUB_STATE: files.state,
    GITHUB_ENV: files.env,
    GITHUB_PATH: files.path,
    GITHUB_ACTOR: options.actor ?? event.sender?.login ?? 'fleet-admin',
    GITHUB_RUN_ID: String(1000 + Math.floor(Math.random() * 1_000_000)),
    GITHUB_RUN_NUMBER: '1',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_JOB: 'test',
    GITHUB_WORKFLOW: 'fleet-promote',
    GITHUB_ACTION: name,
    RUNNER_TEMP: runnerTemp,
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: 'X64',
    RUNNER_NAME: 'simulated-runner',
    ...(gh
      ? {
          GITHUB_API_URL: gh.apiUrl,
          GITHUB_SERVER_URL: gh.serverUrl,
          GITHUB_GRAPHQL_URL: `${gh.apiUrl}/graphql`,
        }
      : {}),
  }
  if (eventName === 'pull_request' || eventName === 'pull_request_target') {
    env.GITHUB_HEAD_REF = String(
      (options.event?.pull_request as { head?: { ref?: string } } | undefined)?.head?.ref ?? '',
    )
    env.GITHUB_BASE_REF = event.pull_request?.base?.ref ?? ''
  }
  for (const [key, value] of Object.entries(options.inputs ?? {})) {
    if (value !== undefined) env[inputVariable(key)] = String(value)
  }
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key]
    else env[key] = value
  }

  const script =
    options.script ?? join(options.distDir ?? join(REPO_ROOT, 'dist'), name, 'index.js')
  if (!existsSync(script))
    throw new Error(`runAction: ${script} does not exist (run the bundle first)`)
  const result = await runProcess(process.execPath, [script], {
    cwd: workspace,
    env,
    timeoutMs: options.timeoutMs ?? 120_000,
  })

  const outputs = {
    ...parseSetOutput(result.stdout),
    ...parseFileCommand(await readFile(files.output, 'utf8')),
  }
  const state = parseFileCommand(await readFile(files.state, 'utf8'))
  return {
    exitCode: result.code,
    outputs,
    summary: await readFile(files.summary, 'utf8'),
    annotations: parseAnnotations(result.stdout),
    state,
    stdout: result.stdout,
    stderr: result.stderr,
    workspace,
    cleanup: () => rm(runDir, { recursive: true, force: true }),
  }
}
