// Facts for `requires` across pull requests (promote.requiredStages:
// wet-branches): for each stage some impacted stage requires but this PR does
// not impact, what its environments' WET branches run. A WET tip's
// `hydrator.metadata` names the DRY commit it was rendered from; the stage is
// satisfied when each of those is this PR's DRY commit or an ancestor of it,
// that is, the stage already runs everything this PR was built on and nothing
// from outside its history.

import { discoverEnvironments } from '../lib/config/config.js'
import type { FleetConfig } from '../lib/config/types.js'
import { errorMessage } from '../lib/errors.js'
import type { GitHubClient } from '../lib/github/client.js'
import { readFileAt } from '../lib/github/contents.js'
import { filesAt } from '../lib/github/git-data.js'
import { isAncestorCommit } from '../lib/github/repos.js'
import { METADATA_FILE } from '../lib/render/output.js'
import { metadataDrySha } from '../lib/report/inventory.js'
import type { RepoRef } from '../lib/statuses.js'

/** One environment of a required stage, as its WET branch tip has it. */
export interface WetRun {
  environment: string
  branch: string
  /** The DRY commit of the tip's hydrator.metadata; absent when the branch or the file is missing. */
  drySha?: string
  /** Whether `drySha` is the PR's DRY commit or an ancestor of it. */
  withinHistory: boolean
}

/** A required stage the PR does not impact, or why its WET branches could not be read. */
export type RequiredStageRuns = { runs: WetRun[] } | { problem: string }

export interface RequiredStagesInput {
  config: FleetConfig
  baseRef: string
  /** The stages of the PR's impacted environments. */
  present: ReadonlySet<string>
  /** The DRY commit the PR's children were rendered from (their marker), if known. */
  drySha?: string
}

/** The stages required from the PR's stages that it does not impact itself. */
export function requiredElsewhere(config: FleetConfig, present: ReadonlySet<string>): Set<string> {
  const needed = new Set<string>()
  for (const stage of config.stages) {
    if (!present.has(stage.name)) continue
    for (const name of stage.requires) if (!present.has(name)) needed.add(name)
  }
  return needed
}

export async function readRequiredStageRuns(
  client: GitHubClient,
  repo: RepoRef,
  input: RequiredStagesInput,
): Promise<Map<string, RequiredStageRuns>> {
  const needed =
    input.config.promote.requiredStages === 'wet-branches'
      ? requiredElsewhere(input.config, input.present)
      : new Set<string>()
  const result = new Map<string, RequiredStageRuns>()
  if (needed.size === 0) return result
  const fail = (problem: string) => {
    for (const stage of needed) result.set(stage, { problem })
    return result
  }
  const drySha = input.drySha
  if (!drySha) return fail("no child pull request's marker names this pull request's DRY commit")
  const tree = await filesAt(client, repo, input.baseRef)
  if (tree.truncated)
    return fail(`GitHub truncated the file list of ${input.baseRef}; its environments are unknown`)
  let environments
  try {
    environments = discoverEnvironments(input.config, tree.files, { allowUnmatched: true })
  } catch (error) {
    return fail(errorMessage(error))
  }
  const verdicts = new Map<string, Promise<boolean>>()
  const withinHistory = (sha: string) => {
    let verdict = verdicts.get(sha)
    if (!verdict) {
      verdict = isAncestorCommit(client, repo, sha, drySha)
      verdicts.set(sha, verdict)
    }
    return verdict
  }
  for (const stage of needed) {
    const runs: WetRun[] = []
    for (const env of environments.filter((e) => e.stage === stage)) {
      // Per-environment WET branches keep the metadata at the root.
      const tip = metadataDrySha(
        await readFileAt(client, repo, METADATA_FILE, `refs/heads/${env.branch}`),
      )
      runs.push({
        environment: env.name,
        branch: env.branch,
        ...(tip ? { drySha: tip } : {}),
        withinHistory: tip ? await withinHistory(tip) : false,
      })
    }
    result.set(stage, { runs })
  }
  return result
}
