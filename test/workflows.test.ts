// The reusable workflows and the caller files users copy: the properties the
// security model and the README promise, which actionlint does not check.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'

const root = fileURLToPath(new URL('..', import.meta.url))

interface Step {
  uses?: string
  with?: Record<string, unknown>
  run?: string
}
interface Job {
  permissions?: Record<string, string>
  steps?: Step[]
  uses?: string
  with?: Record<string, unknown>
  secrets?: Record<string, unknown>
}
interface Workflow {
  on: Record<string, unknown> & {
    workflow_call?: { inputs?: Record<string, { required?: boolean }>; secrets?: object }
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

it('ships one reusable workflow and one caller per trigger', () => {
  const names = ['closed', 'command', 'pr', 'status']
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
    // The first checkout of each job is the suite at suite-ref, into the workspace root.
    for (const [name, job] of Object.entries(workflow.jobs)) {
      const checkouts = (job.steps ?? []).filter((s) => s.uses?.startsWith('actions/checkout@'))
      expect(checkouts[0]?.with, `job ${name}`).toMatchObject({
        repository: '${{ inputs.suite-repository }}',
        ref: '${{ inputs.suite-ref }}',
        'persist-credentials': false,
      })
      expect(checkouts[0]?.with?.path, `job ${name}`).toBeUndefined()
    }
    expect(workflow.on.workflow_call?.inputs?.['suite-ref']?.required).toBe(true)
  })

  it('keeps the fleet repository (PR content) out of the workspace root, as data', () => {
    const dataCheckouts = steps.filter(
      (s) => s.uses?.startsWith('actions/checkout@') && s.with?.repository === undefined,
    )
    for (const checkout of dataCheckouts) expect(checkout.with?.path).toBe('dry')
    for (const step of steps.filter((s) => s.uses?.startsWith('./actions/'))) {
      const needsRepo = ['detect-impact', 'hydrate', 'open-child-prs', 'merge-cleanup']
      if (needsRepo.some((name) => step.uses === `./actions/${name}`)) {
        expect(step.with?.['working-directory'], step.uses).toBe('dry')
      }
    }
  })

  it('takes the GitHub App key and the Argo CD token as secrets, never as inputs', () => {
    const inputs = Object.keys(workflow.on.workflow_call?.inputs ?? {})
    expect(inputs.filter((name) => /key|token|secret|password/i.test(name))).toEqual([])
    expect(Object.keys(workflow.on.workflow_call?.secrets ?? {})).toContain('app-private-key')
  })
})

describe.each(callers)('%s', (path) => {
  const workflow = load(path)
  const jobs = Object.values(workflow.jobs)

  it('calls the matching reusable workflow with the same suite ref', () => {
    expect(jobs).toHaveLength(1)
    const job = jobs[0] as Job
    const name = path.split('/').pop() ?? ''
    const match = /^fleet-promote\/fleet-promote\/\.github\/workflows\/([\w-]+\.yml)@(.+)$/.exec(
      job.uses ?? '',
    )
    expect(match?.[1]).toBe(name)
    expect(job.with?.['suite-ref']).toBe(match?.[2])
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
