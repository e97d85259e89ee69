/**
 * Workflow dispatches, checked the way GitHub checks them: the workflow file
 * must be on the default branch (else 404), `ref` must name a branch or tag,
 * the workflow at that ref must have a `workflow_dispatch` trigger, and the
 * inputs must be the ones it declares, required ones included (else 422,
 * with GitHub's messages). Accepted dispatches are recorded, not run: a
 * test harness runs the workflow they name.
 */
import { parse } from 'yaml'
import { blobBytes, refSha } from '../git-repo.js'
import { HttpError, notFound, requireRepo, stringField, type RouteDef } from '../http.js'
import { resolveCommit } from './repos.js'

interface DispatchInput {
  required?: boolean
  default?: unknown
}

/** The workflow file at a commit, parsed; undefined when there is none. */
async function workflowAt(dir: string, commit: string, path: string): Promise<unknown> {
  const blob = await refSha(dir, `${commit}:${path}`)
  if (!blob) return undefined
  try {
    return parse((await blobBytes(dir, blob)).toString('utf8')) as unknown
  } catch {
    return undefined
  }
}

/** The `workflow_dispatch` inputs a workflow declares; undefined when it has no such trigger. */
function dispatchInputs(workflow: unknown): Record<string, DispatchInput> | undefined {
  const on = (workflow as { on?: unknown } | undefined)?.on
  if (on === 'workflow_dispatch') return {}
  if (Array.isArray(on)) return on.includes('workflow_dispatch') ? {} : undefined
  if (typeof on !== 'object' || on === null || !('workflow_dispatch' in on)) return undefined
  const trigger = (on as { workflow_dispatch?: { inputs?: Record<string, DispatchInput> } | null })
    .workflow_dispatch
  return trigger?.inputs ?? {}
}

export const actionsRoutes: RouteDef[] = [
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches',
    access: 'write',
    handler: async (req, ctx) => {
      const repo = requireRepo(req)
      const id = req.params.workflow_id ?? ''
      const path = `.github/workflows/${id}`
      // GitHub knows a workflow by its file on the default branch.
      const defaultTip = await refSha(repo.path, `refs/heads/${repo.defaultBranch}`)
      if (!defaultTip || (await workflowAt(repo.path, defaultTip, path)) === undefined)
        throw notFound()
      const ref = stringField(req, 'ref', true) ?? ''
      const commit = await resolveCommit(req, ref.replace(/^refs\/(heads|tags)\//, '')).catch(
        () => {
          throw new HttpError(422, `No ref found for: ${ref}`)
        },
      )
      const declared = dispatchInputs(await workflowAt(repo.path, commit, path))
      if (declared === undefined)
        throw new HttpError(422, "Workflow does not have 'workflow_dispatch' trigger")
      const inputs: unknown = req.body.inputs ?? {}
      if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) {
        throw new HttpError(422, "Invalid request.\n\nFor 'inputs', it is not an object.")
      }
      const given = inputs as Record<string, unknown>
      const unexpected = Object.keys(given).filter((name) => !(name in declared))
      if (unexpected.length > 0)
        throw new HttpError(422, `Unexpected inputs provided: ${JSON.stringify(unexpected)}`)
      for (const [name, input] of Object.entries(declared)) {
        if (input.required && input.default === undefined && given[name] === undefined)
          throw new HttpError(422, `Required input '${name}' not provided`)
      }
      ctx.store.dispatchList.push({
        repo: repo.fullName,
        workflowId: id,
        ref,
        inputs: given,
        at: ctx.store.now(),
      })
      return { status: 204 }
    },
  },
]
