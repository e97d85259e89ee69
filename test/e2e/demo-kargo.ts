// `npm run demo -- --cd kargo`: the demo's testing stage goes through the
// `external` backend and examples/kargo/ deploys it. Kargo itself is played
// by test/support/kargo/player.ts from the example's manifests: its
// Warehouses find the child tags, the testing Stage auto-promotes each
// Freight, and the promotion task sends exactly the GitHub requests it
// renders (the Argo CD side goes through the simulator's API).
import type { FleetConfig, Environment } from '../../actions/lib/config/types.js'
import { argoCdApplicationName } from '../../actions/lib/config/config.js'
import { createArgoCdClient } from '../../actions/lib/argocd/client.js'
import type { Git } from '../../actions/lib/git/git.js'
import type { ArgoCdSimulator } from '../support/argocd/index.js'
import type { GitHubSimulator } from '../support/github/index.js'
import { freightFromTag, KargoPlayer, loadKargoProject } from '../support/kargo/player.js'
import { KARGO_EXAMPLE_DIR, patchApplication, simulatorVars } from '../support/kargo/setup.js'

/** The tag template the example's Warehouses follow. */
export const KARGO_TAG_TEMPLATE = '{component}-pr-{pr}'
export const KARGO_SYSTEM = 'Kargo'
const KARGO_USER = 'kargo-promoter'

export interface KargoStandIn {
  /** Plays the testing Stage for the parent's child tags; `report` runs the status workflow. */
  promoteTesting(
    parent: number,
    report: (environment: string) => Promise<string>,
  ): Promise<{ environment: string; phase: string }[]>
}

export async function startKargoStandIn(options: {
  github: GitHubSimulator
  argocd: ArgoCdSimulator
  repo: string
  remote: string
  git: Git
  config: FleetConfig
  environments: readonly Environment[]
  print: (line: string) => void
}): Promise<KargoStandIn> {
  const { github, argocd, repo, remote, git, config, print } = options
  const project = loadKargoProject(KARGO_EXAMPLE_DIR)
  const testing = options.environments.filter((env) => env.stage === 'testing')
  // Kargo's machine account, with the fine-grained token the README asks for.
  const account = github.addUser(KARGO_USER)
  github.setPermission(repo, KARGO_USER, 'write')
  for (const env of testing) {
    await patchApplication(argocd, argoCdApplicationName(config, env), {
      metadata: { annotations: { 'kargo.akuity.io/authorized-stage': `${project.name}:testing` } },
    })
  }
  const player = new KargoPlayer({
    project,
    secrets: { github: { token: account.token }, argocd: { token: argocd.token } },
    argocd: createArgoCdClient({ server: argocd.url, token: argocd.token, retries: 1 }),
    // The Stages' variables a user of this repository would set: its URL and API addresses.
    vars: [{ name: 'repoURL', value: remote }, ...simulatorVars(github.apiUrl, repo, argocd.url)],
    pollMs: 50,
    timeoutMs: 60_000,
  })
  print(
    `    Kargo Project ${project.name} (examples/kargo): Warehouses ${[...project.warehouses.keys()].join(', ')}; Stages ${[...project.stages.keys()].join(' → ')}`,
  )
  print(
    `    the testing Applications carry kargo.akuity.io/authorized-stage: ${project.name}:testing`,
  )

  return {
    async promoteTesting(parent, report) {
      const tags = await git.lsRemote('origin', ['refs/tags/*'])
      const outcomes: { environment: string; phase: string }[] = []
      for (const [warehouse, spec] of project.warehouses) {
        const subscription = (spec.subscriptions as { git: { allowTagsRegexes: string[] } }[])[0]
        const allowed =
          subscription?.git.allowTagsRegexes.map((pattern) => new RegExp(pattern)) ?? []
        const found = [...tags].filter(
          ([ref]) =>
            ref.endsWith(`-pr-${parent}`) &&
            allowed.some((pattern) => pattern.test(ref.slice('refs/tags/'.length))),
        )
        if (found.length === 0) {
          print(`    Warehouse ${warehouse}: no tag of #${parent} (not impacted)`)
          continue
        }
        const [ref, sha] = found[0] as [string, string]
        const tag = ref.slice('refs/tags/'.length)
        const promotion = await player.promote(
          'testing',
          freightFromTag(warehouse, remote, tag, sha),
        )
        print(
          `    Warehouse ${warehouse}: Freight ${tag} (${sha.slice(0, 7)}); ${promotion.name} ${promotion.phase}`,
        )
        for (const step of promotion.steps) {
          for (const request of step.requests) {
            const path = new URL(request.url).pathname.replace(/^.*\/repos\/[^/]+\/[^/]+/, '')
            const body = request.body
              ? (JSON.parse(request.body) as Record<string, string>)
              : undefined
            print(
              `      ${request.method.padEnd(4)} ${path.length > 60 ? `${path.slice(0, 57)}…` : path} → ${request.status}${body ? `  ${body.state}: ${body.description}` : ''}`,
            )
          }
        }
        outcomes.push({ environment: warehouse, phase: promotion.phase })
        print(`    the status event for fleet-promote/${warehouse} runs the status workflow:`)
        print(`    fleet-promote/pipeline: ${await report(warehouse)}`)
      }
      return outcomes
    },
  }
}
