// What each WET branch holds now: its tip and the rendered files on it. One
// `ls-remote` and one `fetch` for all branches of the run; a branch that does
// not exist means "no previous render" (baseSha '').
import type { Git } from '../git/git.js'
import { MANAGED_LIST } from '../git/wet-commit.js'
import { isManagedManifestPath } from './objects.js'

export interface WetState {
  /** Tip of the WET branch, '' when it does not exist. */
  sha: string
  /** Managed manifest files on it (manifest.yaml and per-resource files), path → text. */
  files: Map<string, string>
}

/**
 * Reads the WET branches. With a remote, they are fetched into
 * `refs/remotes/<remote>/<branch>`; without one (local CLI use), local
 * `refs/heads/<branch>` or an already fetched `refs/remotes/origin/<branch>` is read.
 */
export async function readWetStates(
  git: Git,
  branches: readonly string[],
  remote?: string,
): Promise<Map<string, WetState>> {
  const unique = [...new Set(branches)].sort()
  const tips = new Map<string, string>()
  if (remote !== undefined && unique.length > 0) {
    const refs = await git.lsRemote(
      remote,
      unique.map((branch) => `refs/heads/${branch}`),
    )
    const refspecs: string[] = []
    for (const branch of unique) {
      const sha = refs.get(`refs/heads/${branch}`)
      if (sha === undefined) continue
      tips.set(branch, sha)
      refspecs.push(`+refs/heads/${branch}:refs/remotes/${remote}/${branch}`)
    }
    // Keep a shallow checkout shallow; a full clone fetches normally (no new shallow grafts).
    if (refspecs.length > 0)
      await git.fetch(remote, refspecs, (await git.isShallow()) ? { depth: 1 } : {})
  } else {
    for (const branch of unique) {
      const sha =
        (await git.tryRevParse(`refs/heads/${branch}`)) ??
        (await git.tryRevParse(`refs/remotes/origin/${branch}`))
      if (sha !== undefined) tips.set(branch, sha)
    }
  }
  const states = new Map<string, WetState>()
  for (const branch of unique) {
    const sha = tips.get(branch) ?? ''
    const files = new Map<string, string>()
    if (sha !== '') {
      // The WET writer lists the files it manages; without a list, recognise them by path.
      const list = await git.showFile(sha, MANAGED_LIST)
      const candidates =
        list === undefined ? await git.listFiles(sha) : list.split('\n').map((line) => line.trim())
      const manifests = candidates.filter(
        (path) => path.endsWith('.yaml') && isManagedManifestPath(path),
      )
      for (const path of [...new Set(manifests)].sort()) {
        const text = await git.showFile(sha, path)
        if (text !== undefined) files.set(path, text)
      }
    }
    states.set(branch, { sha, files })
  }
  return states
}
