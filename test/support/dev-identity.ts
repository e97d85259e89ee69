/** A fixed git identity and dates for test repositories, so their commits have stable SHAs. */
export const DEV_IDENTITY = {
  GIT_AUTHOR_NAME: 'Dev',
  GIT_AUTHOR_EMAIL: 'dev@example.test',
  GIT_AUTHOR_DATE: '2026-01-02T03:04:05+01:00',
  GIT_COMMITTER_NAME: 'Dev',
  GIT_COMMITTER_EMAIL: 'dev@example.test',
  GIT_COMMITTER_DATE: '2026-01-02T03:04:06+01:00',
}

/** Every file of a commit, path → text. */
export async function commitTree(
  git: {
    listFiles(rev: string): Promise<string[]>
    showFile(rev: string, path: string): Promise<string | undefined>
  },
  sha: string,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const path of await git.listFiles(sha)) out[path] = (await git.showFile(sha, path)) ?? ''
  return out
}
