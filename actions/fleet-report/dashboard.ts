// fleet-report's GitHub side, through the port: the states of the parents
// whose child branches Applications run, the one dashboard issue (found by
// its marker and the suite's own authorship, updated in place), and the
// `report` output kept under GitHub's output size limit.
import { httpStatus } from '../lib/github/errors.js'
import type { GitHubClient } from '../lib/github/client.js'
import { upsertMarkedIssue } from '../lib/github/issues.js'
import { getPullRequest } from '../lib/github/pulls.js'
import { GITHUB_BODY_LIMIT } from '../lib/markdown.js'
import type { ParentState } from '../lib/report/drift.js'
import { DASHBOARD_MARKER, renderReport } from '../lib/report/markdown.js'
import type { FleetReport } from '../lib/report/types.js'
import type { RepoRef } from '../lib/statuses.js'

/** One `GET /pulls/{n}` per parent (a handful: only those an Application runs a child branch of). */
export async function parentStates(
  client: GitHubClient,
  repo: RepoRef,
  parents: readonly number[],
): Promise<Map<number, ParentState>> {
  const states = new Map<number, ParentState>()
  for (const number of parents) {
    try {
      const pull = await getPullRequest(client, repo, number)
      states.set(number, pull.state === 'open' ? 'open' : pull.merged ? 'merged' : 'closed')
    } catch (error) {
      // 404: no pull request has this number (the child branch was named by hand, or the PR was an issue).
      if (httpStatus(error) !== 404) throw error
      states.set(number, 'missing')
    }
  }
  return states
}

export interface DashboardOptions {
  title: string
  labels: readonly string[]
  runUrl: string
}

/** Creates or updates the dashboard issue; returns its URL. */
export async function updateDashboard(
  client: GitHubClient,
  repo: RepoRef,
  report: FleetReport,
  options: DashboardOptions,
): Promise<string> {
  const body = renderReport(report, {
    limit: GITHUB_BODY_LIMIT,
    marker: true,
    runUrl: options.runUrl,
    rowsPerSection: 25,
  })
  const issue = await upsertMarkedIssue(client, repo, {
    marker: DASHBOARD_MARKER,
    title: options.title,
    body,
    labels: options.labels,
  })
  return issue.url
}

/** GitHub refuses a step output over 1 MiB: a large fleet's report leaves out the per-environment images. */
export const OUTPUT_LIMIT = 1_000_000

export function reportOutput(report: FleetReport, limit = OUTPUT_LIMIT): string {
  const full = JSON.stringify(report)
  if (full.length <= limit) return full
  return JSON.stringify({
    ...report,
    environments: report.environments.map((env) => ({ ...env, images: [] })),
    warnings: [...report.warnings, 'images left out of this output (over 1 MB): see report-file'],
  })
}
