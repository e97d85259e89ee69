import type { SimulatorStateView } from './index.js'
import { refShaSync } from './git-repo.js'
import type {
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
} from './types.js'

const ROLE_RANK: Record<Role, number> = { read: 1, triage: 2, write: 3, maintain: 4, admin: 5 }

export function roleAtLeast(role: Role | undefined, needed: Role): boolean {
  return role !== undefined && ROLE_RANK[role] >= ROLE_RANK[needed]
}

/** GitHub's combined state: failure/error wins, then pending, success only when all succeed. */
export function combineStates(states: readonly StatusState[]): StatusState {
  if (states.length === 0) return 'pending'
  if (states.some((state) => state === 'failure' || state === 'error')) return 'failure'
  if (states.some((state) => state === 'pending')) return 'pending'
  return 'success'
}

/** The simulator's in-memory state; everything but git objects and refs lives here. */
export class Store implements SimulatorStateView {
  readonly users = new Map<string, SimUser>()
  readonly repos = new Map<string, SimRepo>()
  readonly events: SimEvent[] = []
  readonly pullRequests: SimPullRequest[] = []
  readonly issueList: SimIssue[] = []
  readonly commentList: SimComment[] = []
  readonly reactionList: SimReaction[] = []
  readonly statusList: SimStatus[] = []
  readonly checkRunList: SimCheckRun[] = []
  readonly labelList: SimLabel[] = []
  readonly reviewList: SimReview[] = []
  readonly deploymentList: SimDeployment[] = []
  readonly dispatchList: SimWorkflowDispatch[] = []
  /** The owner user: admin on every repository. */
  adminLogin = ''
  /** Primary rate-limit usage per token holder in the current window. */
  readonly rateUsed = new Map<string, number>()
  rateReset = Math.floor(Date.now() / 1000) + 3600
  private lastId = 1000
  private readonly tokens = new Map<string, SimUser>()

  /** Ids are unique across all kinds, like node ids would be. */
  nextId(): number {
    this.lastId += 1
    return this.lastId
  }

  now(): string {
    return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
  }

  addUser(user: SimUser): void {
    this.users.set(user.login, user)
    this.tokens.set(user.token, user)
  }

  userByToken(token: string): SimUser | undefined {
    return this.tokens.get(token)
  }

  user(login: string): SimUser {
    const user = this.users.get(login)
    if (!user) throw new Error(`unknown simulator user ${login}`)
    return user
  }

  repo(fullName: string): SimRepo {
    const repo = this.repos.get(fullName)
    if (!repo) throw new Error(`unknown simulator repository ${fullName}`)
    return repo
  }

  /** The user's role on a repository: owner admin, explicit collaborators, read on public repos. */
  roleOf(repo: SimRepo, login: string | undefined): Role | undefined {
    if (login === undefined) return repo.private ? undefined : 'read'
    if (login === repo.owner || login === this.adminLogin) return 'admin'
    return repo.permissions.get(login) ?? (repo.private ? undefined : 'read')
  }

  /** Issues and pull requests share one number sequence per repository. */
  nextIssueNumber(repo: string): number {
    return this.issueList.filter((issue) => issue.repo === repo).length + 1
  }

  pulls(repo: string): SimPullRequest[] {
    return this.pullRequests.filter((pull) => pull.repo === repo)
  }

  findPull(repo: string, number: number): SimPullRequest | undefined {
    return this.pullRequests.find((pull) => pull.repo === repo && pull.number === number)
  }

  pull(repo: string, number: number): SimPullRequest {
    const pull = this.findPull(repo, number)
    if (!pull) throw new Error(`no pull request ${repo}#${number}`)
    return pull
  }

  issues(repo: string): SimIssue[] {
    return this.issueList.filter((issue) => issue.repo === repo)
  }

  issue(repo: string, number: number): SimIssue | undefined {
    return this.issueList.find((issue) => issue.repo === repo && issue.number === number)
  }

  comments(repo: string, issueNumber?: number): SimComment[] {
    return this.commentList.filter(
      (comment) =>
        comment.repo === repo && (issueNumber === undefined || comment.issueNumber === issueNumber),
    )
  }

  reactions(commentId: number): SimReaction[] {
    return this.reactionList.filter((reaction) => reaction.commentId === commentId)
  }

  statuses(repo: string, sha?: string): SimStatus[] {
    return this.statusList.filter(
      (status) => status.repo === repo && (sha === undefined || status.sha === sha),
    )
  }

  latestStatuses(repo: string, sha: string): SimStatus[] {
    const latest = new Map<string, SimStatus>()
    for (const status of this.statuses(repo, sha)) latest.set(status.context, status)
    return [...latest.values()]
  }

  combinedState(repo: string, sha: string): StatusState {
    return combineStates(this.latestStatuses(repo, sha).map((status) => status.state))
  }

  checkRuns(repo: string, sha?: string): SimCheckRun[] {
    return this.checkRunList.filter(
      (run) => run.repo === repo && (sha === undefined || run.headSha === sha),
    )
  }

  labels(repo: string): SimLabel[] {
    return this.labelList.filter((label) => label.repo === repo)
  }

  reviews(repo: string, pullNumber: number): SimReview[] {
    return this.reviewList.filter(
      (review) => review.repo === repo && review.pullNumber === pullNumber,
    )
  }

  deployments(repo: string): SimDeployment[] {
    return this.deploymentList.filter((deployment) => deployment.repo === repo)
  }

  dispatches(repo: string): SimWorkflowDispatch[] {
    return this.dispatchList.filter((dispatch) => dispatch.repo === repo)
  }

  refSha(repo: string, ref: string): string | undefined {
    return refShaSync(this.repo(repo).path, ref)
  }
}
