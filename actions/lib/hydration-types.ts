// The contract between hydrate (writer) and open-child-prs / merge-cleanup
// (readers): `<output-dir>/hydration.json` plus one directory per environment.

export type HydrationStatus = 'rendered' | 'unchanged' | 'failed' | 'blocked'

export type ResourceChangeKind = 'added' | 'changed' | 'deleted'

export interface ResourceChange {
  change: ResourceChangeKind
  apiVersion: string
  kind: string
  name: string
  /** Empty for cluster-scoped objects. */
  namespace: string
  /** Unified diff of this object's YAML (WET branch → render). */
  diff: string
}

export interface EnvironmentHydration {
  name: string
  path: string
  stage: string
  branch: string
  /** Its folder on the WET branch (a shared branch); absent: the branch root. */
  folder?: string
  status: HydrationStatus
  /** Why it failed or was blocked; ≤ 140 characters fit a commit status. */
  reason?: string
  /** Object counts on the WET branch before and in the new render. */
  resources: { before: number; after: number }
  diff: { added: number; changed: number; deleted: number }
  changes: ResourceChange[]
  /** Directory (relative to the output dir) holding exactly the files to write on the WET branch. */
  outputDir: string
  /** Paths inside outputDir the suite manages; anything else on the WET branch is left alone. */
  files: string[]
  /** Tip of the WET branch the diff was computed against ('' when the branch does not exist yet). */
  baseSha: string
  durationMs: number
}

export interface HydrationResult {
  version: 1
  /** The DRY commit rendered (the PR merge result, or the base branch HEAD after merge). */
  drySha: string
  repoURL: string
  environments: EnvironmentHydration[]
}
