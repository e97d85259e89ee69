/** Matches request paths to OpenAPI path templates. */
import type { RouteDef } from './http.js'
import { actionsRoutes } from './handlers/actions.js'
import { deploymentRoutes } from './handlers/deployments.js'
import { gitDataRoutes } from './handlers/git-data.js'
import { historyRoutes } from './handlers/history.js'
import { issueRoutes } from './handlers/issues.js'
import { pullRoutes } from './handlers/pulls.js'
import { repoRoutes } from './handlers/repos.js'
import { statusRoutes } from './handlers/statuses.js'

/** Parameters that may contain slashes (git refs, branch names and file paths). */
const GREEDY = new Set(['ref', 'branch', 'path', 'tree_sha', 'basehead'])

interface CompiledRoute {
  def: RouteDef
  pattern: RegExp
  names: string[]
  literalLength: number
}

function compile(def: RouteDef): CompiledRoute {
  const names: string[] = []
  const source = def.template
    .replace(/[.*+?^$()|[\]\\]/g, '\\$&')
    .replace(/\{(\w+)\}/g, (_match, name: string) => {
      names.push(name)
      return GREEDY.has(name) ? '(.+?)' : '([^/]+)'
    })
  return {
    def,
    pattern: new RegExp(`^${source}$`),
    names,
    literalLength: def.template.replace(/\{\w+\}/g, '').length,
  }
}

export const ROUTES: readonly RouteDef[] = [
  ...repoRoutes,
  ...pullRoutes,
  ...issueRoutes,
  ...statusRoutes,
  ...deploymentRoutes,
  ...gitDataRoutes,
  ...historyRoutes,
  ...actionsRoutes,
]

// The most specific templates first: `/commits/{ref}/status` before `/commits/{ref}`.
const compiled = ROUTES.map(compile).sort((a, b) => b.literalLength - a.literalLength)

export type RouteMatch =
  | { kind: 'found'; def: RouteDef; params: Record<string, string> }
  | { kind: 'method-not-allowed'; template: string }
  | { kind: 'none' }

export function matchRoute(method: string, path: string): RouteMatch {
  let template: string | undefined
  for (const route of compiled) {
    const match = route.pattern.exec(path)
    if (!match) continue
    if (route.def.method !== method) {
      template ??= route.def.template
      continue
    }
    const params: Record<string, string> = {}
    route.names.forEach((name, index) => {
      params[name] = decodeURIComponent(match[index + 1] ?? '')
    })
    return { kind: 'found', def: route.def, params }
  }
  return template ? { kind: 'method-not-allowed', template } : { kind: 'none' }
}
