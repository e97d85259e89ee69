// What each WET branch holds now: its tip and the rendered files on it. One
// `ls-remote` and one `fetch` for all branches of the run; a branch that does
// not exist means "no previous render" (baseSha '').
import type { Git } from '../git/git.js'
import { MANAGED_LIST } from '../git/wet-commit.js'
import { isManagedManifestPath } from './objects.js'
import { METADATA_FILE } from './output.js'

export interface WetState {
  /** Tip of the WET branch, '' when it does not exist. */
  sha: string
  /** Managed manifest files on it (manifest.yaml and per-resource files), path → text. */
  files: Map<string, string>
  /** Its `hydrator.metadata`, when it has one. */
  metadata?: string
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
  } else if (unique.length > 0) {
    // One process for every branch (a fleet has hundreds): local heads win over origin's.
    const refs = await git.localRefs('refs/heads', 'refs/remotes/origin')
    for (const branch of unique) {
      const sha = refs.get(`refs/heads/${branch}`) ?? refs.get(`refs/remotes/origin/${branch}`)
      if (sha !== undefined) tips.set(branch, sha)
    }
  }
  return readWetContents(git, new Map(unique.map((branch) => [branch, tips.get(branch) ?? ''])))
}

/**
 * The managed files (and `hydrator.metadata`) of WET tips already in the
 * repository, branch → state; '' as a tip means the branch does not exist.
 * A few `git cat-file` processes for any number of branches.
 */
export async function readWetContents(
  git: Git,
  tips: ReadonlyMap<string, string>,
): Promise<Map<string, WetState>> {
  const present = [...tips].filter(([, sha]) => sha !== '')
  const read = async (specs: string[]) => {
    const ids = await git.blobIds(specs)
    const blobs = await git.readBlobs(ids.filter((id): id is string => id !== undefined))
    return specs.map((_, index) => {
      const id = ids[index]
      return id === undefined ? undefined : blobs.get(id)
    })
  }
  const heads = await read(
    present.flatMap(([, sha]) => [`${sha}:${MANAGED_LIST}`, `${sha}:${METADATA_FILE}`]),
  )
  // The WET writer lists the files it manages; without a list, recognise them by path.
  const candidates = await Promise.all(
    present.map(async ([, sha], index) => {
      const list = heads[index * 2]
      const paths =
        list === undefined ? await git.listFiles(sha) : list.split('\n').map((line) => line.trim())
      return [
        ...new Set(paths.filter((path) => path.endsWith('.yaml') && isManagedManifestPath(path))),
      ].sort()
    }),
  )
  const texts = await read(
    present.flatMap(([, sha], index) => (candidates[index] ?? []).map((path) => `${sha}:${path}`)),
  )
  const states = new Map<string, WetState>()
  let offset = 0
  present.forEach(([branch, sha], index) => {
    const files = new Map<string, string>()
    for (const path of candidates[index] ?? []) {
      const text = texts[offset++]
      if (text !== undefined) files.set(path, text)
    }
    const metadata = heads[index * 2 + 1]
    states.set(branch, { sha, files, ...(metadata !== undefined ? { metadata } : {}) })
  })
  for (const [branch, sha] of tips) {
    if (sha === '') states.set(branch, { sha: '', files: new Map() })
  }
  return states
}
