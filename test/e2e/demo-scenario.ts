// The demo scenario behind `npm run demo` (scripts/demo.ts), which test/demo.test.ts runs:
// the whole fleet-promote flow on this machine, with no network.
//
// It starts the embedded GitHub and Argo CD simulators, pushes examples/fleet
// as a GitOps repository (WET branches initialized from a render of main, one
// Argo CD Application per cluster), opens a parent pull request that bumps
// cert-manager, and runs the REAL action bundles with the event payloads
// GitHub would send, in the order the reusable workflows run them:
//   detect-impact → hydrate (matrix shards) → open-child-prs → promote (autoPromote)
//   → aggregate-status → `.promote testing` → approval + `.promote production`
//   → merge → merge-cleanup
// After every step it checks what each cluster runs (SPEC.md §3,
// test/support/invariant.ts): its Application targets its WET branch or the
// child branch of the one open parent holding its lock, that branch exists,
// and the revision it is synced to holds every change merged to main. It ends
// with a state table and the convergence check: every WET branch equals the
// render of main HEAD (the render core decides), no child branch or lock is
// left, and every Application tracks its WET branch and is synced at its tip.
//
//   npm run demo                    exit 0 only when the fleet converged
//   npm run demo -- --keep          leave the simulators running to browse them
//   npm run demo -- --dist DIR      use the bundles in DIR
//   npm run demo -- --rebuild       bundle into a temporary directory first
//   npm run demo -- --cd kargo      the testing stage through the external backend,
//                                   deployed by examples/kargo (test/e2e/demo-kargo.ts)
//   npm run demo -- --report FILE   also write the result as JSON (what the tests check)
//   npm run demo -- --fleet grouped shared WET branches env/<stage>, one folder per cluster
//                                   (groupedFleet below): one child pull request per stage
import { existsSync } from 'node:fs'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isMap, isSeq, parseDocument } from 'yaml'
import {
  argoCdApplicationName,
  discoverEnvironments,
  parseConfig,
} from '../../actions/lib/config/config.js'
import type { Environment, FleetConfig } from '../../actions/lib/config/types.js'
import { errorMessage } from '../../actions/lib/errors.js'
import { Git } from '../../actions/lib/git/git.js'
import { CHILD_BRANCH_PREFIX, childUnit } from '../../actions/lib/children.js'
import { LOCK_BRANCH_PREFIX } from '../../actions/lib/locks.js'
import { CLEANUP_MARKER } from '../../actions/merge-cleanup/merge-cleanup.js'
import { runProcess } from '../../actions/lib/process.js'
import { DASHBOARD_MARKER, renderText } from '../../actions/lib/report/markdown.js'
import type { FleetReport } from '../../actions/lib/report/types.js'
import { hydrate } from '../../actions/lib/render/hydrate.js'
import { findOnPath } from '../../actions/lib/render/tools.js'
import { buildBranchCommit, MANAGED_LIST, readDryCommit } from '../../actions/lib/git/wet-commit.js'
import { startArgoCdSimulator, type ArgoCdSimulator } from '../support/argocd/index.js'
import { actionBundles, FLOW_ACTIONS, type ActionBundles } from '../support/bundles.js'
import { startGitHubSimulator, type GitHubSimulator } from '../support/github/index.js'
import { startInvariantChecker, type InvariantChecker } from '../support/invariant.js'
import { addApplications } from '../support/flow.js'
import {
  actionDefaults,
  runAction,
  type RunActionOptions,
  type RunActionResult,
} from '../support/runner.js'
import {
  KARGO_SYSTEM,
  KARGO_TAG_TEMPLATE,
  startKargoStandIn,
  type KargoStandIn,
} from './demo-kargo.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const REPO = 'acme/fleet'
const COMPONENT_FILE = 'components/cert-manager/values.yaml'
const OLD_TAG = 'v1.16.1'
const NEW_TAG = 'v1.16.2'
const STEPS = 14

/** The actions the flow needs, in the order it first needs them. */
export const DEMO_ACTIONS = [...FLOW_ACTIONS, 'fleet-report'] as const
export type DemoAction = (typeof DEMO_ACTIONS)[number]

/** The author of the parent, a maintainer who approves, promotes production and merges, and the GitHub App. */
const AUTHOR = 'alice'
const MAINTAINER = 'bob'
const APP = 'fleet-promote-app[bot]'

export interface DemoOptions {
  /** Leave the simulators running when done; `result.stop()` stops them. */
  keep?: boolean
  /** Directory holding `<action>/index.js` bundles (default: dist/ when fresh, else a fresh build). */
  distDir?: string
  /** Always bundle into a temporary directory first. */
  rebuild?: boolean
  /** Where the narration goes (default: stdout). */
  print?: (line: string) => void
  /**
   * What deploys the testing stage: fleet-promote's Argo CD backend (default),
   * or Kargo through the external backend (examples/kargo, played).
   */
  cd?: 'argocd' | 'kargo'
  /**
   * The WET layout: one branch per cluster (default), or `grouped`: one
   * shared branch per stage, each cluster in its folder (groupedFleet).
   */
  fleet?: 'per-environment' | 'grouped'
}

export interface EnvironmentRow {
  environment: string
  stage: string
  /** The demo parent's child pull request, e.g. `#4 merged`. */
  child: string
  /** Latest `fleet-promote/<environment>` state on the parent head. */
  status: string
  /** The WET branch tip (7 characters). */
  wet: string
  /** The Argo CD Application's target revision, sync and health. */
  application: string
  /** The WET branch equals the render of main HEAD. */
  converged: boolean
}

/** `.promote production` as the reply and Argo CD saw it: what shows its waves ran in order. */
export interface ProductionRun {
  /** The reply's wave lines, e.g. `✅ wave 1 (eu-prod-1) of 2: done, 1/1 succeeded`. */
  waves: string[]
  /**
   * Each environment Argo CD synced, in sync order: the positions of its sync
   * and of its last look (the bake's last) among the command's Argo CD requests.
   */
  syncs: { environment: string; sync: number; lastLook: number }[]
  /** Each production environment's `fleet-promote/<environment>` description afterwards. */
  descriptions: Record<string, string>
}

export interface DemoResult {
  exitCode: number
  /** Every convergence check passed. */
  converged: boolean
  /** The failed convergence checks. */
  problems: string[]
  rows: EnvironmentRow[]
  /** `fleet-promote/pipeline` on the parent head at the end. */
  pipeline: string
  /** Actions the flow needed that this build does not have. */
  missing: DemoAction[]
  /** Why the demo stopped before the end. */
  stoppedAt?: string
  /** Simulator requests, responses or events that did not match GitHub's OpenAPI or Argo CD's swagger. */
  mismatches: string[]
  /** Absent when the demo stopped before `.promote production`. */
  production?: ProductionRun
  /** The parent's child pull requests open-child-prs opened, as `<head> → <base>`. */
  children: string[]
  /** The simulators are still running (`keep`). */
  kept: boolean
  /** Stops the simulators and removes the work directory (done already unless `keep`). */
  stop(): Promise<void>
}

/** Ends the demo early with an honest message (an action missing or failing). */
class DemoStop extends Error {
  override name = 'DemoStop'
}

const GIT_ENV = {
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_COMMITTER_NAME: 'Platform Team',
  GIT_COMMITTER_EMAIL: 'platform@example.com',
}

function person(name: string, email: string) {
  return { ...GIT_ENV, GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: email }
}

function short(sha: string | undefined): string {
  return sha ? sha.slice(0, 7) : '-'
}

/** A quoted excerpt: markers stripped, at most `lines` lines of ≤ 110 characters. */
function excerpt(text: string, lines: number): string {
  const all = text
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<\/?(details|summary)>/g, '')
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line, i, list) => line !== '' || (i > 0 && list[i - 1] !== ''))
  while (all.length > 0 && all[0] === '') all.shift()
  const shown = all.slice(0, lines).map((line) => `    │ ${line.slice(0, 110)}`)
  if (all.length > lines) shown.push(`    │ … ${all.length - lines} more lines`)
  return shown.join('\n')
}

export function formatTable(headers: readonly string[], rows: readonly string[][]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)),
  )
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd()
  return [line(headers), line(widths.map((width) => '─'.repeat(width))), ...rows.map(line)].join(
    '\n',
  )
}

function actionPresent(name: string): boolean {
  return existsSync(join(ROOT, 'actions', name, 'action.yml'))
}

/**
 * The bundles to run: `--dist`, else dist/ when it was bundled from these
 * sources (a fresh clone, or after `npm run bundle`), else a quick build of
 * the sources (test/support/bundles.ts).
 */
async function resolveBundles(
  options: DemoOptions,
  print: (line: string) => void,
): Promise<ActionBundles> {
  if (options.distDir) return { distDir: resolve(options.distDir), cleanup: async () => {} }
  const bundles = await actionBundles(DEMO_ACTIONS.filter(actionPresent), {
    rebuild: options.rebuild === true,
  })
  if (bundles.rebuiltBecause) {
    print(
      `    ${bundles.rebuiltBecause}; bundled the actions from the sources into ${bundles.distDir}`,
    )
  }
  return bundles
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const print = options.print ?? ((line: string) => void process.stdout.write(`${line}\n`))
  const started = Date.now()
  const kargo = options.cd === 'kargo'
  let stepNumber = 0
  // SPEC.md §3, what a cluster runs: checked after every step once the fleet exists.
  let checker: InvariantChecker | undefined
  const invariantProblems: string[] = []
  const checkInvariant = async () => {
    if (!checker) return
    for (const problem of await checker.check()) {
      invariantProblems.push(`after step ${stepNumber}: ${problem}`)
      print(`    ✗ invariant: ${problem}`)
    }
  }
  const step = async (title: string, options: { afterMerge?: boolean } = {}) => {
    // Between a parent's merge and its cleanup its children still run: the closed workflow ends that.
    if (!options.afterMerge) await checkInvariant()
    print(
      `\n[${++stepNumber}/${STEPS}] ${title}  (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    )
  }
  const work = await mkdtemp(join(tmpdir(), 'fleet-promote-demo-'))
  let gh: GitHubSimulator | undefined
  let argocd: ArgoCdSimulator | undefined
  let bundles: ActionBundles | undefined
  const missing: DemoAction[] = []
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    await checker?.stop()
    await Promise.allSettled([gh?.stop(), argocd?.stop(), bundles?.cleanup()])
    await rm(work, { recursive: true, force: true })
  }
  const result: DemoResult = {
    exitCode: 1,
    converged: false,
    problems: [],
    rows: [],
    pipeline: '-',
    missing,
    mismatches: [],
    children: [],
    kept: false,
    stop,
  }
  const grouped = options.fleet === 'grouped'

  try {
    print('fleet-promote demo: one parent pull request through a fleet of 8 clusters')
    print('(embedded GitHub and Argo CD simulators, real kustomize, helm, git and action bundles)')
    await useToolCache()
    bundles = await resolveBundles(options, print)
    const distDir = bundles.distDir

    // ── 1. Simulators and people ────────────────────────────────────────────
    await step('Start the GitHub and Argo CD simulators')
    gh = await startGitHubSimulator()
    argocd = await startArgoCdSimulator()
    const github = gh
    const argo = argocd
    await github.createRepo(REPO)
    const author = github.addUser(AUTHOR)
    github.addUser(MAINTAINER)
    const app = github.addUser(APP, { type: 'Bot' })
    github.setPermission(REPO, AUTHOR, 'write')
    github.setPermission(REPO, MAINTAINER, 'maintain')
    github.setPermission(REPO, APP, 'write')
    const remote = github.remoteUrl(REPO)
    // Argo CD resolves a branch to the commit the GitHub simulator holds for it.
    argo.resolveRevision = (revision) =>
      /^[0-9a-f]{40}$/.test(revision)
        ? revision
        : (github.state.refSha(REPO, `refs/heads/${revision}`) ?? '0'.repeat(40))
    print(`    GitHub  ${github.apiUrl}   repository ${REPO}`)
    print(`    Argo CD ${argo.url}`)
    print(
      `    people: ${AUTHOR} (write), ${MAINTAINER} (maintain), ${APP} (the GitHub App the workflows use)`,
    )

    // ── 2. The fleet repository ─────────────────────────────────────────────
    await step('Push examples/fleet to acme/fleet (main)')
    const setup = await Git.clone(remote, join(work, 'setup'), {
      token: github.adminToken,
      env: person('Platform Team', 'platform@example.com'),
    })
    await cp(join(ROOT, 'examples', 'fleet'), setup.dir, { recursive: true })
    // The one edit: the example's Argo CD address becomes the simulator's.
    const configPath = join(setup.dir, 'fleet-promote.yaml')
    const document = parseDocument(await readFile(configPath, 'utf8'))
    document.setIn(['deploy', 'argocd', 'server'], argo.url)
    if (grouped) groupedFleet(document, print)
    if (kargo) {
      // Kargo deploys testing: the external backend hands it over, Kargo reports back.
      const stages = document.get('stages')
      for (const stage of isSeq(stages) ? stages.items : []) {
        if (isMap(stage) && stage.get('name') === 'testing') stage.set('backend', 'external')
      }
      document.setIn(['deploy', 'external', 'system'], KARGO_SYSTEM)
    }
    await writeFile(configPath, document.toString())
    await setup.run(['add', '--all'])
    await setup.run([
      'commit',
      '--quiet',
      '-m',
      'Fleet: 8 clusters, cert-manager, external-dns, ingress-nginx, monitoring',
    ])
    await setup.run(['push', '--quiet', 'origin', 'HEAD:refs/heads/main'])
    const config = parseConfig(await readFile(configPath, 'utf8'), 'fleet-promote.yaml')
    const environments = discoverEnvironments(config, await setup.listFiles('HEAD'))
    print(`    main ${short(await setup.revParse('HEAD'))}: ${environments.length} environments`)
    if (kargo) {
      print(
        `    --cd kargo: stages[testing].backend external, deploy.external.system ${KARGO_SYSTEM}; production stays on Argo CD`,
      )
    }
    for (const stage of config.stages) {
      const names = environments.filter((env) => env.stage === stage.name).map((env) => env.name)
      print(
        `      ${stage.name.padEnd(10)} ${names.join(', ')}${stage.autoPromote ? '   (autoPromote)' : ''}${stage.approvals ? `   (${stage.approvals} approval, ${stage.permission})` : ''}${stage.waves.length > 0 ? `   (waves: ${[...stage.waves, 'the rest'].join(' → ')}; ${stage.bakeSeconds} s bake)` : ''}`,
      )
    }

    // ── 3. WET branches and Argo CD Applications ────────────────────────────
    await step(
      grouped
        ? 'Render main into the WET branches env/<stage>, one folder per cluster; one Argo CD Application each, at its folder'
        : 'Render main into the WET branches env/<cluster>; one Argo CD Application each',
    )
    const seeded = grouped
      ? await seedSharedBranches(
          setup,
          await renderMainForSeed(setup, config, environments, join(work, 'seed')),
          join(work, 'seed'),
        )
      : await seedWetBranches(setup, config, environments, join(work, 'seed'))
    await addApplications(argo, config, environments, remote)
    print(
      `    ${new Set(environments.map((env) => env.branch)).size} branches pushed in one atomic push (${seeded} objects rendered); Applications ${environments
        .map((env) => argoCdApplicationName(config, env))
        .slice(0, 3)
        .join(', ')}, … Synced/Healthy`,
    )
    checker = await startInvariantChecker({
      gh: github,
      argocd: argo,
      repo: REPO,
      config,
      // Kargo deploys testing by pinning commits; the convergence check below looks at those.
      ...(kargo ? { skip: (env: Environment) => env.stage === 'testing' } : {}),
    })
    const standIn: KargoStandIn | undefined = kargo
      ? await startKargoStandIn({
          github,
          argocd: argo,
          repo: REPO,
          remote,
          git: setup,
          config,
          environments,
          print,
        })
      : undefined

    // ── 4. The parent pull request ──────────────────────────────────────────
    await step(`${AUTHOR} opens the parent pull request: cert-manager ${OLD_TAG} → ${NEW_TAG}`)
    const branch = await Git.clone(remote, join(work, AUTHOR), {
      token: author.token,
      env: person('Alice Example', 'alice@example.com'),
    })
    const valuesPath = join(branch.dir, COMPONENT_FILE)
    const values = await readFile(valuesPath, 'utf8')
    if (!values.includes(`tag: ${OLD_TAG}`)) {
      throw new DemoStop(`${COMPONENT_FILE} no longer pins ${OLD_TAG}; update the demo`)
    }
    await writeFile(valuesPath, values.replace(`tag: ${OLD_TAG}`, `tag: ${NEW_TAG}`))
    await branch.run(['switch', '--quiet', '-c', 'bump-cert-manager'])
    await branch.run(['commit', '--quiet', '-am', `cert-manager: ${NEW_TAG}`])
    await branch.run(['push', '--quiet', 'origin', 'bump-cert-manager'])
    const opened = await github.openPullRequest(REPO, {
      head: 'bump-cert-manager',
      base: 'main',
      title: `cert-manager ${NEW_TAG}`,
      body: `Bumps the cert-manager image from ${OLD_TAG} to ${NEW_TAG} on every cluster.`,
      user: AUTHOR,
    })
    const parent = opened.number
    const pullEvent = opened.event
    const parentHead = () => github.state.pull(REPO, parent).headSha
    const baseSha = github.state.pull(REPO, parent).baseSha
    print(
      `    #${parent} bump-cert-manager → main, head ${short(parentHead())}; one file changed: ${COMPONENT_FILE}`,
    )
    print('    GitHub sends `pull_request` (opened): the fleet-promote-pr workflow starts')

    const runner = new ActionRunner(github, distDir, print, missing)
    const argocdInputs = { 'argocd-token': argo.token, 'argocd-poll-seconds': '0.1' }

    // ── 5. detect-impact ────────────────────────────────────────────────────
    await step('detect-impact: which clusters does the change touch?')
    const detect = await runner.run('detect-impact', {
      eventName: 'pull_request',
      event: pullEvent,
      inputs: { 'shard-size': 4 },
      checkout: { depth: 0, persistCredentials: false },
    })
    const impacted = JSON.parse(detect.outputs.environments ?? '[]') as Environment[]
    const matrix = JSON.parse(detect.outputs.matrix ?? '{"include":[]}') as {
      include: { shard: number; environments: string }[]
    }
    print(
      `    ${impacted.length} impacted through the kustomize/Helm graph (values.yaml → helmCharts of components/cert-manager → every overlay):`,
    )
    for (const stage of JSON.parse(detect.outputs.stages ?? '[]') as string[]) {
      print(
        `      ${stage.padEnd(10)} ${impacted
          .filter((env) => env.stage === stage)
          .map((env) => env.name)
          .join(', ')}`,
      )
    }
    print(`    matrix: ${matrix.include.length} hydrate shards of ≤ 4 environments`)
    if (impacted.length === 0) throw new DemoStop('detect-impact found no impacted environment')

    // ── 6. hydrate, one matrix job per shard ────────────────────────────────
    await step(
      `hydrate: render each shard with kustomize + Helm (${matrix.include.length} jobs in parallel)`,
    )
    // Each matrix job uploads its output; the children job downloads them side by side.
    const renderedDir = join(work, 'shards')
    const shardDirs = matrix.include.map((shard) => join(renderedDir, `shard-${shard.shard}`))
    const shards = await Promise.all(
      matrix.include.map((shard, i) =>
        runner.run('hydrate', {
          eventName: 'pull_request',
          event: pullEvent,
          inputs: {
            environments: shard.environments,
            base: baseSha,
            'output-dir': shardDirs[i],
          },
          checkout: { depth: 2 },
        }),
      ),
    )
    shards.forEach((shard, i) => {
      const rendered = JSON.parse(shard.outputs.result ?? '[]') as {
        name: string
        status: string
        diff?: { added: number; changed: number; deleted: number }
      }[]
      print(
        `    shard ${i + 1}: ${rendered.map((env) => `${env.name} ${env.status} (+${env.diff?.added ?? 0} ~${env.diff?.changed ?? 0} -${env.diff?.deleted ?? 0})`).join(', ')}`,
      )
    })
    // ── 7. open-child-prs ───────────────────────────────────────────────────
    await step(
      grouped
        ? "open-child-prs: one child pull request per WET branch (stage) holding its clusters' folders, statuses per cluster, the parent comment"
        : 'open-child-prs: one child pull request per cluster, statuses, the parent comment',
    )
    await runner.run('open-child-prs', {
      eventName: 'pull_request',
      event: pullEvent,
      inputs: {
        token: app.token,
        'rendered-dir': renderedDir,
        ...argocdInputs,
        ...(kargo ? { 'tag-template': KARGO_TAG_TEMPLATE } : {}),
      },
      checkout: { depth: 2, persistCredentials: false },
    })
    const children = github.state
      .pulls(REPO)
      .filter((pull) => pull.headRef.startsWith(`${CHILD_BRANCH_PREFIX}${parent}/`))
    result.children = children.map((child) => `${child.headRef} → ${child.baseRef}`)
    print(`    ${children.length} child pull requests:`)
    for (const child of children.slice(0, 4)) {
      print(`      #${child.number} ${child.headRef} → ${child.baseRef}  [${child.state}]`)
    }
    if (children.length > 4) print(`      … and ${children.length - 4} more`)
    const example = children.find((child) => child.headRef.endsWith('/eu-test-1')) ?? children[0]
    if (example) {
      print(`    child #${example.number} "${example.title}":`)
      print(excerpt(example.body ?? '', 10))
    }
    if (kargo) {
      const tags = [...(await setup.lsRemote('origin', ['refs/tags/*'])).keys()]
      print(
        `    ${tags.length} tags ${KARGO_TAG_TEMPLATE} on the child commits, in the same push: ${tags
          .map((ref) => ref.slice('refs/tags/'.length))
          .slice(0, 3)
          .join(', ')}, …`,
      )
    }
    printStatuses(github, parentHead(), print)
    const sticky = appComments(github, parent, APP)[0]
    if (sticky) {
      print(`    the sticky comment on #${parent} (by ${APP}):`)
      print(excerpt(sticky.body, 14))
    }

    // ── 8. autoPromote + aggregate, the end of the pull request workflow ────
    await step(
      kargo
        ? 'promote (autoPromote stages) and aggregate-status: testing is handed to Kargo'
        : 'promote (autoPromote stages) and aggregate-status: testing deploys through Argo CD',
    )
    await runner.run('promote', {
      eventName: 'pull_request',
      event: pullEvent,
      inputs: { token: app.token, pr: parent, 'auto-promote': 'true', ...argocdInputs },
    })
    if (kargo) {
      const handed = github.state
        .latestStatuses(REPO, parentHead())
        .filter((status) => status.description === `waiting for ${KARGO_SYSTEM}`)
        .map((status) => status.context.slice('fleet-promote/'.length))
      print(
        `    handed to ${KARGO_SYSTEM} (pending "waiting for ${KARGO_SYSTEM}"): ${handed.join(', ')}`,
      )
    }
    await aggregate(runner, github, parent, app.token, impacted, print)
    printApplications(argo, config, impacted, print)

    if (standIn) {
      // ── 9. Kargo deploys testing ──────────────────────────────────────────
      await step(
        'Kargo: each testing Warehouse sees its child tag; testing auto-promotes the Freight',
      )
      const outcomes = await standIn.promoteTesting(parent, (environment) =>
        reportStatus(runner, github, parentHead(), environment, app.token),
      )
      printApplications(argo, config, impacted, print)
      const failed = outcomes.filter((outcome) => outcome.phase !== 'Succeeded')
      if (failed.length > 0 || outcomes.length === 0) {
        throw new DemoStop(
          `Kargo's testing promotions did not all succeed: ${failed.map((f) => `${f.environment} ${f.phase}`).join(', ') || 'none ran'}`,
        )
      }
    } else {
      // ── 9. `.promote testing` ─────────────────────────────────────────────
      await step(
        `${AUTHOR} comments \`.promote testing\` (issue_comment → fleet-promote-command workflow); testing auto-promoted, so it is already deployed`,
      )
      await command(
        runner,
        github,
        parent,
        AUTHOR,
        '.promote testing',
        app.token,
        argocdInputs,
        print,
        'done',
      )
      await aggregate(runner, github, parent, app.token, impacted, print)
    }

    // ── 10. approval + `.promote production` ────────────────────────────────
    await step(`${MAINTAINER} approves, then comments \`.promote production\``)
    github.review(REPO, parent, { user: MAINTAINER, state: 'APPROVED', commitId: parentHead() })
    print(`    ${MAINTAINER} approved #${parent} at ${short(parentHead())}`)
    const argoFrom = argo.requests.length
    const productionReply = await command(
      runner,
      github,
      parent,
      MAINTAINER,
      '.promote production',
      app.token,
      argocdInputs,
      print,
    )
    result.production = productionRun(
      productionReply,
      argo.requests.slice(argoFrom),
      github.state.latestStatuses(REPO, parentHead()),
      config,
      impacted.filter((env) => env.stage === 'production'),
    )
    for (const sync of result.production.syncs) {
      print(
        `    Argo CD request ${sync.sync}: sync ${sync.environment}; its last look ${sync.lastLook}`,
      )
    }
    const gate = await aggregate(runner, github, parent, app.token, impacted, print)
    printApplications(argo, config, impacted, print)
    if (gate !== 'success') {
      throw new DemoStop(`fleet-promote/pipeline is ${gate}, not success: the parent cannot merge`)
    }

    // ── 11. merge ───────────────────────────────────────────────────────────
    await step(
      `${MAINTAINER} merges #${parent} (the required check fleet-promote/pipeline is green)`,
    )
    const closedEvent = await github.mergePullRequestAsUser(REPO, parent, MAINTAINER)
    print(
      `    main is now ${short(github.state.refSha(REPO, 'refs/heads/main'))}; GitHub sends \`pull_request\` (closed, merged)`,
    )

    // ── 12. merge-cleanup ───────────────────────────────────────────────────
    await step('merge-cleanup: merge the children stage by stage, reset Argo CD, release locks', {
      afterMerge: true,
    })
    const cleanup = await runner.run('merge-cleanup', {
      eventName: 'pull_request_target',
      event: closedEvent,
      inputs: { token: app.token, ...argocdInputs },
      checkout: { depth: 0, persistCredentials: false },
    })
    const landed = JSON.parse(cleanup.outputs.merged ?? '[]') as string[]
    const left = JSON.parse(cleanup.outputs.left ?? '[]') as unknown[]
    print(`    merged into their WET branches: ${landed.length}; left for a human: ${left.length}`)
    const report = appComments(github, parent, APP).find((comment) =>
      comment.body.includes(CLEANUP_MARKER),
    )
    if (report) {
      print(`    the final comment on #${parent}:`)
      print(excerpt(report.body, 12))
    }

    printApplications(argo, config, impacted, print)

    // ── 13. state and convergence ───────────────────────────────────────────
    await step('Final state and the convergence check')
    const verdict = await checkConvergence(
      github,
      argo,
      config,
      parent,
      join(work, 'verify'),
      kargo ? 'testing' : undefined,
    )
    await checkInvariant()
    result.rows = verdict.rows
    result.problems = [...invariantProblems, ...verdict.problems]
    result.converged = result.problems.length === 0
    result.pipeline =
      github.state
        .latestStatuses(REPO, parentHead())
        .find((status) => status.context === 'fleet-promote/pipeline')?.state ?? '-'
    print(
      formatTable(
        ['environment', 'stage', 'child', 'status', 'WET', 'Argo CD application', 'converged'],
        verdict.rows.map((row) => [
          row.environment,
          row.stage,
          row.child,
          row.status,
          row.wet,
          row.application,
          row.converged ? 'yes' : 'NO',
        ]),
      ),
    )
    print(`    fleet-promote/pipeline on #${parent}: ${result.pipeline}`)
    result.mismatches = [...github.validationErrors, ...argo.validationErrors]
    if (result.mismatches.length > 0) {
      print(
        `    note: ${result.mismatches.length} simulator messages differed from GitHub's OpenAPI or Argo CD's swagger`,
      )
    }
    if (result.converged && kargo) {
      print(
        `\nConverged: all ${verdict.rows.length} WET branches equal the render of main ${short(github.state.refSha(REPO, 'refs/heads/main'))}; no child branch or lock left; the production Applications track their WET branch, and the testing ones stay at the commit Kargo deployed, which holds the same manifests (examples/kargo/README.md: what you still do by hand).`,
      )
      result.exitCode = 0
    } else if (result.converged && grouped) {
      const branches = new Set(verdict.rows.map((row) => row.stage)).size
      print(
        `\nConverged: all ${verdict.rows.length} WET folders of the ${branches} shared WET branches equal the render of main ${short(github.state.refSha(REPO, 'refs/heads/main'))}; no child branch or lock left; every Application tracks its WET branch at its folder and runs its tip, and after every step each cluster ran its WET branch or a locked child holding every change merged to main.`,
      )
      result.exitCode = 0
    } else if (result.converged) {
      print(
        `\nConverged: all ${verdict.rows.length} WET branches equal the render of main ${short(github.state.refSha(REPO, 'refs/heads/main'))}; no child branch or lock left; every Application tracks its WET branch and runs its tip, and after every step each cluster ran its WET branch or a locked child holding every change merged to main.`,
      )
      result.exitCode = 0
    } else {
      print('\nNOT converged:')
      for (const problem of result.problems) print(`  - ${problem}`)
      result.exitCode = 1
    }

    // ── 14. the fleet report ────────────────────────────────────────────────
    await step('fleet-report (the scheduled workflow): which version runs where, and drift')
    const fleetReport = await runner.run('fleet-report', {
      eventName: 'schedule',
      event: { schedule: '17 6 * * *', repository: { full_name: REPO, default_branch: 'main' } },
      inputs: { token: app.token, 'argocd-token': argo.token },
      checkout: { depth: 0, persistCredentials: false },
    })
    const fleet = JSON.parse(fleetReport.outputs.report ?? '{}') as FleetReport
    for (const line of renderText(fleet, 3).trimEnd().split('\n')) print(`    ${line}`)
    const dashboard = github.state
      .issues(REPO)
      .find((issue) => !issue.isPullRequest && (issue.body ?? '').startsWith(DASHBOARD_MARKER))
    if (dashboard)
      print(`    dashboard issue #${dashboard.number} "${dashboard.title}" (by ${dashboard.user})`)
  } catch (error) {
    result.stoppedAt = errorMessage(error)
    result.exitCode = error instanceof DemoStop && missing.length > 0 ? 2 : 1
    print(`\nThe demo stopped: ${result.stoppedAt}`)
  } finally {
    print(`(${((Date.now() - started) / 1000).toFixed(1)} s)`)
    if (options.keep && gh && argocd) {
      result.kept = true
      printBrowsingHelp(gh, argocd, print)
    } else {
      await stop()
    }
  }
  return result
}

/**
 * Puts the pinned kustomize and helm first on PATH (as the tests do),
 * building them with `scripts/install-tools.sh` on a machine that has none
 * yet, so `npm ci && npm run demo` works on a fresh clone.
 */
async function useToolCache(): Promise<void> {
  const script = join(ROOT, 'scripts', 'install-tools.sh')
  const fragment = await runProcess('bash', [script, '--path'], { cwd: ROOT })
  if (fragment.code === 0 && fragment.stdout.trim() !== '') {
    process.env.PATH = `${fragment.stdout.trim()}${delimiter}${process.env.PATH ?? ''}`
  }
  const missing = async () => {
    const absent: string[] = []
    for (const tool of ['kustomize', 'helm']) {
      await findOnPath(tool).catch(() => absent.push(tool))
    }
    return absent
  }
  if ((await missing()).length === 0) return
  process.stdout.write('building the pinned kustomize and helm with Go (once; a few minutes)…\n')
  const install = await runProcess('bash', [script], { cwd: ROOT })
  const still = await missing()
  if (install.code !== 0 || still.length > 0) {
    throw new DemoStop(
      `${still.join(' and ') || 'a tool'} could not be installed: ${install.stderr.trim().split('\n').at(-1) ?? ''} (scripts/install-tools.sh needs Go)`,
    )
  }
}

/** Runs one action bundle like the runner does; stops the demo when it is missing or fails. */
class ActionRunner {
  constructor(
    private readonly github: GitHubSimulator,
    private readonly distDir: string,
    private readonly print: (line: string) => void,
    private readonly missing: DemoAction[],
  ) {}

  async run(name: DemoAction, options: RunActionOptions): Promise<RunActionResult> {
    const bundle = join(this.distDir, name, 'index.js')
    if (!actionPresent(name) || !existsSync(bundle)) {
      if (!this.missing.includes(name)) this.missing.push(name)
      throw new DemoStop(
        `the ${name} action is not in this build yet (${actionPresent(name) ? `no bundle ${bundle}` : `no actions/${name}/action.yml`}); the flow cannot go on without it`,
      )
    }
    const started = Date.now()
    const firstRequest = this.github.requests.length
    const result = await runAction(name, {
      github: this.github,
      distDir: this.distDir,
      timeoutMs: 300_000,
      ...options,
      inputs: { ...(await actionDefaults(name)), ...options.inputs },
      env: { FLEET_PROMOTE_WRITE_INTERVAL_MS: '0', ...options.env },
    })
    try {
      const seconds = ((Date.now() - started) / 1000).toFixed(1)
      const outputs = Object.keys(result.outputs).join(', ') || 'none'
      this.print(`    ✓ ${name} exited ${result.exitCode} in ${seconds} s (outputs: ${outputs})`)
      for (const note of result.annotations.filter((a) => a.level !== 'notice').slice(0, 5)) {
        this.print(`    ${note.level}: ${note.message.split('\n')[0]}`)
      }
      if (result.exitCode !== 0) {
        const tail = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-12)
        const refused = this.github.requests
          .slice(firstRequest)
          .filter((request) => request.status >= 400)
          .slice(-5)
          .map(
            (request) => `GitHub answered ${request.status} to ${request.method} ${request.path}`,
          )
        throw new DemoStop(
          `${name} failed (exit ${result.exitCode}):\n${[...tail, ...refused].join('\n')}`,
        )
      }
      return result
    } finally {
      await result.cleanup()
    }
  }
}

/** The render of main the WET branches start from; the demo stops when one environment did not render. */
async function renderMainForSeed(
  git: Git,
  config: FleetConfig,
  environments: readonly Environment[],
  outputDir: string,
) {
  const { result } = await hydrate({
    repoDir: git.dir,
    environments,
    outputDir,
    settings: config.hydrate,
  })
  for (const env of result.environments) {
    if (env.status !== 'rendered')
      throw new DemoStop(`rendering ${env.name} from main failed: ${env.reason ?? env.status}`)
  }
  return result
}

/** Renders main and writes each environment as the first commit of its WET branch; one atomic push. */
async function seedWetBranches(
  git: Git,
  config: FleetConfig,
  environments: readonly Environment[],
  outputDir: string,
): Promise<number> {
  const result = await renderMainForSeed(git, config, environments, outputDir)
  const refspecs: string[] = []
  let objects = 0
  for (const env of result.environments) {
    objects += env.resources.after
    const dir = join(outputDir, env.outputDir)
    const index = new Git(git.dir, {
      env: { ...GIT_ENV, GIT_INDEX_FILE: join(outputDir, `${env.name}.index`) },
    })
    const blobs = (
      await index.run(
        ['hash-object', '-w', '--stdin-paths'],
        env.files.map((file) => join(dir, file)).join('\n') + '\n',
      )
    )
      .trim()
      .split('\n')
    const list = (
      await index.run(['hash-object', '-w', '--stdin'], `${[...env.files].sort().join('\n')}\n`)
    ).trim()
    const entries = [
      ...env.files.map((file, i) => `100644 ${blobs[i] ?? ''}\t${file}`),
      `100644 ${list}\t${MANAGED_LIST}`,
    ]
    await index.run(['update-index', '--add', '--index-info'], `${entries.join('\n')}\n`)
    const tree = (await index.run(['write-tree'])).trim()
    const commit = (
      await new Git(git.dir, { env: person('Platform Team', 'platform@example.com') }).run(
        ['commit-tree', tree, '-m', `Initial render of main ${result.drySha} for ${env.name}`],
        '',
      )
    ).trim()
    refspecs.push(`${commit}:refs/heads/${env.branch}`)
  }
  await git.push('origin', refspecs, { atomic: true })
  return objects
}

/**
 * `--fleet grouped`: the example fleet with one shared WET branch per stage
 * (`env/{stage}`) and each cluster in its folder of it (`path: '{name}'`),
 * the source hydrator's layout: one child pull request per stage.
 */
function groupedFleet(document: ReturnType<typeof parseDocument>, print: (line: string) => void) {
  document.setIn(['environments', 0, 'branch'], 'env/{stage}')
  document.setIn(['environments', 0, 'path'], '{name}')
  print(`    --fleet grouped: environments[0].branch 'env/{stage}', path '{name}'`)
}

/**
 * `--fleet grouped`: renders main and writes each shared WET branch's first
 * commit with every folder of it, as hydrate lays them out (each folder's
 * manifest.yaml, hydrator.metadata, README.md and managed list, the root
 * hydrator.metadata); one atomic push.
 */
async function seedSharedBranches(
  git: Git,
  result: Awaited<ReturnType<typeof renderMainForSeed>>,
  outputDir: string,
): Promise<number> {
  const dry = await readDryCommit(git, result.drySha)
  if (!dry) throw new DemoStop(`main ${result.drySha} is not in the setup clone`)
  const refspecs: string[] = []
  for (const branch of new Set(result.environments.map((env) => env.branch))) {
    const commit = await buildBranchCommit(git, {
      environments: result.environments.filter((env) => env.branch === branch),
      renderedDir: outputDir,
      dry,
    })
    refspecs.push(`${commit.sha}:refs/heads/${branch}`)
  }
  await git.push('origin', refspecs, { atomic: true })
  return result.environments.reduce((sum, env) => sum + env.resources.after, 0)
}

async function command(
  runner: ActionRunner,
  github: GitHubSimulator,
  parent: number,
  user: string,
  body: string,
  token: string,
  argocdInputs: Record<string, string>,
  print: (line: string) => void,
  expected: 'deployed' | 'done' = 'deployed',
): Promise<string> {
  const posted = github.comment(REPO, parent, { user, body })
  const ran = await runner.run('promote', {
    eventName: 'issue_comment',
    event: posted.event,
    inputs: { token, aggregate: 'false', ...argocdInputs },
  })
  const reactions = github.state.reactions(posted.id).map((reaction) => reaction.content)
  print(
    `    decision: ${ran.outputs.decision ?? '?'} — ${ran.outputs.reason ?? ''}; reactions on the comment: ${reactions.join(' ') || 'none'}`,
  )
  const reply = github.state
    .comments(REPO, parent)
    .filter((comment) => comment.id > posted.id && comment.user === APP)
    .at(-1)
  if (reply) print(excerpt(reply.body, 20))
  if (ran.outputs.decision !== expected) {
    throw new DemoStop(
      `\`${body}\` answered ${ran.outputs.decision ?? '?'}, not ${expected}: ${ran.outputs.reason ?? 'no reason given'}`,
    )
  }
  return reply?.body ?? ''
}

/** The reply's wave lines and, from the command's Argo CD requests, when each Application synced and was last looked at. */
function productionRun(
  reply: string,
  requests: readonly { method: string; path: string }[],
  statuses: readonly { context: string; description?: string | null }[],
  config: FleetConfig,
  environments: readonly Environment[],
): ProductionRun {
  const waves = reply
    .split('\n')
    .filter((line) => /^- \S+ wave \d+ /u.test(line))
    .map((line) => line.slice(2))
  const syncs = environments
    .map((env) => {
      const path = `/api/v1/applications/${encodeURIComponent(argoCdApplicationName(config, env))}`
      const sync = requests.findIndex((r) => r.method === 'POST' && r.path === `${path}/sync`)
      const lastLook = requests.findLastIndex((r) => r.method === 'GET' && r.path === path)
      return { environment: env.name, sync, lastLook }
    })
    .filter((entry) => entry.sync >= 0)
    .sort((a, b) => a.sync - b.sync)
  const descriptions = Object.fromEntries(
    environments.map((env) => [
      env.name,
      statuses.find((status) => status.context === `fleet-promote/${env.name}`)?.description ?? '',
    ]),
  )
  return { waves, syncs, descriptions }
}

async function aggregate(
  runner: ActionRunner,
  github: GitHubSimulator,
  parent: number,
  token: string,
  impacted: readonly Environment[],
  print: (line: string) => void,
): Promise<string> {
  const ran = await runner.run('aggregate-status', {
    eventName: 'pull_request',
    event: github.pullRequestEvent(REPO, parent, 'synchronize'),
    inputs: { token, pr: parent, environments: JSON.stringify(impacted.map((env) => env.name)) },
  })
  print(
    `    fleet-promote/pipeline: ${ran.outputs.state ?? '?'} — ${ran.outputs.description ?? ''}`,
  )
  return ran.outputs.state ?? ''
}

/** The status workflow: aggregate-status on the `status` event a report caused. */
async function reportStatus(
  runner: ActionRunner,
  github: GitHubSimulator,
  sha: string,
  environment: string,
  token: string,
): Promise<string> {
  const ran = await runner.run('aggregate-status', {
    eventName: 'status',
    event: github.statusEvent(REPO, sha, `fleet-promote/${environment}`),
    inputs: { token },
  })
  return `${ran.outputs.state ?? '?'} — ${ran.outputs.description ?? ''}`
}

function appComments(github: GitHubSimulator, parent: number, app: string) {
  return github.state.comments(REPO, parent).filter((comment) => comment.user === app)
}

function printStatuses(github: GitHubSimulator, sha: string, print: (line: string) => void) {
  const statuses = github.state.latestStatuses(REPO, sha)
  print(`    statuses on ${short(sha)}:`)
  for (const status of statuses) {
    print(
      `      ${status.state.padEnd(8)} ${status.context.padEnd(32)} ${status.description ?? ''}`,
    )
  }
}

function printApplications(
  argocd: ArgoCdSimulator,
  config: FleetConfig,
  environments: readonly Environment[],
  print: (line: string) => void,
) {
  const groups = new Map<string, string[]>()
  for (const env of environments) {
    const app = argocd.getApplication(argoCdApplicationName(config, env))
    const revision = app?.spec.source?.targetRevision ?? '?'
    // --fleet grouped: a branch per stage, the Application at the cluster's folder of it.
    const folder = env.folder === undefined ? '' : ' at its folder'
    const where =
      revision === env.branch
        ? `WET branch env/<${env.folder === undefined ? 'cluster' : 'stage'}>${folder}`
        : revision.startsWith(CHILD_BRANCH_PREFIX)
          ? `child branch ${CHILD_BRANCH_PREFIX}…/<${env.folder === undefined ? 'cluster' : 'env-stage'}>${folder}`
          : /^[0-9a-f]{40}$/.test(revision)
            ? `commit ${short(revision)}`
            : revision
    const key = `${where}, ${app?.status?.sync?.status ?? '?'}/${app?.status?.health?.status ?? '?'}`
    groups.set(key, [...(groups.get(key) ?? []), env.name])
  }
  for (const [key, names] of groups) print(`    Argo CD: ${names.join(', ')} → ${key}`)
}

interface Convergence {
  rows: EnvironmentRow[]
  problems: string[]
}

/**
 * Renders main HEAD with the render core and compares it with every WET
 * branch (the same comparison hydrate uses: `unchanged` means byte-identical
 * manifests); then looks for leftovers: child branches, locks, open children,
 * Applications not on their WET branch.
 */
async function checkConvergence(
  github: GitHubSimulator,
  argocd: ArgoCdSimulator,
  config: FleetConfig,
  parent: number,
  dir: string,
  /** A stage Kargo deployed: its Applications may stay at the commit Kargo set. */
  kargoStage?: string,
): Promise<Convergence> {
  const git = await Git.clone(github.remoteUrl(REPO), dir, {
    token: github.adminToken,
    env: GIT_ENV,
  })
  // The render core fetches the WET branches from origin with the clone's own
  // credentials, as in a workflow after actions/checkout.
  const basic = Buffer.from(`x-access-token:${github.adminToken}`).toString('base64')
  await git.run([
    'config',
    '--local',
    `http.${github.serverUrl}/.extraheader`,
    `AUTHORIZATION: basic ${basic}`,
  ])
  const mainSha = await git.revParse('HEAD')
  const environments = discoverEnvironments(config, await git.listFiles('HEAD'))
  const { result } = await hydrate({
    repoDir: git.dir,
    environments,
    outputDir: join(dir, '..', 'verify-render'),
    settings: config.hydrate,
    wetRemote: 'origin',
  })
  const problems: string[] = []
  const refs = await git.lsRemote('origin')
  const head = github.state.pull(REPO, parent).headSha
  const statuses = github.state.latestStatuses(REPO, head)
  const pulls = github.state.pulls(REPO)
  const rows = await Promise.all(
    environments.map(async (env): Promise<EnvironmentRow> => {
      const rendered = result.environments.find((item) => item.name === env.name)
      const converged = rendered?.status === 'unchanged'
      if (!converged) {
        problems.push(
          `${env.branch} is not the render of main ${short(mainSha)} (${rendered?.status ?? 'not rendered'}${rendered?.reason ? `: ${rendered.reason}` : ''})`,
        )
      }
      const app = argocd.getApplication(argoCdApplicationName(config, env))
      const target = app?.spec.source?.targetRevision ?? '?'
      const tip = refs.get(`refs/heads/${env.branch}`)
      const pinnedByKargo = env.stage === kargoStage && /^[0-9a-f]{40}$/.test(target)
      if (pinnedByKargo) {
        // Kargo's argocd-update pins a commit; it must hold what the WET branch holds now.
        if ((await manifestOf(git, target)) !== (await manifestOf(git, tip ?? ''))) {
          problems.push(
            `Application ${argoCdApplicationName(config, env)} runs ${short(target)}, whose manifests differ from ${env.branch}`,
          )
        } else if (app?.status?.sync?.status !== 'Synced' || app.status.sync.revision !== target) {
          problems.push(
            `Application ${argoCdApplicationName(config, env)} is not Synced at ${short(target)}`,
          )
        }
      } else if (target !== env.branch) {
        problems.push(
          `Application ${argoCdApplicationName(config, env)} tracks ${target}, not ${env.branch}`,
        )
      } else if (env.folder !== undefined && app?.spec.source?.path !== env.folder) {
        problems.push(
          `Application ${argoCdApplicationName(config, env)} deploys ${app?.spec.source?.path ?? '(no path)'} of ${env.branch}, not its folder ${env.folder}`,
        )
      } else if (app?.status?.sync?.status !== 'Synced' || app.status.sync.revision !== tip) {
        problems.push(
          `Application ${argoCdApplicationName(config, env)} is ${app?.status?.sync?.status ?? '?'} at ${short(app?.status?.sync?.revision)}, not Synced at the ${env.branch} tip ${short(tip)}`,
        )
      }
      const child = pulls.find(
        (pull) => pull.headRef === `${CHILD_BRANCH_PREFIX}${parent}/${childUnit(env)}`,
      )
      return {
        environment: env.name,
        stage: env.stage,
        child: child ? `#${child.number} ${child.merged ? 'merged' : child.state}` : '-',
        status:
          statuses.find((status) => status.context === `fleet-promote/${env.name}`)?.state ?? '-',
        wet: short(tip),
        application: `${pinnedByKargo ? `${short(target)} (Kargo)` : target} ${app?.status?.sync?.status ?? '?'}/${app?.status?.health?.status ?? '?'}`,
        converged,
      }
    }),
  )
  for (const ref of refs.keys()) {
    if (ref.startsWith(`refs/heads/${CHILD_BRANCH_PREFIX}`))
      problems.push(`child branch left: ${ref}`)
    if (ref.startsWith(`refs/heads/${LOCK_BRANCH_PREFIX}`)) problems.push(`lock left: ${ref}`)
  }
  for (const pull of pulls) {
    if (pull.state === 'open' && pull.headRef.startsWith(CHILD_BRANCH_PREFIX)) {
      problems.push(`child pull request #${pull.number} is still open`)
    }
  }
  if (!github.state.pull(REPO, parent).merged) problems.push(`parent #${parent} is not merged`)
  return { rows, problems }
}

/** The blob id of a commit's `manifest.yaml` ('' when there is none). */
async function manifestOf(git: Git, commit: string): Promise<string> {
  try {
    return (await git.run(['rev-parse', '--verify', '--quiet', `${commit}:manifest.yaml`])).trim()
  } catch {
    return ''
  }
}

function printBrowsingHelp(
  gh: GitHubSimulator,
  argocd: ArgoCdSimulator,
  print: (line: string) => void,
) {
  const auth = `-H 'Authorization: Bearer ${gh.adminToken}'`
  const api = `${gh.apiUrl}/repos/${REPO}`
  const parent = gh.state.pulls(REPO).find((pull) => !pull.headRef.startsWith(CHILD_BRANCH_PREFIX))
  const gitUrl = gh.remoteUrl(REPO).replace('://', `://x-access-token:${gh.adminToken}@`)
  print(`
The simulators keep running; Ctrl-C stops them. Look around (jq is optional):
  curl -s ${auth} '${api}/pulls?state=all' | jq '.[] | {number, title, state, head: .head.ref, base: .base.ref}'
  curl -s ${auth} '${api}/issues/${parent?.number ?? 1}/comments' | jq -r '.[].body'
  curl -s ${auth} '${api}/commits/${parent?.headSha ?? 'main'}/status' | jq '.statuses[] | {context, state, description}'
  git clone ${gitUrl} fleet && git -C fleet log --oneline --graph --all
  curl -s -H 'Authorization: Bearer ${argocd.token}' '${argocd.url}/api/v1/applications' | jq '.items[] | {name: .metadata.name, revision: .spec.source.targetRevision, sync: .status.sync.status}'`)
}

/** `npm run demo [options]`: returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const known = new Set(['--keep', '--rebuild', '--dist', '--cd', '--report', '--fleet', '--help'])
  for (const arg of args) {
    if (arg.startsWith('--') && !known.has(arg)) {
      process.stderr.write(`unknown option ${arg} (try --help)\n`)
      return 2
    }
  }
  if (args.includes('--help')) {
    process.stdout.write(
      'Usage: npm run demo [-- --keep] [-- --rebuild] [-- --dist DIR] [-- --cd argocd|kargo] [-- --fleet per-environment|grouped] [-- --report FILE]\n',
    )
    return 0
  }
  const distIndex = args.indexOf('--dist')
  const cdIndex = args.indexOf('--cd')
  const cd = cdIndex >= 0 ? args[cdIndex + 1] : 'argocd'
  if (cd !== 'argocd' && cd !== 'kargo') {
    process.stderr.write(`--cd takes argocd or kargo, not ${cd ?? 'nothing'}\n`)
    return 2
  }
  const fleetIndex = args.indexOf('--fleet')
  const fleet = fleetIndex >= 0 ? args[fleetIndex + 1] : 'per-environment'
  if (fleet !== 'per-environment' && fleet !== 'grouped') {
    process.stderr.write(`--fleet takes per-environment or grouped, not ${fleet ?? 'nothing'}\n`)
    return 2
  }
  if (fleet === 'grouped' && cd === 'kargo') {
    // The Kargo stand-in watches one tag and Application per cluster branch.
    process.stderr.write('--fleet grouped runs with --cd argocd only\n')
    return 2
  }
  const result = await runDemo({
    fleet,
    keep: args.includes('--keep'),
    rebuild: args.includes('--rebuild'),
    ...(distIndex >= 0 && args[distIndex + 1] ? { distDir: args[distIndex + 1] } : {}),
    cd,
  })
  const reportIndex = args.indexOf('--report')
  const report = reportIndex >= 0 ? args[reportIndex + 1] : undefined
  // JSON leaves out stop(), the one function.
  if (report) await writeFile(report, `${JSON.stringify(result, null, 2)}\n`)
  if (result.kept) {
    await new Promise<void>((done) => {
      process.once('SIGINT', done)
      process.once('SIGTERM', done)
    })
    await result.stop()
  }
  return result.exitCode
}
