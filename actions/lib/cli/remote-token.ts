// The CLI's credential for an HTTP(S) `--remote`: FLEET_PROMOTE_GIT_TOKEN, the
// way hydrate's `token` input is the action's. A variable of its own, never an
// argument (a command line is visible to every process) and never a general
// GITHUB_TOKEN a shell may hold for another host; sent to the remote's host only.
import { UserError } from '../errors.js'
import { Git, GitCredentialsError, type GitOptions } from '../git/git.js'

const TOKEN_VARIABLE = 'FLEET_PROMOTE_GIT_TOKEN'

export interface RemoteCredentials {
  remote: string
  /** The remote's `scheme://host[:port]`; undefined for an SSH (or unreadable) URL. */
  server?: string
  git: GitOptions
}

/** Where `remote` of `repoDir` lives and the git options that send it the token, when one is set. */
export async function remoteCredentials(
  repoDir: string,
  remote: string,
): Promise<RemoteCredentials> {
  const url = await new Git(repoDir).raw(['remote', 'get-url', remote])
  const parsed = url.code === 0 ? URL.parse(url.stdout.trim()) : null
  const server = parsed && /^https?:$/.test(parsed.protocol) ? parsed.origin : undefined
  const token = process.env[TOKEN_VARIABLE]
  return {
    remote,
    ...(server ? { server } : {}),
    git: token && server ? { token, serverUrl: server } : {},
  }
}

/** A remote that asked for credentials git does not have, with how to give them. */
export function withCredentialsAdvice(error: unknown, credentials: RemoteCredentials): unknown {
  if (!(error instanceof GitCredentialsError)) return error
  const where = credentials.server ? `sent to ${credentials.server} only` : 'for an HTTPS remote'
  return new UserError(
    `${error.message}: set ${TOKEN_VARIABLE} to a token that can read the repository of --remote ` +
      `${credentials.remote} (${where}, as hydrate's \`token\` input), or give git a credential helper (\`gh auth setup-git\`)`,
  )
}
