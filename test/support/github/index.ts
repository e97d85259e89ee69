/**
 * GitHub simulator for tests: REST (GHES-style `/api/v3` prefix), git
 * smart-HTTP over real bare repositories, webhook payloads built from state,
 * fault injection, a request log, and OpenAPI validation of everything it sends.
 *
 * ```ts
 * const gh = await startGitHubSimulator()
 * await gh.createRepo('acme/fleet')
 * const octokit = createGitHubClient(gh.adminToken, { baseUrl: gh.apiUrl })
 * // … push with git to gh.remoteUrl('acme/fleet'), call the API, then:
 * expect(gh.validationErrors).toEqual([])
 * await gh.stop()
 * ```
 */
import type {
  Fault,
  RequestLogEntry,
  Role,
  SimCheckRun,
  SimComment,
  SimDeployment,
  SimEvent,
  SimIssue,
  SimLabel,
  SimPullRequest,
  SimReaction,
  SimRepo,
  SimReview,
  SimStatus,
  SimUser,
  SimWorkflowDispatch,
  StatusState,
  TokenKind,
} from './types.js'
import type { RateLimiter, RateLimitOptions } from './rate-limits.js'
import { createSimulator } from './simulator.js'

export type * from './types.js'
export type { RateLimitOptions, RateLimitRefusal } from './rate-limits.js'
export { GITHUB_RATE_LIMITS } from './rate-limits.js'

/**
 * Whether a logged request changed anything on GitHub. Git fetches are reads,
 * and so is every GraphQL call: the simulator answers only the `viewer` query.
 */
export function isWrite(entry: RequestLogEntry): boolean {
  return (
    entry.method !== 'GET' &&
    entry.method !== 'HEAD' &&
    entry.route !== 'POST /api/graphql' &&
    !entry.route.includes('git-upload-pack')
  )
}

export interface SimulatorOptions {
  /** Validate every JSON response and event payload against GitHub's OpenAPI descriptions (default true). */
  validate?: boolean
  /**
   * Enforce GitHub's documented rate limits (primary per token kind, secondary),
   * on a clock running `clockScale` times faster than real time. Off by default.
   */
  rateLimits?: RateLimitOptions
  /**
   * When an open pull request's test merge (refs/pull/N/merge) follows a push to
   * its base branch. `eager` (default): at once. `on-read`: as GitHub does it,
   * only once the pull request is read (GET /pulls/N starts a background job):
   * until then the ref keeps the old test merge and `mergeable` is null, and
   * that first read still answers null; the next one has the new test merge.
   */
  testMerges?: 'eager' | 'on-read'
}

/** Typed read access to the simulator's state, for assertions. */
export interface SimulatorStateView {
  readonly users: ReadonlyMap<string, SimUser>
  readonly repos: ReadonlyMap<string, SimRepo>
  /** Every webhook GitHub would have delivered so far (human actions and pushes), in order. */
  readonly events: readonly SimEvent[]
  pulls(repo: string): SimPullRequest[]
  /** Throws when the pull request does not exist. */
  pull(repo: string, number: number): SimPullRequest
  issues(repo: string): SimIssue[]
  issue(repo: string, number: number): SimIssue | undefined
  comments(repo: string, issueNumber?: number): SimComment[]
  reactions(commentId: number): SimReaction[]
  /** Every status ever posted (oldest first), optionally for one SHA. */
  statuses(repo: string, sha?: string): SimStatus[]
  /** The latest status per context for a SHA. */
  latestStatuses(repo: string, sha: string): SimStatus[]
  /** GitHub's combined state for a SHA (`pending` when there is no status). */
  combinedState(repo: string, sha: string): StatusState
  checkRuns(repo: string, sha?: string): SimCheckRun[]
  labels(repo: string): SimLabel[]
  reviews(repo: string, pullNumber: number): SimReview[]
  deployments(repo: string): SimDeployment[]
  dispatches(repo: string): SimWorkflowDispatch[]
  /** The SHA a ref points to in the bare repository (`main`, `refs/heads/main`, `refs/pull/1/merge`…). */
  refSha(repo: string, ref: string): string | undefined
}

export interface OpenPullRequestOptions {
  head: string
  base: string
  title: string
  body?: string
  user: string
  draft?: boolean
  /** The head lives in a fork (`<user>/<name>`); its commits must still be pushed to the base repository's head branch. */
  fromFork?: boolean
}

export interface GitHubSimulator {
  /** `http://127.0.0.1:PORT` (GITHUB_SERVER_URL). */
  readonly serverUrl: string
  /** `http://127.0.0.1:PORT/api/v3` (GITHUB_API_URL). */
  readonly apiUrl: string
  /** Token of the owner user, admin everywhere. */
  readonly adminToken: string
  /** Login of the owner user. */
  readonly adminLogin: string

  /** Creates a real bare repository with one initial commit on the default branch (README.md). */
  createRepo(fullName: string, opts?: { defaultBranch?: string; private?: boolean }): Promise<void>
  /** The bare repository directory; tests may run git directly on it (call `refreshRefs` afterwards). */
  repoPath(fullName: string): string
  /** `${serverUrl}/${fullName}.git` */
  remoteUrl(fullName: string): string
  /**
   * Re-reads branch heads after a test changed the bare repository directly:
   * moves PR heads (recording synchronize events) and rebuilds refs/pull/N/{head,merge}.
   */
  refreshRefs(fullName: string): Promise<void>
  /** `tokenKind` decides the primary rate limit of the user's token (see `rateLimits`). */
  addUser(
    login: string,
    opts?: { type?: 'User' | 'Bot'; tokenKind?: TokenKind },
  ): { login: string; token: string }
  setPermission(fullName: string, login: string, role: Role): void

  // Actions a human does on GitHub: they change state and return the webhook payload GitHub would send.
  openPullRequest(
    fullName: string,
    opts: OpenPullRequestOptions,
  ): Promise<{ number: number; event: Record<string, unknown> }>
  pullRequestEvent(
    fullName: string,
    number: number,
    action: 'opened' | 'synchronize' | 'closed' | 'reopened',
  ): Record<string, unknown>
  /** Creates an issue comment and returns its id and the `issue_comment` `created` payload. */
  comment(
    fullName: string,
    issueNumber: number,
    opts: { user: string; body: string },
  ): { id: number; event: Record<string, unknown> }
  review(
    fullName: string,
    number: number,
    opts: {
      user: string
      state: 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED'
      commitId?: string
      body?: string
    },
  ): void
  /** Merges like the merge button (merge commit on the base branch) and returns the `closed` payload. */
  mergePullRequestAsUser(
    fullName: string,
    number: number,
    user: string,
  ): Promise<Record<string, unknown>>
  closePullRequestAsUser(
    fullName: string,
    number: number,
    user: string,
  ): Promise<Record<string, unknown>>
  reopenPullRequestAsUser(
    fullName: string,
    number: number,
    user: string,
  ): Promise<Record<string, unknown>>
  /** The `status` payload for the latest status of `context` on `sha`. */
  statusEvent(fullName: string, sha: string, context: string): Record<string, unknown>
  /** `workflow` defaults to `.github/workflows/fleet-promote.yml`. */
  workflowDispatchEvent(
    fullName: string,
    ref: string,
    inputs?: Record<string, unknown>,
    workflow?: string,
  ): Record<string, unknown>
  /** A `push` payload for a ref update. */
  pushEvent(fullName: string, ref: string, before: string, after: string): Record<string, unknown>

  // Inspection.
  readonly state: SimulatorStateView
  readonly requests: RequestLogEntry[]
  /** Calls per route, keyed like `POST /repos/{owner}/{repo}/pulls` (git: `GET /{owner}/{repo}.git/info/refs`, `POST /{owner}/{repo}.git/git-upload-pack`…). */
  routeCounts(): Record<string, number>
  resetRequests(): void
  readonly faults: { add(fault: Fault): void; clear(): void; readonly pending: readonly Fault[] }
  /** Every OpenAPI mismatch seen in a response or an event payload; tests assert it is empty. */
  readonly validationErrors: string[]
  /** The rate limits and their clock, when started with `rateLimits`. */
  readonly rateLimits: RateLimiter | undefined
  stop(): Promise<void>
}

/** Starts a simulator on 127.0.0.1 (random port) with an owner user holding `adminToken`. */
export async function startGitHubSimulator(
  options: SimulatorOptions = {},
): Promise<GitHubSimulator> {
  return createSimulator({
    validate: options.validate ?? true,
    ...(options.rateLimits ? { rateLimits: options.rateLimits } : {}),
    testMerges: options.testMerges ?? 'eager',
  })
}
