// The fleet report's records: what each environment runs (from its WET
// branch), the newest chart releases, and the three kinds of drift. The JSON
// output `report` is a FleetReport, so other tools can read it.

/** One Helm release an environment runs. */
export interface ChartRelease {
  /** The add-on it belongs to (the chart name). */
  addon: string
  chart: string
  /** The deployed chart version. */
  version: string
  /**
   * Where the version was read: the rendered objects' `helm.sh/chart` label
   * (`label`), or the DRY `helmCharts` entry (or local Chart.yaml) the WET
   * render was made from (`dry`).
   */
  source: 'label' | 'dry'
  release?: string
  namespace?: string
  /** The chart repository (the helmCharts `repo`, or `report.chartRepositories`); absent for a vendored chart. */
  repo?: string
}

/** A container image a workload of the environment runs. */
export interface ImageUse {
  addon: string
  /** As written in the manifest, e.g. `quay.io/jetstack/cert-manager-controller:v1.16.2@sha256:…`. */
  image: string
  repository: string
  tag?: string
  digest?: string
  /** `Deployment/cert-manager/cert-manager`. */
  workload: string
  container: string
}

/** What one environment's WET branch tip holds. */
export interface EnvironmentInventory {
  name: string
  stage: string
  path: string
  branch: string
  /** WET branch tip, '' when the branch does not exist. */
  wetSha: string
  /** The DRY commit the WET render was made from (`hydrator.metadata`), when recorded. */
  drySha?: string
  objects: number
  charts: ChartRelease[]
  images: ImageUse[]
  /** Add-on → the version shown for it (chart version, or its images for add-ons without a chart). */
  addons: Record<string, string>
  /** Why part of the inventory could not be read (unparsable manifest, …). */
  problems: string[]
}

export interface NewestVersions {
  /** Newest stable release with the deployed major.minor. */
  patch?: string
  /** Newest stable release with the deployed major. */
  minor?: string
  /** Newest stable release. */
  major?: string
}

/** One version of an add-on and the environments running it. */
export interface AddonVersion {
  version: string
  environments: string[]
  newest: NewestVersions
  /** A newer patch release of this minor exists (where security fixes land). */
  behindPatch: boolean
  /** Below `report.minimumVersions`. */
  belowMinimum: boolean
}

export interface AddonReport {
  name: string
  kind: 'chart' | 'images'
  /** Repositories the chart comes from (usually one). */
  repos: string[]
  /** Newest releases in the repository, or why they are not known. */
  latest?: string
  releases: 'known' | 'vendored' | 'not-allowed' | 'unreachable' | 'not-found' | 'none'
  releasesNote?: string
  minimum?: { version: string; reason: string }
  /** Newest version first. */
  versions: AddonVersion[]
}

export type DriftKind = 'wet' | 'argocd' | 'orphaned'

export interface DriftFinding {
  kind: DriftKind
  environment: string
  /** What is wrong, one line per problem. */
  problems: string[]
  /** The one command that fixes it. */
  command?: string
  /** A link that fixes it or shows more. */
  link?: { text: string; url: string }
}

/** An Application on the child branch of an open parent: a promotion under way, not drift. */
export interface PromotionInProgress {
  environment: string
  application: string
  parent: number
  branch: string
}

export interface FleetReport {
  version: 1
  generatedAt: string
  /** The DRY branch and commit the drift check rendered. */
  dry: { branch: string; sha: string }
  environments: EnvironmentInventory[]
  addons: AddonReport[]
  /** Environment × add-on pairs behind the newest patch of their minor, or below the minimum. */
  behind: Array<{
    addon: string
    environment: string
    version: string
    newestPatch?: string
    behindPatch: boolean
    belowMinimum: boolean
  }>
  drift: DriftFinding[]
  promotions: PromotionInProgress[]
  /** What the report could not check (an unreachable chart repository, Argo CD not configured, …). */
  warnings: string[]
  totals: {
    environments: number
    addons: number
    /** Clusters with an add-on behind the newest patch of its minor. */
    behindPatch: number
    /** Clusters with an add-on below its configured minimum. */
    belowMinimum: number
    drift: Record<DriftKind, number>
  }
}
