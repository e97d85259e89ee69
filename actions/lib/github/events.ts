// The webhook payloads the actions read, typed from GitHub's published
// webhook description (@octokit/openapi-webhooks-types, generated from the
// same OpenAPI webhooks spec the simulator validates against). Deeply
// partial: a payload can be hand-made (workflow_dispatch, a test, a replay),
// so every read still checks that the value is there.
import { existsSync, readFileSync } from 'node:fs'
import type { components } from '@octokit/openapi-webhooks-types'

type Schemas = components['schemas']

export type DeepPartial<T> = T extends readonly (infer U)[]
  ? readonly DeepPartial<U>[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> | undefined }
    : T

export type PullRequestPayload = DeepPartial<
  | Schemas['webhook-pull-request-opened']
  | Schemas['webhook-pull-request-synchronize']
  | Schemas['webhook-pull-request-reopened']
  | Schemas['webhook-pull-request-closed']
  | Schemas['webhook-pull-request-labeled']
>
export type IssueCommentPayload = DeepPartial<Schemas['webhook-issue-comment-created']>
export type StatusPayload = DeepPartial<Schemas['webhook-status']>
export type CheckRunPayload = DeepPartial<Schemas['webhook-check-run-completed']>
export type CheckSuitePayload = DeepPartial<Schemas['webhook-check-suite-completed']>
export type MergeGroupPayload = DeepPartial<Schemas['webhook-merge-group-checks-requested']>
export type PushPayload = DeepPartial<Schemas['webhook-push']>
export type WorkflowDispatchPayload = DeepPartial<Schemas['webhook-workflow-dispatch']>

/** Any event's payload, as the runner passes it (`github.context.payload`). */
export type EventPayload = Record<string, unknown>

/**
 * The event that started the run, read as @actions/github's `context` reads
 * it (GITHUB_EVENT_NAME; the JSON at GITHUB_EVENT_PATH, `{}` without one),
 * for an action that needs nothing else of that package: loading it (Octokit
 * and its plugins) cost detect-impact ~4.5 MiB of peak memory.
 */
export function workflowEvent(env: NodeJS.ProcessEnv = process.env): {
  eventName: string
  payload: EventPayload
} {
  const path = env.GITHUB_EVENT_PATH
  let payload: EventPayload = {}
  if (path && existsSync(path)) payload = JSON.parse(readFileSync(path, 'utf8')) as EventPayload
  else if (path) process.stdout.write(`GITHUB_EVENT_PATH ${path} does not exist\n`)
  return { eventName: env.GITHUB_EVENT_NAME ?? '', payload }
}
