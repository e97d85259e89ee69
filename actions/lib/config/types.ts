// The normalized configuration every action works from (fleet-promote.yaml
// after validation and defaults). actions/lib/config/config.ts loads and validates it.

export type Permission = 'write' | 'maintain' | 'admin'
export type DeployBackend = 'argocd' | 'merge' | 'external'
export type WaveMode = 'auto' | 'manual'
/** How promote records GitHub deployments: `auto` is per environment for small stages, per stage above. */
export type DeploymentsMode = 'auto' | 'per-environment' | 'per-stage' | 'off'
/** Where the per-environment states live on the parent head: a commit status each, or one check run per stage. */
export type StatusesMode = 'per-environment' | 'per-stage'

export interface EnvironmentRule {
  /** Directory glob relative to the repository root, e.g. `clusters/*\/*`. */
  glob: string
  /** Name template: `{1}`, `{2}`… are the glob's `*` captures, `{path}` the directory. */
  name: string
  /** WET branch template: `{name}` and the captures, e.g. `env/{name}`. */
  branch: string
  /**
   * WET folder template (same placeholders as `branch`): the environment's
   * files go in this folder of its branch; absent: the branch root.
   */
  path?: string
  /** Directory globs to leave out. */
  exclude: string[]
  /** Line of the rule in the configuration file, for error messages (absent for defaults). */
  line?: number
}

export interface StageConfig {
  name: string
  /** Environment-name globs that belong to this stage (first matching stage wins). */
  match: string[]
  /** Stages that must have succeeded on the same SHA before this one. */
  requires: string[]
  /** Deploy as soon as child PRs exist, without a `.promote` command. */
  autoPromote: boolean
  /** Approving reviews on the pinned head SHA required to promote. */
  approvals: number
  /** Minimum repository role of the commenter for this stage (defaults to promote.permission). */
  permission: Permission
  /** Deploy backend for this stage (defaults to deploy.backend). */
  backend: DeployBackend
  /** Its environments are production: the GitHub deployments' `production_environment`. */
  production: boolean
  /**
   * Environment-name globs, one per wave, in deploy order; environments
   * matching none form a last wave. Empty: the stage is one wave.
   */
  waves: string[]
  /** `auto`: one command runs every wave in order; `manual`: one wave per command. */
  waveMode: WaveMode
  /** Most environments of this stage deploying at once (absent: the action's default). */
  maxParallel?: number
  /** Seconds an environment must stay Synced and Healthy at the deployed commit before it counts as succeeded (argocd; 0: none). */
  bakeSeconds: number
  /** Checks an environment must pass, after its bake, before it counts as succeeded (argocd). */
  verify: VerifyConfig
  /** Stop the stage at its first failed environment (false: go on, up to `maxFailures`). */
  failFast: boolean
  /** With `failFast: false`: the stage stops once this many environments failed (absent: never). */
  maxFailures?: number
  /** Put a failed environment's Application back on its WET branch (argocd). */
  rollback: boolean
}

export interface VerifyConfig {
  http: HttpCheck[]
  prometheus: PrometheusCheck[]
}

export interface HttpCheck {
  /** Shown in statuses and the reply. */
  name: string
  /** URL template: `{name}` is the environment name (URL-encoded). */
  url: string
  /** Expected HTTP status. */
  status: number
  /** Dotted path into the JSON body whose value must equal `equals`. */
  field?: string
  equals?: string | number | boolean
  /** Environment variable of the promote step holding a bearer token (a workflow secret). */
  tokenEnv?: string
}

export interface PrometheusCheck {
  name: string
  /** Prometheus base URL template (`{name}`): the query goes to `<url>/api/v1/query`. */
  url: string
  /** PromQL template: `{name}` is the environment name, escaped for a quoted string. */
  query: string
  /** What every sample must satisfy: `< 0.01`, `>= 1`, `== 0`… */
  condition: string
  /** How many evaluations must pass, `intervalSeconds` apart. */
  times: number
  intervalSeconds: number
  tokenEnv?: string
}

export interface ImpactRule {
  /** Repository-path globs. */
  paths: string[]
  /** Environment-name globs impacted when any path matches (`*` = all). */
  environments: string[]
}

export interface DeletionGuardConfig {
  maxDeleted: number
  maxDeletedPercent: number
  protectedKinds: string[]
}

export interface HydrateConfig {
  layout: 'manifest' | 'per-resource'
  helm: {
    enabled: boolean
    /** Chart repository URLs (http(s):// or oci://) charts may come from. */
    allowedRepos: string[]
  }
  /** Remote kustomize bases allowed (URL prefixes); they must also pin a 40-hex ref. */
  remoteBases: string[]
  deletionGuard: DeletionGuardConfig
  /** Per-environment limits. */
  timeoutSeconds: number
  maxOutputBytes: number
  /** Address space limit of each kustomize and helm process (RLIMIT_AS). */
  maxMemoryMegabytes: number
  /** `required`: render only inside the bubblewrap sandbox; `off`: render without one. */
  sandbox: 'required' | 'off'
}

export interface PromoteConfig {
  command: string
  permission: Permission
  allowForks: boolean
  /** Bot logins (e.g. `renovate[bot]`) allowed to run commands. */
  allowBots: string[]
  /**
   * A required stage the PR does not impact: `wet-branches` checks that its
   * WET branches run the PR's DRY commit or an ancestor; `pull-request`
   * counts it as satisfied.
   */
  requiredStages: 'wet-branches' | 'pull-request'
}

export interface ArgoCdConfig {
  server: string
  /** Application name template (`{name}`, `{stage}`). */
  application: string
  /** Seconds to wait for Synced + Healthy. */
  timeoutSeconds: number
  insecure: boolean
}

export interface DeployConfig {
  backend: DeployBackend
  /** GitHub deployments: one per environment, one per stage, or none. */
  deployments: DeploymentsMode
  argocd: ArgoCdConfig
  /** Name of the external system, for `external` statuses ("waiting for Kargo"). */
  external: { system: string }
}

export interface MergeConfig {
  /** Merge children of environments that were never promoted when the parent merges. */
  mergeUnpromoted: boolean
}

export interface ReportConfig {
  /** Lowest acceptable version per chart, with the reason (a CVE, …). */
  minimumVersions: { chart: string; version: string; reason: string }[]
  /** Where vendored charts are released: chart name → repository URL. */
  chartRepositories: { chart: string; repo: string }[]
}

export interface FleetConfig {
  version: 1
  /** The file it was read from (repository-relative), or `(defaults)`. */
  file: string
  /** With `(defaults)` read from a revision: the file is not there, and what to do (said to the user). */
  defaultsNote?: string
  environments: EnvironmentRule[]
  stages: StageConfig[]
  impact: { extra: ImpactRule[] }
  hydrate: HydrateConfig
  promote: PromoteConfig
  deploy: DeployConfig
  merge: MergeConfig
  report: ReportConfig
  /** `per-environment`: a commit status `fleet-promote/<environment>` each; `per-stage`: one check run `fleet-promote/stage/<stage>` per stage. */
  statuses: StatusesMode
}

/** One environment as every action passes it along (detect-impact's output). */
export interface Environment {
  name: string
  /** Directory relative to the repository root. */
  path: string
  stage: string
  /** WET branch. */
  branch: string
  /** Folder on the WET branch holding its files (a shared branch); absent: the branch root. */
  folder?: string
}
