// The one place statuses are read and written, in both modes (`statuses:`
// in fleet-promote.yaml; the pure rules are in ../status-board.ts).
//
// readStatuses gives every reader the same Map<context, CommitStatus>: in
// per-environment mode the commit statuses (one read, as before); in
// per-stage mode those plus every stage board's entries (one more read: the
// head's check runs). StatusWriter takes each writer's per-environment
// changes: per-environment mode posts each one that changes what GitHub
// shows, at once; per-stage mode keeps them until `flush`, which re-reads the
// boards, decides the check-run writes (one per stage whose entries change,
// none when nothing does) and makes them.

import {
  boardsOf,
  combineStatuses,
  planBoardWrites,
  routeOf,
  type CheckRunLike,
  type CheckRunWrite,
  type StageBoard,
  type StatusesMode,
} from '../status-board.js'
import {
  PIPELINE_CONTEXT,
  sameStatus,
  statusDescription,
  STATUS_CONTEXT_PREFIX,
  type CommitStatus,
  type RepoRef,
} from '../statuses.js'
import type { GitHubClient } from './client.js'
import { latestStatuses, setStatus } from './statuses.js'

/**
 * The statuses of a commit as every reader sees them. `auto` (aggregate-status,
 * which has no configuration) reads the boards too: any present are the suite's.
 */
export async function readStatuses(
  client: GitHubClient,
  repo: RepoRef,
  sha: string,
  mode: StatusesMode | 'auto',
): Promise<Map<string, CommitStatus>> {
  if (mode === 'per-environment') return latestStatuses(client, repo, sha)
  const [commit, boards] = await Promise.all([
    latestStatuses(client, repo, sha),
    readBoards(client, repo, sha),
  ])
  return combineStatuses(commit, boards)
}

/**
 * Every stage board on a commit (one paginated listing of its check runs).
 * `filter: all`: GitHub's default keeps the "latest" run per name by
 * `completed_at`, which could prefer a completed board over the newer,
 * reopened one still in progress; the highest id is the newest (boardsOf).
 */
export async function readBoards(
  client: GitHubClient,
  repo: RepoRef,
  sha: string,
): Promise<Map<string, StageBoard>> {
  const runs: CheckRunLike[] = []
  for await (const page of client.paginate.iterator(client.rest.checks.listForRef, {
    ...repo,
    ref: sha,
    filter: 'all',
    per_page: 100,
  })) {
    runs.push(...(page.data as unknown as CheckRunLike[]))
  }
  return boardsOf(runs)
}

export interface StatusWriterOptions {
  mode: StatusesMode
  /** The environment's stage (undefined: one no stage has, written as a commit status). */
  stageOf: (environment: string) => string | undefined
  /** The statuses read for this commit (readStatuses); kept up to date as changes arrive. */
  current: Map<string, CommitStatus>
  /** The run whose job summary a cut board summary links. */
  runUrl?: string
}

export class StatusWriter {
  private readonly pending = new Map<string, Map<string, CommitStatus>>()

  constructor(
    private readonly client: GitHubClient,
    private readonly repo: RepoRef,
    private readonly sha: string,
    private readonly options: StatusWriterOptions,
  ) {}

  /** What GitHub shows (or will, after `flush`) for every context. */
  get shown(): ReadonlyMap<string, CommitStatus> {
    return this.options.current
  }

  /** Hands over changes; each that would not change what its context shows is dropped. */
  async set(statuses: readonly CommitStatus[]): Promise<void> {
    const { current } = this.options
    for (const status of statuses) {
      const before = current.get(status.context)
      if (sameStatus(before, status)) continue
      const environment = status.context.slice(STATUS_CONTEXT_PREFIX.length)
      const route = routeOf(this.options.mode, before, this.options.stageOf(environment))
      const shown = { ...status, description: statusDescription(status.description) }
      if (route === 'commit-status') {
        await setStatus(this.client, this.repo, this.sha, status)
        current.set(status.context, shown)
        continue
      }
      const stage = this.pending.get(route.board) ?? new Map<string, CommitStatus>()
      stage.set(environment, shown)
      this.pending.set(route.board, stage)
      current.set(status.context, { ...shown, board: route.board })
    }
  }

  /** Writes the boards the changes since the last flush touch; the number of check-run writes. */
  async flush(): Promise<number> {
    if (this.pending.size === 0) return 0
    const writes = planBoardWrites({
      boards: await readBoards(this.client, this.repo, this.sha),
      changes: this.pending,
      external: this.external(),
      ...(this.options.runUrl ? { runUrl: this.options.runUrl } : {}),
    })
    for (const write of writes) await this.write(write)
    this.pending.clear()
    return writes.length
  }

  /** By stage, the environments whose state a commit status (an external CD's) holds. */
  private external(): Map<string, string[]> {
    const external = new Map<string, string[]>()
    for (const [context, status] of this.options.current) {
      if (status.board !== undefined || context === PIPELINE_CONTEXT) continue
      if (!context.startsWith(STATUS_CONTEXT_PREFIX)) continue
      const environment = context.slice(STATUS_CONTEXT_PREFIX.length)
      const stage = this.options.stageOf(environment)
      if (stage !== undefined) external.set(stage, [...(external.get(stage) ?? []), environment])
    }
    return external
  }

  private async write(write: CheckRunWrite): Promise<void> {
    const body = {
      ...this.repo,
      name: write.name,
      status: write.status,
      ...(write.conclusion ? { conclusion: write.conclusion } : {}),
      ...(this.options.runUrl ? { details_url: this.options.runUrl } : {}),
      output: write.output,
    }
    if (write.checkRunId === undefined)
      await this.client.rest.checks.create({ ...body, head_sha: this.sha })
    else await this.client.rest.checks.update({ ...body, check_run_id: write.checkRunId })
  }
}
