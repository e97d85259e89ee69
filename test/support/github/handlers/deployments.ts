/** Deployments and deployment statuses. */
import {
  intParam,
  notFound,
  paginate,
  requireRepo,
  requireUser,
  stringField,
  validationFailed,
  type RouteDef,
} from '../http.js'
import type { SimDeployment, SimDeploymentStatus } from '../types.js'
import { resolveCommit } from './repos.js'

const DEPLOYMENT_STATES: ReadonlyArray<SimDeploymentStatus['state']> = [
  'error',
  'failure',
  'inactive',
  'pending',
  'success',
  'queued',
  'in_progress',
]

export const deploymentRoutes: RouteDef[] = [
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/deployments',
    access: 'read',
    handler: (req, ctx) => {
      const filters = ['sha', 'ref', 'task', 'environment'] as const
      const deployments = ctx.store
        .deployments(requireRepo(req).fullName)
        .filter((deployment) =>
          filters.every((key) => !req.query.get(key) || deployment[key] === req.query.get(key)),
        )
        .reverse()
      return paginate(
        req,
        ctx,
        deployments.map((deployment) => ctx.render.deployment(deployment)),
      )
    },
  },
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/deployments',
    access: 'write',
    handler: async (req, ctx) => {
      const repo = requireRepo(req)
      const user = requireUser(req)
      const ref = stringField(req, 'ref', true) ?? ''
      const sha = await resolveCommit(req, ref).catch(() => {
        throw validationFailed('Deployment', 'ref', `No ref found for: ${ref}`, 'custom')
      })
      const environment = stringField(req, 'environment') ?? 'production'
      const payload = req.body.payload
      const deployment: SimDeployment = {
        id: ctx.store.nextId(),
        repo: repo.fullName,
        ref,
        sha,
        task: stringField(req, 'task') ?? 'deploy',
        environment,
        payload:
          typeof payload === 'string' || (payload !== null && typeof payload === 'object')
            ? (payload as SimDeployment['payload'])
            : {},
        description: stringField(req, 'description') ?? null,
        transientEnvironment: req.body.transient_environment === true,
        // GitHub's default: true for the environment named `production` only.
        productionEnvironment:
          typeof req.body.production_environment === 'boolean'
            ? req.body.production_environment
            : environment === 'production',
        creator: user.login,
        createdAt: ctx.store.now(),
        statuses: [],
      }
      ctx.store.deploymentList.push(deployment)
      return { status: 201, body: ctx.render.deployment(deployment) }
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/deployments/{deployment_id}/statuses',
    access: 'read',
    handler: (req, ctx) => {
      const id = intParam(req, 'deployment_id')
      const deployment = ctx.store
        .deployments(requireRepo(req).fullName)
        .find((candidate) => candidate.id === id)
      if (!deployment) throw notFound()
      return paginate(
        req,
        ctx,
        [...deployment.statuses]
          .reverse()
          .map((status) => ctx.render.deploymentStatus(deployment, status)),
      )
    },
  },
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/deployments/{deployment_id}/statuses',
    access: 'write',
    handler: (req, ctx) => {
      const id = intParam(req, 'deployment_id')
      const user = requireUser(req)
      const deployment = ctx.store
        .deployments(requireRepo(req).fullName)
        .find((candidate) => candidate.id === id)
      if (!deployment) throw notFound()
      const state = stringField(req, 'state', true) as SimDeploymentStatus['state']
      if (!DEPLOYMENT_STATES.includes(state)) {
        throw validationFailed(
          'DeploymentStatus',
          'state',
          'state is not included in the list',
          'invalid',
        )
      }
      const description = stringField(req, 'description') ?? ''
      if (description.length > 140) {
        throw validationFailed(
          'DeploymentStatus',
          'description',
          'description is too long (maximum is 140 characters)',
        )
      }
      const status: SimDeploymentStatus = {
        id: ctx.store.nextId(),
        state,
        description,
        environment: stringField(req, 'environment') ?? deployment.environment,
        environmentUrl: stringField(req, 'environment_url') ?? '',
        logUrl: stringField(req, 'log_url') ?? stringField(req, 'target_url') ?? '',
        creator: user.login,
        createdAt: ctx.store.now(),
      }
      deployment.statuses.push(status)
      return { status: 201, body: ctx.render.deploymentStatus(deployment, status) }
    },
  },
]
