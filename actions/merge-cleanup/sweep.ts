// The repair sweep at the end of every run: an Argo CD Application of the
// fleet that runs a child branch which no longer exists (a dropped
// environment, a cleanup that failed half-way, a branch deleted by hand) is
// put back on its WET branch. One Application listing, one ref listing.

import { applicationFacts, restoreApplication } from '../lib/argocd/restore.js'
import { CHILD_BRANCH_PREFIX, parseChildBranch } from '../lib/children.js'
import { argoCdApplicationName } from '../lib/config/config.js'
import type { Environment } from '../lib/config/types.js'
import { errorMessage } from '../lib/errors.js'
import { ArgoCdError } from '../lib/argocd/client.js'
import { repositoryUrl } from './steps.js'
import type { RepairedApplication, RunContext } from './types.js'

export async function repairApplications(
  ctx: RunContext,
  environments: readonly Environment[],
): Promise<RepairedApplication[]> {
  const argocd = ctx.argocd
  const byApplication = new Map<string, Environment>()
  for (const env of environments) {
    const stage = ctx.config.stages.find((s) => s.name === env.stage)
    if ((stage?.backend ?? ctx.config.deploy.backend) !== 'argocd') continue
    try {
      byApplication.set(argoCdApplicationName(ctx.config, env), env)
    } catch {
      // A template that does not expand names no Application: nothing to repair.
    }
  }
  if (!argocd || byApplication.size === 0) return []
  let applications
  try {
    applications = await argocd.listApplications()
  } catch (error) {
    if (!(error instanceof ArgoCdError)) throw error
    ctx.log(`could not list the Argo CD Applications to repair: ${errorMessage(error)}`)
    return []
  }
  const refs = await ctx.git.lsRemote(ctx.options.remote, [`refs/heads/${CHILD_BRANCH_PREFIX}*`])
  const repoURL = repositoryUrl(ctx)
  const repaired: RepairedApplication[] = []
  for (const app of applications) {
    const name = app.metadata?.name ?? ''
    const env = byApplication.get(name)
    const target = applicationFacts(app, repoURL).target
    if (!env || !target || !parseChildBranch(target) || refs.has(`refs/heads/${target}`)) continue
    const tip = await ctx.git.lsRemote(ctx.options.remote, [`refs/heads/${env.branch}`])
    const restored = await restoreApplication(argocd, {
      application: name,
      wetBranch: env.branch,
      ...(env.folder === undefined ? {} : { path: env.folder }),
      wetTip: tip.get(`refs/heads/${env.branch}`) ?? '',
      repoURL,
      mayMove: () => true,
      timeoutMs: ctx.config.deploy.argocd.timeoutSeconds * 1000,
      pollMs: ctx.options.argocdPollMs ?? 5000,
    })
    ctx.log(`repair ${env.name}: ${restored.detail}`)
    repaired.push({ environment: env.name, name, result: restored.result, detail: restored.detail })
  }
  return repaired
}
