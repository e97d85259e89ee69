/**
 * Plays a Kargo Promotion of examples/kargo/ the way Kargo's controller runs
 * it (pkg/promotion, pkg/api/promotion.go, the built-in steps), for tests and
 * the demo: the Stage's promotion template with its PromotionTasks inflated
 * (aliases `<task>::<step>`, task defaults before the task step's vars),
 * `if`/`continueOnError`/`success()`/`failure()`/`status()` as Kargo decides
 * them, every config rendered by ./expr.ts and checked against the step's
 * published schema, then run:
 *
 *   compose-output  its config becomes its outputs
 *   http            the request is sent as written (fetch); success, failure
 *                   and outputs are judged on the response as Kargo does;
 *                   a response that meets neither is polled again
 *   argocd-update   Kargo edits the Application through the Kubernetes API;
 *   argocd-wait     with no Kubernetes here, the same changes go through the
 *                   Argo CD API (targetRevision, a sync to it), and the waits
 *                   read the Application the same way (authorized-stage
 *                   annotation, exact repoURL match, synced revision, health
 *                   regressing to Degraded ends the wait)
 *
 * Kargo's pacing is not played: the player polls every `pollMs` and bounds
 * each step by `timeoutMs` instead of the step's `retry.timeout`.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { isIP } from 'node:net'
import { parseAllDocuments } from 'yaml'
import type { ArgoCdApplication, ArgoCdClient } from '../../../actions/lib/argocd/client.js'
import { evaluate, quote, renderConfig, renderTemplate, type Env, type Value } from './expr.js'
import { stepConfigValidator } from '../crd-schemas/validate.js'

type Json = Record<string, unknown>

export interface KargoStepSpec {
  uses?: string
  task?: { name: string; kind?: string }
  as?: string
  if?: string
  continueOnError?: boolean
  retry?: { timeout?: string; errorThreshold?: number }
  vars?: KargoVar[]
  config?: Json
}

export interface KargoVar {
  name: string
  value?: string
}

interface StageSpec {
  requestedFreight: { origin: { kind: string; name: string }; sources: Json }[]
  vars?: KargoVar[]
  promotionTemplate: { spec: { vars?: KargoVar[]; steps: KargoStepSpec[] } }
}

export interface KargoProject {
  name: string
  stages: Map<string, StageSpec>
  tasks: Map<string, { vars?: KargoVar[]; steps: KargoStepSpec[] }>
  warehouses: Map<string, Json>
}

/** The Project, Stages, PromotionTasks and Warehouses in a directory of manifests. */
export function loadKargoProject(dir: string): KargoProject {
  const project: KargoProject = {
    name: '',
    stages: new Map(),
    tasks: new Map(),
    warehouses: new Map(),
  }
  for (const file of readdirSync(dir).filter((name) => /\.ya?ml$/.test(name))) {
    for (const document of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      const object = document.toJS({ maxAliasCount: 100 }) as
        { kind?: string; metadata: { name: string }; spec: never } | undefined
      if (!object) continue
      if (object.kind === 'Project') project.name = object.metadata.name
      if (object.kind === 'Stage') project.stages.set(object.metadata.name, object.spec)
      if (object.kind === 'PromotionTask') project.tasks.set(object.metadata.name, object.spec)
      if (object.kind === 'Warehouse') project.warehouses.set(object.metadata.name, object.spec)
    }
  }
  if (!project.name) throw new Error(`${dir}: no Kargo Project`)
  return project
}

export interface FreightCommit {
  repoURL: string
  id: string
  tag?: string
}

export interface Freight {
  name: string
  /** The Warehouse it comes from. */
  origin: string
  commits: FreightCommit[]
}

export type StepStatus = 'Succeeded' | 'Failed' | 'Errored' | 'Skipped'

export interface SentRequest {
  method: string
  url: string
  headers: Record<string, string>
  body?: string
  status: number
}

export interface StepRecord {
  alias: string
  uses: string
  status: StepStatus
  continueOnError: boolean
  message?: string
  outputs?: Record<string, Value>
  /** The HTTP requests an http step sent, in order (polling repeats them). */
  requests: SentRequest[]
}

export interface PromotionRecord {
  name: string
  stage: string
  freight: Freight
  phase: 'Succeeded' | 'Failed' | 'Errored'
  steps: StepRecord[]
}

export interface KargoPlayerOptions {
  project: KargoProject
  /** Secrets of the Project's namespace, for `secret(name)`. */
  secrets: Record<string, Record<string, string>>
  /** Stands in for the controller's access to Application resources. */
  argocd: ArgoCdClient
  /** Promotion-template variables added to the Stage's (they override task defaults, as in Kargo). */
  vars?: KargoVar[]
  uiBaseUrl?: string
  pollMs?: number
  timeoutMs?: number
  log?: (line: string) => void
}

const AUTHORIZED_STAGE = 'kargo.akuity.io/authorized-stage'
const SEPARATOR = '::'

interface PlannedStep extends KargoStepSpec {
  alias: string
  uses: string
}

/** Kargo's InflateSteps: task steps replace the task step, with namespaced aliases and the task's vars. */
export function inflateSteps(
  project: KargoProject,
  steps: readonly KargoStepSpec[],
  promotionVars: readonly KargoVar[],
): PlannedStep[] {
  return steps.flatMap((step, i): PlannedStep[] => {
    if (!step.task) return [{ ...step, alias: step.as || `step-${i + 1}`, uses: step.uses ?? '' }]
    const alias = step.as || `task-${i + 1}`
    const task = project.tasks.get(step.task.name)
    if (!task || (step.task.kind && step.task.kind !== 'PromotionTask')) {
      throw new Error(`${alias}: no PromotionTask ${step.task.name} in the project`)
    }
    const setOnPromotion = new Set(promotionVars.filter((v) => v.value).map((v) => v.name))
    const setOnStep = new Set((step.vars ?? []).filter((v) => v.value).map((v) => v.name))
    const vars: KargoVar[] = []
    for (const variable of task.vars ?? []) {
      if (setOnPromotion.has(variable.name)) continue
      if (variable.value) vars.push(variable)
      else if (!setOnStep.has(variable.name)) {
        throw new Error(`${alias}: missing value for variable "${variable.name}"`)
      }
    }
    vars.push(...(step.vars ?? []))
    return task.steps.map((taskStep, j) => ({
      ...structuredClone(taskStep),
      alias: `${alias}${SEPARATOR}${taskStep.as || `step-${j + 1}`}`,
      uses: taskStep.uses ?? '',
      vars: [...vars, ...(taskStep.vars ?? [])],
    }))
  })
}

function namespaceOf(alias: string): string {
  const parts = alias.split(SEPARATOR)
  return parts.length === 2 ? (parts[0] as string) : ''
}

function shortAlias(alias: string): string {
  return alias.split(SEPARATOR).at(-1) as string
}

function duration(text: string | undefined): number | undefined {
  if (!text) return undefined
  let total = 0
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(amount) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms']
  }
  return total
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms))

class StepFailure extends Error {
  constructor(
    readonly status: 'Failed' | 'Errored',
    message: string,
  ) {
    super(message)
  }
}

export class KargoPlayer {
  private promotions = 0

  constructor(private readonly options: KargoPlayerOptions) {}

  /** Runs one Promotion of `freight` to `stage`; `collection` is the Stage's other current Freight. */
  async promote(
    stage: string,
    freight: Freight,
    collection: Freight[] = [],
  ): Promise<PromotionRecord> {
    const { project } = this.options
    const spec = project.stages.get(stage)
    if (!spec) throw new Error(`no Stage ${stage} in the Kargo project ${project.name}`)
    if (!spec.requestedFreight.some((request) => request.origin.name === freight.origin)) {
      throw new Error(`Stage ${stage} does not request Freight from Warehouse ${freight.origin}`)
    }
    const promotionVars = [
      ...(spec.vars ?? []),
      ...(spec.promotionTemplate.spec.vars ?? []),
      ...(this.options.vars ?? []),
    ]
    const steps = inflateSteps(project, spec.promotionTemplate.spec.steps, promotionVars)
    const name = `${stage}.${String(++this.promotions).padStart(4, '0')}.${freight.commits[0]?.id.slice(0, 7) ?? freight.name}`
    const ctx = {
      uiBaseUrl: this.options.uiBaseUrl ?? 'https://kargo.example.com',
      project: project.name,
      stage,
      promotion: name,
      targetFreight: { name: freight.name, alias: freight.name, origin: { name: freight.origin } },
      meta: { promotion: { actor: 'kargo', rollback: false }, step: { alias: '' } },
    }
    const freightCollection = [freight, ...collection.filter((f) => f.origin !== freight.origin)]
    const records: StepRecord[] = []
    const outputs: Record<string, Record<string, Value>> = {}
    const hasFailures = () =>
      records.some(
        (record) =>
          !record.continueOnError && (record.status === 'Failed' || record.status === 'Errored'),
      )
    for (const step of steps) {
      const record: StepRecord = {
        alias: step.alias,
        uses: step.uses,
        status: 'Skipped',
        continueOnError: step.continueOnError === true,
        requests: [],
      }
      const namespace = namespaceOf(step.alias)
      const functions = {
        ...this.freightFunctions(freightCollection),
        secret: (name: Value) => this.options.secrets[String(name)] ?? {},
        quote,
        always: () => true,
        success: () => !hasFailures(),
        failure: () => hasFailures(),
        status: (alias: Value) =>
          records.find(
            (r) => namespaceOf(r.alias) === namespace && shortAlias(r.alias) === String(alias),
          )?.status ?? '',
      }
      const taskOutputs = Object.fromEntries(
        Object.entries(outputs)
          .filter(([alias]) => namespace !== '' && namespaceOf(alias) === namespace)
          .map(([alias, value]) => [shortAlias(alias), value]),
      )
      try {
        const stepCtx = { ...ctx, meta: { ...ctx.meta, step: { alias: step.alias } } }
        const vars: Record<string, Value> = {}
        for (const variable of promotionVars) {
          vars[variable.name] = renderTemplate(variable.value ?? '', {
            ctx: stepCtx,
            vars: { ...vars },
            ...functions,
          })
        }
        const env: Env = {
          ctx: stepCtx,
          outputs,
          task: { outputs: taskOutputs },
          vars,
          ...functions,
        }
        for (const variable of step.vars ?? []) {
          vars[variable.name] = renderTemplate(variable.value ?? '', { ...env, vars: { ...vars } })
        }
        const run = step.if ? renderTemplate(step.if, env) : !hasFailures()
        if (typeof run !== 'boolean')
          throw new StepFailure('Errored', `if: ${step.if} is not a bool`)
        if (run) {
          const config = renderConfig(step.config ?? {}, env) as Json
          const check = stepConfigValidator(step.uses)
          if (!check(config)) {
            throw new StepFailure(
              'Failed',
              `invalid ${step.uses} config: ${JSON.stringify(check.errors?.slice(0, 3))}`,
            )
          }
          const produced = await this.runStep(step, config, stage, record)
          record.status = 'Succeeded'
          if (produced) {
            record.outputs = produced
            outputs[step.alias] = produced
          }
        }
      } catch (error) {
        record.status = error instanceof StepFailure ? error.status : 'Errored'
        record.message = error instanceof Error ? error.message : String(error)
      }
      records.push(record)
      this.options.log?.(
        `${name} ${step.alias} (${step.uses}): ${record.status}${record.message ? ` — ${record.message}` : ''}`,
      )
    }
    const failed = records.filter(
      (r) => !r.continueOnError && (r.status === 'Failed' || r.status === 'Errored'),
    )
    return {
      name,
      stage,
      freight,
      phase:
        failed.length === 0
          ? 'Succeeded'
          : failed.some((r) => r.status === 'Errored')
            ? 'Errored'
            : 'Failed',
      steps: records,
    }
  }

  private freightFunctions(collection: readonly Freight[]) {
    return {
      warehouse: (name: Value) => ({ Kind: 'Warehouse', Name: String(name) }),
      commitFrom: (repoURL: Value, origin?: Value) => {
        const wanted = (origin as { Name?: string } | undefined)?.Name
        const matches = collection.filter(
          (f) => (!wanted || f.origin === wanted) && f.commits.some((c) => c.repoURL === repoURL),
        )
        if (!wanted && matches.length > 1) {
          throw new Error(
            `multiple Freight could provide a commit from ${String(repoURL)}: pass warehouse(…)`,
          )
        }
        const commit = matches[0]?.commits.find((c) => c.repoURL === repoURL)
        return commit
          ? { RepoURL: commit.repoURL, ID: commit.id, Tag: commit.tag ?? '', Branch: '' }
          : null
      },
    }
  }

  private deadline(step: PlannedStep): number {
    const bound = this.options.timeoutMs ?? 30_000
    return Date.now() + Math.min(bound, duration(step.retry?.timeout) ?? bound)
  }

  private async runStep(
    step: PlannedStep,
    config: Json,
    stage: string,
    record: StepRecord,
  ): Promise<Record<string, Value> | undefined> {
    switch (step.uses) {
      case 'compose-output':
        return config
      case 'http':
        return this.http(step, config, record)
      case 'argocd-update':
        await this.argocdUpdate(step, config, stage)
        return undefined
      case 'argocd-wait':
        await this.argocdWait(step, config)
        return undefined
      default:
        throw new StepFailure('Errored', `the player does not run ${step.uses} steps`)
    }
  }

  private async http(
    step: PlannedStep,
    config: Json,
    record: StepRecord,
  ): Promise<Record<string, Value> | undefined> {
    const url = new URL(String(config.url))
    for (const param of (config.queryParams as { name: string; value: string }[] | undefined) ??
      []) {
      url.searchParams.append(param.name, param.value)
    }
    const host = url.hostname.replace(/^\[|\]$/g, '')
    if (isIP(host) && /^(169\.254\.|fe[89ab][0-9a-f]:)/i.test(host)) {
      throw new StepFailure(
        'Errored',
        `connections to link-local addresses are not permitted (${host})`,
      )
    }
    const headers: Record<string, string> = {}
    for (const header of (config.headers as { name: string; value: string }[] | undefined) ?? []) {
      headers[header.name] = header.value
    }
    const method = typeof config.method === 'string' ? config.method : 'GET'
    const body = typeof config.body === 'string' ? config.body : undefined
    const deadline = this.deadline(step)
    for (;;) {
      const response = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
      })
      const text = await response.text()
      record.requests.push({
        method,
        url: url.toString(),
        headers,
        ...(body !== undefined ? { body } : {}),
        status: response.status,
      })
      let parsed: Value = {}
      try {
        parsed = text ? (JSON.parse(text) as Value) : {}
      } catch {
        parsed = {}
      }
      const env: Env = {
        response: {
          status: response.status,
          headers: Object.fromEntries(response.headers),
          header: (name: Value) => response.headers.get(String(name)) ?? '',
          body: parsed,
        },
      }
      const judge = (expression: unknown) =>
        typeof expression === 'string' && expression !== '' ? evaluate(expression, env) : undefined
      const success = judge(config.successExpression)
      const failure = judge(config.failureExpression)
      if (success !== undefined && typeof success !== 'boolean')
        throw new StepFailure('Errored', 'successExpression did not evaluate to a boolean')
      if (failure !== undefined && typeof failure !== 'boolean')
        throw new StepFailure('Errored', 'failureExpression did not evaluate to a boolean')
      if (failure === true) {
        throw new StepFailure('Failed', `HTTP (${response.status}) response met failure criteria`)
      }
      const succeeded =
        success === true || (success === undefined && failure === undefined && response.ok)
      if (succeeded) {
        return Object.fromEntries(
          ((config.outputs as { name: string; fromExpression: string }[] | undefined) ?? []).map(
            (output) => [output.name, evaluate(output.fromExpression, env)],
          ),
        )
      }
      if (success === undefined && failure === undefined) {
        throw new StepFailure('Failed', `HTTP (${response.status}) ${method} ${url.pathname}`)
      }
      if (Date.now() > deadline)
        throw new StepFailure('Failed', `timed out polling ${url.pathname}`)
      await sleep(this.options.pollMs ?? 20)
    }
  }

  private async application(name: string, namespace: unknown): Promise<ArgoCdApplication> {
    const app = await this.options.argocd.getApplication(name)
    const actual = app.metadata.namespace
    if (typeof namespace === 'string' && actual && actual !== namespace) {
      throw new StepFailure('Errored', `Application ${namespace}/${name} not found`)
    }
    return app
  }

  private async argocdUpdate(step: PlannedStep, config: Json, stage: string): Promise<void> {
    const { argocd, project } = this.options
    for (const update of config.apps as Json[]) {
      const name = String(update.name)
      const app = await this.application(name, update.namespace)
      const authorized = (app.metadata.annotations?.[AUTHORIZED_STAGE] ?? '')
        .split(',')
        .map((entry) => entry.trim().replace(/\s*:\s*/, ':'))
      if (!authorized.includes(`${project.name}:${stage}`)) {
        throw new StepFailure(
          'Errored',
          `Argo CD Application ${name} does not permit mutation by Kargo Stage ${project.name}:${stage} (annotation ${AUTHORIZED_STAGE})`,
        )
      }
      const sources = app.spec.sources?.length
        ? app.spec.sources
        : app.spec.source
          ? [app.spec.source]
          : []
      const desired: string[] = sources.map(() => '')
      for (const source of (update.sources as Json[] | undefined) ?? []) {
        const index = sources.findIndex(
          (s) => s.repoURL === source.repoURL && (s.chart ?? '') === (source.chart ?? ''),
        )
        if (index < 0) {
          throw new StepFailure(
            'Errored',
            `Application ${name} has no source with repoURL ${String(source.repoURL)}`,
          )
        }
        const revision = typeof source.desiredRevision === 'string' ? source.desiredRevision : ''
        desired[index] = revision
        if (source.updateTargetRevision === true) {
          await argocd.setTargetRevision(
            name,
            revision,
            app.spec.sources?.length ? { sourceIndex: index } : {},
          )
        }
      }
      await argocd.sync(name)
      const deadline = this.deadline(step)
      for (;;) {
        const current = await argocd.getApplication(name)
        const state = current.status?.operationState
        if (
          !current.operation &&
          state?.phase &&
          state.phase !== 'Running' &&
          state.phase !== 'Terminating'
        ) {
          if (state.phase !== 'Succeeded') {
            throw new StepFailure(
              'Failed',
              `sync of ${name} ${state.phase}: ${state.message ?? ''}`,
            )
          }
          const observed = state.syncResult?.revisions?.length
            ? state.syncResult.revisions
            : [state.syncResult?.revision ?? '']
          const mismatch = observed.some((revision, i) => desired[i] && revision !== desired[i])
          if (mismatch) {
            throw new StepFailure(
              'Errored',
              `sync result revisions ${JSON.stringify(observed)} do not match desired revisions ${JSON.stringify(desired)}`,
            )
          }
          return
        }
        if (Date.now() > deadline)
          throw new StepFailure('Failed', `timed out waiting for the sync of ${name}`)
        await sleep(this.options.pollMs ?? 20)
      }
    }
  }

  private async argocdWait(step: PlannedStep, config: Json): Promise<void> {
    for (const wait of config.apps as Json[]) {
      const name = String(wait.name)
      const waitFor = (wait.waitFor as string[] | undefined) ?? ['health', 'sync', 'operation']
      const deadline = this.deadline(step)
      let previous = ''
      for (;;) {
        const app = await this.application(name, wait.namespace)
        const health = app.status?.health?.status ?? ''
        const phase = app.status?.operationState?.phase
        const operating = Boolean(app.operation) || phase === 'Running' || phase === 'Terminating'
        if (
          waitFor.includes('health') &&
          health === 'Degraded' &&
          previous !== '' &&
          previous !== 'Degraded' &&
          previous !== 'Unknown'
        ) {
          throw new StepFailure(
            'Errored',
            `Argo CD Application ${name} health has regressed from ${previous} to ${health}`,
          )
        }
        previous = health || previous
        const healthOk =
          !['health', 'suspended', 'degraded'].some((c) => waitFor.includes(c)) ||
          (waitFor.includes('health') && health === 'Healthy') ||
          (waitFor.includes('suspended') && health === 'Suspended') ||
          (waitFor.includes('degraded') && health === 'Degraded')
        const ready =
          !(waitFor.includes('operation') && operating) &&
          healthOk &&
          (!waitFor.includes('sync') || app.status?.sync?.status === 'Synced')
        if (ready) break
        if (Date.now() > deadline) {
          throw new StepFailure(
            'Failed',
            `timed out waiting for ${name} (${health || 'no health'})`,
          )
        }
        await sleep(this.options.pollMs ?? 20)
      }
    }
  }
}

/** The Freight a Warehouse of examples/kargo makes from a pushed tag. */
export function freightFromTag(origin: string, repoURL: string, tag: string, id: string): Freight {
  return { name: `${origin}-${id.slice(0, 12)}`, origin, commits: [{ repoURL, id, tag }] }
}
