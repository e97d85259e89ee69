/**
 * GitHub's GraphQL endpoint, for the one query the suite sends: `viewer`,
 * which GitHub answers for every token kind (a PAT's user, an App
 * installation's `<slug>[bot]`, a workflow's `github-actions[bot]`), where
 * REST `GET /user` answers 403 for the last two. GHES serves it at
 * `/api/graphql` beside `/api/v3`, which is where Octokit sends it.
 */
import type { SimUser } from './types.js'

export const GRAPHQL_PATH = '/api/graphql'

const VIEWER_QUERY =
  /^\s*(?:query\s*(?:\w+\s*)?)?\{\s*viewer\s*\{\s*((?:login|databaseId)(?:\s+(?:login|databaseId))*)\s*\}\s*\}\s*$/

export function answerGraphql(
  body: unknown,
  user: SimUser | undefined,
): { status: number; body: unknown } {
  // GitHub answers an unauthenticated GraphQL call with 401, an unknown query with 200 and `errors`.
  if (!user) {
    return {
      status: 401,
      body: { message: 'This endpoint requires you to be authenticated.', status: '401' },
    }
  }
  const query = (body as { query?: unknown } | null)?.query
  const fields = typeof query === 'string' ? VIEWER_QUERY.exec(query)?.[1] : undefined
  if (!fields) {
    return {
      status: 200,
      body: {
        errors: [{ message: 'the simulator answers only `{ viewer { login databaseId } }`' }],
      },
    }
  }
  const viewer: Record<string, unknown> = {}
  for (const field of fields.split(/\s+/)) viewer[field] = field === 'login' ? user.login : user.id
  return { status: 200, body: { data: { viewer } } }
}
