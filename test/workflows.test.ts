// The reusable workflows and the caller files users copy: the properties the
// security model and the README promise, which actionlint does not check.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { runProcess } from '../actions/lib/process.js'
import { canonicalSuite } from '../scripts/suite-ref.mjs'
import { condition, evaluate } from './support/expressions.js'
import { webhookExample } from './support/webhook-examples.js'

const root = fileURLToPath(new URL('..', import.meta.url))

interface Step {
  id?: string
  name?: string
  env?: Record<string, string>
  uses?: string
  with?: Record<string, unknown>
  run?: string
}
interface Job {
  if?: string
  permissions?: Record<string, string>
  steps?: Step[]
  uses?: string
  with?: Record<string, unknown>
  secrets?: Record<string, unknown>
}
interface Workflow {
  on: Record<string, unknown> & {
    workflow_call?: {
      inputs?: Record<string, { required?: boolean; default?: unknown }>
      secrets?: object
    }
  }
  permissions?: Record<string, string>
  concurrency?: { group: string; 'cancel-in-progress': boolean }
  jobs: Record<string, Job>
}

function load(path: string): Workflow {
  return parse(readFileSync(join(root, path), 'utf8')) as Workflow
}

const reusable = readdirSync(join(root, '.github/workflows'))
  .filter((file) => file.startsWith('fleet-promote-'))
  .map((file) => `.github/workflows/${file}`)
const callers = readdirSync(join(root, 'examples/workflows')).map(
  (file) => `examples/workflows/${file}`,
)
const suite = canonicalSuite(root)
// Every job of every reusable workflow starts with this same step (checked below).
const suiteStep = load('.github/workflows/fleet-promote-pr.yml').jobs.detect?.steps?.find(
  (step) => step.id === 'suite',
) as Step

it('ships one reusable workflow and one caller per trigger', () => {
  const names = ['closed', 'command', 'pr', 'report', 'status']
  expect(reusable.sort()).toEqual(
    names.map((name) => `.github/workflows/fleet-promote-${name}.yml`),
  )
  expect(callers.sort()).toEqual(
    names.map((name) => `examples/workflows/fleet-promote-${name}.yml`),
  )
})

describe.each(reusable)('%s', (path) => {
  const workflow = load(path)
  const steps = Object.values(workflow.jobs).flatMap((job) => job.steps ?? [])

  it('is only callable, with no default token permissions and explicit ones per job', () => {
    expect(Object.keys(workflow.on)).toEqual(['workflow_call'])
    expect(workflow.permissions).toEqual({})
    for (const [name, job] of Object.entries(workflow.jobs)) {
      expect(job.permissions, `job ${name}`).toBeDefined()
      for (const level of Object.values(job.permissions ?? {}))
        expect(['read', 'write']).toContain(level)
    }
  })

  it('queues runs per parent pull request (or commit) instead of cancelling them', () => {
    expect(workflow.concurrency?.['cancel-in-progress']).toBe(false)
    expect(workflow.concurrency?.group).toMatch(/^fleet-promote-\$\{\{ github\.repository \}\}-/)
  })

  it('pins every third-party action to a commit SHA and runs the suite from the pinned checkout', () => {
    for (const step of steps.filter((s) => s.uses)) {
      const uses = step.uses ?? ''
      if (uses.startsWith('./')) expect(uses).toMatch(/^\.\/actions\/[a-z-]+$/)
      else expect(uses, uses).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/)
    }
    // The first checkout of each job is the suite at the commit the suite step decided,
    // into the workspace root, right after that step.
    for (const [name, job] of Object.entries(workflow.jobs)) {
      const jobSteps = job.steps ?? []
      const first = jobSteps.findIndex((s) => s.uses?.startsWith('actions/checkout@'))
      expect(jobSteps[first]?.with, `job ${name}`).toMatchObject({
        repository: '${{ steps.suite.outputs.repository }}',
        ref: '${{ steps.suite.outputs.ref }}',
        'persist-credentials': false,
      })
      expect(jobSteps[first]?.with?.path, `job ${name}`).toBeUndefined()
      expect(jobSteps[first - 1], `job ${name}`).toEqual(suiteStep)
    }
    // Optional: the called commit is the default.
    expect(workflow.on.workflow_call?.inputs?.['suite-ref']).toMatchObject({ default: '' })
    expect(workflow.on.workflow_call?.inputs?.['suite-repository']).toMatchObject({ default: '' })
  })

  it('keeps the fleet repository (PR content) out of the workspace root, as data', () => {
    const dataCheckouts = steps.filter(
      (s) => s.uses?.startsWith('actions/checkout@') && s.with?.repository === undefined,
    )
    for (const checkout of dataCheckouts) expect(checkout.with?.path).toBe('dry')
    for (const step of steps.filter((s) => s.uses?.startsWith('./actions/'))) {
      const needsRepo = [
        'detect-impact',
        'hydrate',
        'open-child-prs',
        'merge-cleanup',
        'fleet-report',
      ]
      if (needsRepo.some((name) => step.uses === `./actions/${name}`)) {
        expect(step.with?.['working-directory'], step.uses).toBe('dry')
      }
    }
  })

  it('saves no credentials in any checkout, and starts the sandbox before every render', () => {
    for (const [name, job] of Object.entries(workflow.jobs)) {
      const jobSteps = job.steps ?? []
      for (const checkout of jobSteps.filter((s) => s.uses?.startsWith('actions/checkout@')))
        expect(checkout.with?.['persist-credentials'], `job ${name}`).toBe(false)
      const render = jobSteps.findIndex(
        (s) =>
          (s.uses === './actions/hydrate' && s.with?.environments !== '[]') ||
          s.uses === './actions/merge-cleanup',
      )
      if (render < 0) continue
      const sandbox = jobSteps.findIndex((s) => s.run === 'bash scripts/install-sandbox.sh')
      expect(sandbox, `job ${name} installs bubblewrap`).toBeGreaterThanOrEqual(0)
      expect(sandbox, `job ${name}`).toBeLessThan(render)
      if (jobSteps[render]?.uses === './actions/hydrate')
        expect(jobSteps[render]?.with?.token, `job ${name}`).toBe('${{ github.token }}')
    }
  })

  it('takes the GitHub App key and the Argo CD token as secrets, never as inputs', () => {
    const inputs = Object.keys(workflow.on.workflow_call?.inputs ?? {})
    expect(inputs.filter((name) => /key|token|secret|password/i.test(name))).toEqual([])
    expect(Object.keys(workflow.on.workflow_call?.secrets ?? {})).toContain('app-private-key')
  })
})

describe.each(['command', 'pr'])('verify-env of fleet-promote-%s.yml', (name) => {
  const workflow = load(`.github/workflows/fleet-promote-${name}.yml`)

  it('is an optional secret that only the promote steps receive, as their verify-env input', () => {
    expect(workflow.on.workflow_call?.secrets).toHaveProperty('verify-env', {
      description: expect.stringContaining('NAME=value') as unknown,
      required: false,
    })
    expect(workflow.on.workflow_call?.inputs).not.toHaveProperty('verify-env')
    const reading: string[] = []
    for (const [jobName, job] of Object.entries(workflow.jobs)) {
      const { steps, ...rest } = job
      expect(JSON.stringify(rest), `job ${jobName}`).not.toContain('secrets.verify-env')
      for (const step of steps ?? [])
        if (JSON.stringify(step).includes('secrets.verify-env')) reading.push(step.uses ?? '')
    }
    const promoteSteps = Object.values(workflow.jobs)
      .flatMap((job) => job.steps ?? [])
      .filter((step) => step.uses === './actions/promote')
    expect(promoteSteps.length).toBeGreaterThan(0)
    expect(reading).toEqual(promoteSteps.map(() => './actions/promote'))
    for (const step of promoteSteps) {
      expect(step.with?.['verify-env']).toBe('${{ secrets.verify-env }}')
      expect(step.env).toBeUndefined()
    }
  })
})

describe('the suite step (which fleet-promote commit a job runs)', () => {
  const SHA = 'a'.repeat(40)
  const called = (ref: string) => ({
    status: 'success',
    workflow_repository: 'fleet-promote/fleet-promote',
    workflow_sha: SHA,
    workflow_ref: `fleet-promote/fleet-promote/.github/workflows/fleet-promote-pr.yml@${ref}`,
    workflow_file_path: '.github/workflows/fleet-promote-pr.yml',
  })

  // As the runner runs it: bash -eo pipefail, the env the step declares, $GITHUB_OUTPUT.
  async function decide(job: object, inputs: { ref?: string; repository?: string } = {}) {
    const scratch = await mkdtemp(join(tmpdir(), 'fleet-promote-suite-step-'))
    try {
      const output = join(scratch, 'output')
      const run = await runProcess(
        'bash',
        ['--noprofile', '--norc', '-eo', 'pipefail', '-c', suiteStep.run ?? ''],
        {
          env: {
            PATH: process.env.PATH,
            GITHUB_OUTPUT: output,
            JOB_CONTEXT: JSON.stringify(job),
            SUITE_REF: inputs.ref ?? '',
            SUITE_REPOSITORY: inputs.repository ?? '',
          },
        },
      )
      const outputs = Object.fromEntries(
        (await readFile(output, 'utf8').catch(() => ''))
          .split('\n')
          .filter(Boolean)
          .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
      )
      return { code: run.code, error: run.stdout, outputs }
    } finally {
      await rm(scratch, { recursive: true, force: true })
    }
  }

  it('reads the called workflow from the job context and the inputs', () => {
    expect(suiteStep.env).toEqual({
      JOB_CONTEXT: '${{ toJSON(job) }}',
      SUITE_REF: '${{ inputs.suite-ref }}',
      SUITE_REPOSITORY: '${{ inputs.suite-repository }}',
    })
  })

  it('runs the called commit when suite-ref is empty, from the called repository', async () => {
    expect(await decide(called('refs/tags/v1'))).toEqual({
      code: 0,
      error: '',
      outputs: { repository: 'fleet-promote/fleet-promote', ref: SHA },
    })
    const mirror = await decide(called('refs/tags/v1'), { repository: 'acme/fleet-promote' })
    expect(mirror.outputs).toEqual({ repository: 'acme/fleet-promote', ref: SHA })
  })

  it('accepts a suite-ref naming the called ref, and still runs the called commit', async () => {
    for (const [ref, at] of [
      ['v1', 'refs/tags/v1'],
      ['refs/tags/v1', 'refs/tags/v1'],
      ['main', 'refs/heads/main'],
      [SHA, SHA],
      [SHA, 'refs/tags/v1'],
    ] as const) {
      const result = await decide(called(at), { ref })
      expect(result, `${ref} at ${at}`).toMatchObject({ code: 0, outputs: { ref: SHA } })
    }
  })

  it('fails naming both refs when suite-ref names another one', async () => {
    const result = await decide(called('refs/tags/v1'), { ref: 'v0.1.0' })
    expect(result.code).toBe(1)
    expect(result.outputs).toEqual({})
    expect(result.error).toContain("suite-ref 'v0.1.0' is not the ref this workflow was called at")
    expect(result.error).toContain('fleet-promote-pr.yml@refs/tags/v1')
    expect((await decide(called('refs/tags/v1'), { ref: 'v11' })).code).toBe(1)
  })

  it('uses suite-ref where the runner has no job.workflow_sha, and fails without either', async () => {
    expect(await decide({ status: 'success' }, { ref: 'v1' })).toEqual({
      code: 0,
      error: '',
      outputs: { repository: suite.repository, ref: 'v1' },
    })
    const neither = await decide({ status: 'success' })
    expect(neither.code).toBe(1)
    expect(neither.outputs).toEqual({})
    expect(neither.error).toMatch(
      /^::error title=fleet-promote suite-ref::.*job\.workflow_sha.*set the suite-ref input/,
    )
  })
})

describe('the status workflow', () => {
  it('listens to statuses and completed check suites, and aggregates at the head SHA of each (real payloads)', () => {
    const caller = load('examples/workflows/fleet-promote-status.yml')
    expect(caller.on).toEqual({ status: null, check_suite: { types: ['completed'] } })
    const step = Object.values(load('.github/workflows/fleet-promote-status.yml').jobs)
      .flatMap((job) => job.steps ?? [])
      .find((s) => s.uses === './actions/aggregate-status')
    const sha = /^\$\{\{(.*)\}\}$/.exec(step?.with?.sha as string)?.[1] ?? ''
    const events: [string, string | undefined, (payload: Record<string, unknown>) => unknown][] = [
      ['status', undefined, (p) => p.sha],
      ['check_suite', 'completed', (p) => (p.check_suite as { head_sha: string }).head_sha],
      ['check_run', 'completed', (p) => (p.check_run as { head_sha: string }).head_sha],
    ]
    for (const [name, action, headSha] of events) {
      const event = webhookExample(name, action)
      expect(headSha(event), name).toMatch(/^[0-9a-f]{40}$/)
      expect(evaluate(sha, { github: { event_name: name, event } }), name).toBe(headSha(event))
    }
  })
})

describe('the command workflow', () => {
  const workflow = load('.github/workflows/fleet-promote-command.yml')
  const job = workflow.jobs.promote as Job
  const comment = (association: string, login = 'someone', type = 'User') => ({
    event_name: 'issue_comment',
    github: {
      event_name: 'issue_comment',
      event: {
        issue: { number: 7, pull_request: { url: 'https://api.github.com/x' } },
        comment: {
          body: '.promote production',
          author_association: association,
          user: { login, type },
        },
      },
    },
    inputs: { 'command-prefix': '.', 'allow-bots': '["renovate[bot]"]' },
  })
  const starts = (context: ReturnType<typeof comment>) => condition(job.if ?? '', { ...context })

  it('starts the privileged job only for owners, members and collaborators', () => {
    for (const association of ['OWNER', 'MEMBER', 'COLLABORATOR'])
      expect(starts(comment(association)), association).toBe(true)
    for (const association of [
      'CONTRIBUTOR',
      'FIRST_TIME_CONTRIBUTOR',
      'FIRST_TIMER',
      'NONE',
      'MANNEQUIN',
    ])
      expect(starts(comment(association)), association).toBe(false)
  })

  it('starts it for a bot only when allow-bots lists it, and never for a look-alike user', () => {
    expect(starts(comment('NONE', 'renovate[bot]', 'Bot'))).toBe(true)
    expect(starts(comment('NONE', 'dependabot[bot]', 'Bot'))).toBe(false)
    expect(starts(comment('NONE', 'renovate[bot]', 'User'))).toBe(false)
    expect(workflow.on.workflow_call?.inputs?.['allow-bots']).toMatchObject({ default: '[]' })
  })

  it('ignores other comments and issues, and always runs a dispatch', () => {
    const other = comment('OWNER')
    other.github.event.comment.body = 'looks good'
    expect(starts(other)).toBe(false)
    const issue = comment('OWNER')
    delete (issue.github.event.issue as { pull_request?: unknown }).pull_request
    expect(starts(issue)).toBe(false)
    expect(condition(job.if ?? '', { github: { event_name: 'workflow_dispatch' } })).toBe(true)
  })

  it('mints the app token only inside the job, after that condition', () => {
    expect(job.steps?.[0]?.uses).toMatch(/^actions\/create-github-app-token@/)
    expect(job.if).toContain('author_association')
  })
})

describe.each(callers)('%s', (path) => {
  const workflow = load(path)
  const jobs = Object.values(workflow.jobs)

  it('calls the matching reusable workflow at the one ref, with no second copy of it', () => {
    expect(jobs).toHaveLength(1)
    const job = jobs[0] as Job
    const name = path.split('/').pop() ?? ''
    expect(job.uses).toBe(`${suite.repository}/.github/workflows/${name}@${suite.ref}`)
    expect(job.with).not.toHaveProperty('suite-ref')
    expect(job.with).not.toHaveProperty('suite-repository')
    expect(job.secrets?.['app-private-key']).toBe('${{ secrets.FLEET_PROMOTE_APP_PRIVATE_KEY }}')
  })

  it('grants the token no more than the reusable workflow asks for', () => {
    const called = load(`.github/workflows/${path.split('/').pop() ?? ''}`)
    const needed: Record<string, string> = {}
    for (const job of Object.values(called.jobs)) {
      for (const [scope, level] of Object.entries(job.permissions ?? {})) {
        if (level === 'write' || !needed[scope]) needed[scope] = level
      }
    }
    expect(workflow.permissions).toEqual(needed)
  })
})
