/** Data held by the GitHub simulator. Plain objects: tests read them for assertions. */

export type Role = 'read' | 'triage' | 'write' | 'maintain' | 'admin'

/**
 * What a token is, for the primary rate limit: a user's token, a GitHub App
 * installation token, or a workflow's GITHUB_TOKEN (limited per repository).
 */
export type TokenKind = 'user' | 'installation' | 'github-token'

export interface SimUser {
  id: number
  login: string
  type: 'User' | 'Bot'
  token: string
  /** Default: `installation` for bots, `user` otherwise. */
  tokenKind?: TokenKind
}

export interface SimRepo {
  id: number
  owner: string
  name: string
  fullName: string
  defaultBranch: string
  private: boolean
  /** The bare repository on disk. */
  path: string
  createdAt: string
  /** Explicit collaborator roles; the owner is always admin. */
  permissions: Map<string, Role>
}

export interface SimPullRequest {
  id: number
  number: number
  repo: string
  title: string
  body: string | null
  state: 'open' | 'closed'
  draft: boolean
  user: string
  headRef: string
  headSha: string
  /** `owner/name` of the head repository: the base repository, or a fork of it. */
  headRepo: string
  fromFork: boolean
  baseRef: string
  baseSha: string
  /** null while unknown, false when head does not merge cleanly into base. */
  mergeable: boolean | null
  /** The test-merge commit (refs/pull/N/merge), or the real merge commit once merged. */
  mergeCommitSha: string | null
  merged: boolean
  mergedAt: string | null
  mergedBy: string | null
  closedAt: string | null
  createdAt: string
  updatedAt: string
  /** The head SHA before the most recent synchronize (for the `before` of that event). */
  previousHeadSha: string | null
  /** Diff statistics (merge-base to head), refreshed whenever head or base moves. */
  commits: number
  additions: number
  deletions: number
  changedFiles: number
}

export interface SimIssue {
  id: number
  number: number
  repo: string
  title: string
  body: string | null
  user: string
  state: 'open' | 'closed'
  labels: string[]
  isPullRequest: boolean
  createdAt: string
  updatedAt: string
  closedAt: string | null
}

export interface SimComment {
  id: number
  repo: string
  issueNumber: number
  user: string
  body: string
  createdAt: string
  updatedAt: string
}

export type ReactionContent =
  '+1' | '-1' | 'laugh' | 'confused' | 'heart' | 'hooray' | 'rocket' | 'eyes'

export interface SimReaction {
  id: number
  commentId: number
  user: string
  content: ReactionContent
  createdAt: string
}

export type StatusState = 'error' | 'failure' | 'pending' | 'success'

export interface SimStatus {
  id: number
  repo: string
  sha: string
  state: StatusState
  context: string
  description: string | null
  targetUrl: string | null
  creator: string
  createdAt: string
  updatedAt: string
}

export interface SimCheckRun {
  id: number
  repo: string
  headSha: string
  name: string
  status: 'queued' | 'in_progress' | 'completed' | 'waiting' | 'requested' | 'pending'
  conclusion:
    | 'success'
    | 'failure'
    | 'neutral'
    | 'cancelled'
    | 'skipped'
    | 'timed_out'
    | 'action_required'
    | null
  externalId: string | null
  detailsUrl: string | null
  title: string | null
  summary: string | null
  text: string | null
  startedAt: string
  completedAt: string | null
}

export interface SimLabel {
  id: number
  repo: string
  name: string
  color: string
  description: string | null
}

export interface SimReview {
  id: number
  repo: string
  pullNumber: number
  user: string
  state: 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED' | 'DISMISSED' | 'PENDING'
  body: string
  commitId: string
  submittedAt: string
}

export interface SimDeploymentStatus {
  id: number
  state: 'error' | 'failure' | 'inactive' | 'pending' | 'success' | 'queued' | 'in_progress'
  description: string
  environment: string
  environmentUrl: string
  logUrl: string
  creator: string
  createdAt: string
}

export interface SimDeployment {
  id: number
  repo: string
  ref: string
  sha: string
  task: string
  environment: string
  payload: Record<string, unknown> | string
  description: string | null
  transientEnvironment: boolean
  productionEnvironment: boolean
  creator: string
  createdAt: string
  statuses: SimDeploymentStatus[]
}

export interface SimWorkflowDispatch {
  repo: string
  workflowId: string
  ref: string
  inputs: Record<string, unknown>
  at: string
}

/** One webhook GitHub would have delivered, in order. */
export interface SimEvent {
  name: string
  payload: Record<string, unknown>
}

export interface RequestLogEntry {
  method: string
  /** The request path, query string included. */
  path: string
  /** `METHOD /template`, e.g. `POST /repos/{owner}/{repo}/pulls`; `git` routes for smart-HTTP. */
  route: string
  status: number
  /** The authenticated user, if any. */
  user?: string
  at: number
}

export interface Fault {
  method?: string
  /** Matches the route template (string: exact template or `METHOD template`; RegExp: tested on both the template and the path). */
  route?: string | RegExp
  status?: number
  headers?: Record<string, string>
  body?: unknown
  /** How many matching calls fail (default 1). */
  times?: number
  /** Delay before answering (or before passing through when no status is given). */
  delayMs?: number
  /** Destroy the socket instead of answering. */
  reset?: boolean
  /** Carry the request out, then destroy the socket instead of answering (a lost answer). */
  dropAnswer?: boolean
  /** A 403 like GitHub's secondary rate limit, with a `retry-after` header in seconds. */
  secondaryRateLimit?: { retryAfter: number }
}
