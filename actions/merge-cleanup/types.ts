// merge-cleanup's records: its options, what it reports per environment, and
// the run state its steps share.

import type { ArgoCdClient } from '../lib/argocd/client.js'
import type { RestoreOutcome } from '../lib/argocd/restore.js'
import type { DeployBackend, Environment, FleetConfig } from '../lib/config/types.js'
import type { Git } from '../lib/git/git.js'
import type { GitHubClient } from '../lib/github/client.js'
import type { ChildPr } from '../lib/github/pulls.js'
import type { HydrationResult } from '../lib/hydration-types.js'
import type { ReleaseResult } from '../lib/locks.js'
import type { RenderSettings } from '../lib/render/hydrate.js'
import type { RepoRef } from '../lib/statuses.js'

/** Renders environments of a DRY commit checked out in `dryDir` (the hydrate core by default). */
export type Renderer = (input: {
  dryDir: string
  drySha: string
  environments: readonly Environment[]
  outputDir: string
  settings: RenderSettings
  /** Recorded in hydrator.metadata, as hydrate records it (`<server>/<owner>/<repo>`). */
  repoURL: string
}) => Promise<HydrationResult>

export interface MergeCleanupOptions {
  client: GitHubClient
  /** The workspace repository (a checkout of the repository; its HEAD and index are never touched). */
  git: Git
  /** Where branches live: a remote name or URL. */
  remote: string
  repo: RepoRef
  parent: number
  /** Repository-relative configuration file, read from the base branch HEAD. */
  configFile?: string
  /** `https://github.com` (GITHUB_SERVER_URL): the DRY repository URL Argo CD tracks. */
  serverUrl: string
  /** Builds an Argo CD client for a server (absent: no token given). */
  argocd?: (server: string) => ArgoCdClient
  /** Overrides deploy.argocd.server. */
  argocdServer?: string
  /** How often to look at an Application while waiting for it (default 5 s). */
  argocdPollMs?: number
  /** Environments handled at once within a stage, and render processes. */
  parallelism?: number
  /**
   * The pull request workflow (a file under .github/workflows) to dispatch with
   * input `pr` for each other open parent whose children this landing made
   * stale; empty or absent: none is dispatched.
   */
  rerenderWorkflow?: string
  runUrl?: string
  render?: Renderer
  log?: (message: string) => void
}

/** What happened to one environment. */
export type CleanupAction =
  /** The child was merged (now or by an earlier run). */
  | 'merged'
  /** The WET branch already held the render: nothing to merge, the child was closed. */
  | 'current'
  /** Closed without merging (parent closed, or the environment no longer exists). */
  | 'closed'
  /** Left for a human (see `reason`). */
  | 'left'
  /** An error stopped this environment; a re-run finishes it. */
  | 'failed'
  /** Not reached because an earlier stage failed. */
  | 'skipped'

export interface ApplicationReset {
  name: string
  /**
   * reset: pointed back at the WET branch, synced and healthy; synced: it
   * tracked the branch, synced to its new tip; unchanged: nothing to do;
   * kept: it follows another PR's child branch (or a pin), left alone.
   */
  result: RestoreOutcome
  detail: string
}

export interface RepairedApplication extends ApplicationReset {
  environment: string
}

export interface EnvironmentCleanup {
  environment: string
  stage: string
  /** The WET branch. */
  branch: string
  child?: { number: number; url: string }
  action: CleanupAction
  detail: string
  /** True when the child branch was rewritten with the render of the base HEAD before merging. */
  rerendered: boolean
  application?: ApplicationReset
  lock?: ReleaseResult
}

export interface LeftItem {
  environment: string
  reason: string
  child?: number
}

export interface MergeCleanupResult {
  parent: number
  /** merged / closed: what the parent was; open: it was reopened, nothing was done. */
  parentState: 'merged' | 'closed' | 'open'
  /** The base branch commit rendered (merged parents with open children). */
  drySha?: string
  environments: EnvironmentCleanup[]
  merged: string[]
  closed: string[]
  left: LeftItem[]
  /** Locks of the parent released by the final sweep (environments without children). */
  locksReleased: string[]
  /** Applications found on a branch that no longer exists, and what was done about them. */
  repaired: RepairedApplication[]
  commentUrl?: string
  /** Markdown for the job summary. */
  summary: string
  /**
   * An environment failed, or a cluster is left on a branch that no longer
   * exists or is not its own: the step fails so someone re-runs it.
   */
  failed: boolean
}

export interface RunContext {
  options: MergeCleanupOptions
  client: GitHubClient
  git: Git
  repo: RepoRef
  parent: number
  config: FleetConfig
  argocd?: ArgoCdClient
  log: (message: string) => void
  /** Serializes fetches into the workspace (parallel fetches race on a shallow repository's `shallow` file). */
  fetching: Promise<unknown>
  /** Child PRs this run closed: a shared branch's child is listed once per folder, closed once. */
  closed: Set<number>
}

export interface EnvironmentWork {
  name: string
  stage: string
  backend: DeployBackend
  /** The WET branch (from the current configuration, else from the child). */
  branch: string
  /** Undefined when the environment no longer exists on the base branch. */
  environment?: Environment
  child?: ChildPr
  /** Other open children of the same environment (duplicates to close). */
  duplicates: ChildPr[]
  /** Remote branch tips as this run last read or wrote them ('' = no branch), to spare re-reads. */
  tips: Map<string, string>
  /** Its WET branch update in the run's one landing push. */
  landing?: RefUpdate
  /** Left for a human: the child stays open, so do its branches. */
  keepBranches?: boolean
  /** Set once its cluster is back on the WET branch: what the run's last push gives back. */
  release?: 'lock' | 'branches-and-lock'
}

/** One ref of an atomic push, leased on the tip this run read ('' = must not exist). */
export interface RefUpdate {
  ref: string
  /** '' deletes the ref. */
  sha: string
  expect: string
}
