// The promote action end to end as the runner starts it: event payload,
// inputs, outputs, job summary.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PIPELINE_CONTEXT } from '../actions/lib/aggregate.js'
import { actionBundles, type ActionBundles } from './support/bundles.js'
import { runAction } from './support/runner.js'
import { webhookExampleFor } from './support/webhook-examples.js'
import {
  fleetConfig,
  FULL_NAME,
  promoteActionInputs,
  REPO,
  startPromoteFleet,
  type PromoteFleet,
  endPromoteFleet,
} from './support/promote-fleet.js'

let fleet: PromoteFleet
let scriptDir: string
let script: string

// The service testing's verify check reads: 401 unless promote sends the token it was given.
const VERIFY_TOKEN = 'verify-secret-51c9'
const checked: (string | undefined)[] = []
const service = createServer((req, res) => {
  checked.push(req.headers.authorization)
  res.writeHead(req.headers.authorization === `Bearer ${VERIFY_TOKEN}` ? 200 : 401).end()
})

beforeAll(async () => {
  await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve))
  const { port } = service.address() as AddressInfo
  const testing = [
    'match: ["*-test-*"]',
    '    autoPromote: true',
    '    verify:',
    '      http:',
    `        - url: "http://127.0.0.1:${port}/{name}/ready"`,
    '          tokenEnv: FLEET_VERIFY_TOKEN',
  ].join('\n')
  fleet = await startPromoteFleet({
    config: (url) => fleetConfig(url).replace('match: ["*-test-*"]', testing),
  })
  scriptDir = await mkdtemp(join(tmpdir(), 'promote-action-'))
  script = join(scriptDir, 'run.mjs')
  const tsxApi = createRequire(import.meta.url)
    .resolve('tsx/esm/api')
    .replace(/index\.cjs$/, 'index.mjs')
  const entry = pathToFileURL(
    fileURLToPath(new URL('../actions/promote/index.ts', import.meta.url)),
  ).href
  await writeFile(
    script,
    `import { register } from '${pathToFileURL(tsxApi).href}'\nregister()\nawait import('${entry}')\n`,
  )
})

afterAll(async () => {
  await endPromoteFleet(fleet)
  await rm(scriptDir, { recursive: true, force: true })
  await new Promise((resolve) => service.close(resolve))
})

async function run(
  eventName: string,
  event: Record<string, unknown>,
  inputs: Record<string, string> = {},
) {
  const result = await runAction('promote', {
    github: fleet.gh,
    eventName,
    event,
    script,
    inputs: { ...promoteActionInputs(fleet), ...inputs },
  })
  await result.cleanup()
  return result
}

describe('promote action', () => {
  it('does nothing for a comment on an issue that is not a pull request', async () => {
    const issue = await fleet.admin.rest.issues.create({ ...REPO, title: 'Question' })
    const { id, event } = fleet.gh.comment(FULL_NAME, issue.data.number, {
      user: fleet.users.writer.login,
      body: '.promote testing',
    })
    fleet.gh.resetRequests()
    const result = await run('issue_comment', event)
    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.outputs.decision).toBe('ignored')
    expect(result.outputs.reason).toBe('the comment is on an issue, not a pull request')
    expect(fleet.gh.requests).toEqual([])
    expect(fleet.gh.state.reactions(id)).toEqual([])
  })

  it('ignores edited comments', async () => {
    const { event } = fleet.gh.comment(FULL_NAME, fleet.parent, {
      user: fleet.users.writer.login,
      body: '.promote testing',
    })
    const result = await run('issue_comment', { ...event, action: 'edited' })
    expect(result.outputs.decision).toBe('ignored')
  })

  it('fails on a verify-env line that is not NAME=value, naming the line and not showing it', async () => {
    const event = fleet.gh.pullRequestEvent(FULL_NAME, fleet.parent, 'synchronize')
    fleet.gh.resetRequests()
    const result = await run('pull_request', event, {
      'auto-promote': 'true',
      'verify-env': `FLEET_VERIFY_TOKEN=${VERIFY_TOKEN}\nrest-of-a-multi-line-secret`,
    })
    expect(result.exitCode).toBe(1)
    expect(result.annotations.find((a) => a.level === 'error')?.message, result.stdout).toContain(
      'input "verify-env" line 2 is not NAME=value',
    )
    expect(result.stdout + result.stderr).not.toContain('rest-of-a-multi-line-secret')
    expect(fleet.gh.requests).toEqual([])
  })

  it('deploys the autoPromote stage right after open-child-prs, its checks reading the token from verify-env', async () => {
    const event = fleet.gh.pullRequestEvent(FULL_NAME, fleet.parent, 'synchronize')
    const result = await run('pull_request', event, {
      'auto-promote': 'true',
      'verify-env': `# the check's token\nFLEET_VERIFY_TOKEN=${VERIFY_TOKEN}\n`,
    })
    expect(result.exitCode, result.stdout).toBe(0)
    // One check per environment, each with the token; the log masks it from the start.
    expect(checked).toEqual(Array(3).fill(`Bearer ${VERIFY_TOKEN}`))
    const log = result.stdout + result.stderr
    expect(log.split(VERIFY_TOKEN)).toHaveLength(2)
    expect(log.indexOf(`::add-mask::${VERIFY_TOKEN}`)).toBeGreaterThanOrEqual(0)
    expect(result.summary + JSON.stringify(result.outputs)).not.toContain(VERIFY_TOKEN)
    expect(JSON.stringify(fleet.gh.state.comments(FULL_NAME, fleet.parent))).not.toContain(
      VERIFY_TOKEN,
    )
    expect(result.outputs.decision, result.outputs.reason).toBe('deployed')
    const environments = JSON.parse(result.outputs.environments ?? '[]') as {
      name: string
      result: string
    }[]
    expect(environments.map((e) => [e.name, e.result])).toEqual([
      ['ap-test-1', 'success'],
      ['eu-test-1', 'success'],
      ['us-test-1', 'success'],
    ])
    expect(result.summary).toContain('🚀 fleet-promote: deployed')
    const pipeline = fleet.gh.state
      .latestStatuses(FULL_NAME, fleet.headSha)
      .find((s) => s.context === PIPELINE_CONTEXT)
    expect(pipeline?.state).toBe('pending')
  })

  it('runs a --noop promotion from workflow_dispatch inputs without deploying', async () => {
    fleet.gh.review(FULL_NAME, fleet.parent, {
      user: fleet.users.approver.login,
      state: 'APPROVED',
      commitId: fleet.headSha,
    })
    const before = await fleet.snapshot()
    const event = fleet.gh.workflowDispatchEvent(FULL_NAME, 'main', {
      pr: String(fleet.parent),
      target: '*-prod-*',
      noop: true,
    })
    const result = await run('workflow_dispatch', event)
    expect(result.exitCode, result.stdout).toBe(0)
    expect(result.outputs.decision, result.outputs.reason).toBe('noop')
    expect(JSON.parse(result.outputs.environments ?? '[]')).toHaveLength(5)
    expect(await fleet.snapshot()).toEqual(before)
    const reply = fleet.gh.state.comments(FULL_NAME, fleet.parent).at(-1)?.body ?? ''
    expect(reply).toContain('🧪 fleet-promote: dry run (--noop)')
    expect(reply).toContain('`.promote *-prod-* --noop`')
  })

  it('answers .help with the grammar and the reactions', async () => {
    const { id, event } = fleet.gh.comment(FULL_NAME, fleet.parent, {
      user: fleet.users.reader.login,
      body: '.help',
    })
    const result = await run('issue_comment', event)
    expect(result.outputs.decision).toBe('done')
    expect(fleet.gh.state.reactions(id).map((r) => r.content)).toEqual(['eyes', 'rocket'])
    expect(fleet.gh.state.comments(FULL_NAME, fleet.parent).at(-1)?.body).toContain(
      '| `.lock <environment\\|stage>... [--reason <text>]` |',
    )
  })

  it('fails the step when a deployment fails, after replying', async () => {
    fleet.argocd.script('eu-prod-1-addons', [{ health: 'Degraded', message: 'ImagePullBackOff' }])
    const { event } = fleet.gh.comment(FULL_NAME, fleet.parent, {
      user: fleet.users.maintainer.login,
      body: '.promote eu-prod-1',
    })
    const result = await run('issue_comment', event)
    expect(result.exitCode).toBe(1)
    expect(result.outputs.decision).toBe('failed')
    expect(result.outputs.reason).toMatch(
      /eu-prod-1: rolled back to env\/eu-prod-1; Argo CD: health Degraded.*ImagePullBackOff/,
    )
    expect(
      result.annotations.some((a) => a.level === 'error' && /ImagePullBackOff/.test(a.message)),
    ).toBe(true)
  })
})

// The bundle a runner runs (dist/, or an esbuild of the sources when dist/ is
// stale) on GitHub's own issue_comment payloads.
describe('promote bundle on real issue_comment payloads', () => {
  let bundles: ActionBundles
  beforeAll(async () => {
    bundles = await actionBundles(['promote'])
  })
  afterAll(async () => {
    await bundles.cleanup()
  })

  async function runBundle(event: Record<string, unknown>) {
    const result = await runAction('promote', {
      github: fleet.gh,
      eventName: 'issue_comment',
      event,
      distDir: bundles.distDir,
      inputs: promoteActionInputs(fleet),
    })
    await result.cleanup()
    return result
  }

  it('ignores a comment on an issue (the payload as GitHub sends it) without a request', async () => {
    fleet.gh.resetRequests()
    const result = await runBundle(webhookExampleFor('issue_comment', 'created', FULL_NAME))
    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.outputs.decision).toBe('ignored')
    expect(result.outputs.reason).toBe('the comment is on an issue, not a pull request')
    expect(fleet.gh.requests).toEqual([])
  })

  it('answers .status typed on the parent pull request', async () => {
    const { id, event } = fleet.gh.comment(FULL_NAME, fleet.parent, {
      user: fleet.users.maintainer.login,
      body: '.status',
    })
    const simulated = event as { issue: { pull_request: unknown }; comment: { user: object } }
    const payload = webhookExampleFor('issue_comment', 'created', FULL_NAME, (real) => {
      const { issue, comment, sender } = real as {
        issue: Record<string, unknown>
        comment: Record<string, unknown> & { user: Record<string, unknown> }
        sender: Record<string, unknown>
      }
      Object.assign(issue, { number: fleet.parent, pull_request: simulated.issue.pull_request })
      Object.assign(comment, { id, body: '.status' })
      Object.assign(comment.user, simulated.comment.user)
      Object.assign(sender, simulated.comment.user)
    })
    const result = await runBundle(payload)
    expect(result.exitCode, result.stdout).toBe(0)
    expect(result.outputs.decision, result.outputs.reason).toBe('done')
    expect(fleet.gh.state.reactions(id).map((r) => r.content)).toEqual(['eyes', 'rocket'])
    const reply = fleet.gh.state.comments(FULL_NAME, fleet.parent).at(-1)?.body ?? ''
    expect(reply).toContain(`\`.status\` by @${fleet.users.maintainer.login} on`)
    expect(reply).toMatch(new RegExp(`8 environments impacted by #${fleet.parent} at [0-9a-f]{7}`))
  })
})
