// What each WET branch (or each environment's folder on a shared one) holds
// now: its tip and the rendered files on it. One `ls-remote` and one `fetch`
// for all branches of the run; a branch that does not exist means "no
// previous render" (baseSha '').
import type { Git } from '../git/git.js'
import { MANAGED_LIST } from '../git/wet-commit.js'
import { isManagedManifestPath } from './objects.js'
import { METADATA_FILE } from './output.js'

/** Where an environment's render goes: a WET branch, and its folder on it when the branch is shared. */
export interface WetPlace {
  branch: string
  folder?: string
}

/**
 * The key of a place in the state maps: the branch, or `branch:folder` for a
 * folder (":" is in no branch name, so the key splits back unambiguously).
 */
export function wetKey(place: WetPlace): string {
  return place.folder === undefined ? place.branch : `${place.branch}:${place.folder}`
}

function placeOf(key: string): WetPlace {
  const colon = key.indexOf(':')
  return colon === -1
    ? { branch: key }
    : { branch: key.slice(0, colon), folder: key.slice(colon + 1) }
}

export interface WetState {
  /** Tip of the WET branch, '' when it does not exist. */
  sha: string
  /** Managed manifest files in its place (manifest.yaml and per-resource files), path (relative to the folder) → text. */
  files: Map<string, string>
  /** Its `hydrator.metadata` (the folder's, on a shared branch), when it has one. */
  metadata?: string
}

/**
 * Reads the WET branches, keyed by `wetKey` (a plain branch name reads the
 * branch root). With a remote, they are fetched into
 * `refs/remotes/<remote>/<branch>`; without one (local CLI use), local
 * `refs/heads/<branch>` or an already fetched `refs/remotes/origin/<branch>` is read.
 */
export async function readWetStates(
  git: Git,
  keys: readonly string[],
  remote?: string,
): Promise<Map<string, WetState>> {
  const unique = [...new Set(keys.map((key) => placeOf(key).branch))].sort()
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
  return readWetContents(
    git,
    new Map(keys.map((key) => [key, tips.get(placeOf(key).branch) ?? ''])),
  )
}

/**
 * The managed files (and `hydrator.metadata`) of WET tips already in the
 * repository, `wetKey` → state; '' as a tip means the branch does not exist.
 * A folder's files are read below it, named relative to it. A few `git
 * cat-file` processes for any number of branches.
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
  const prefixes = present.map(([key]) => {
    const folder = placeOf(key).folder
    return folder === undefined ? '' : `${folder}/`
  })
  const heads = await read(
    present.flatMap(([, sha], index) => [
      `${sha}:${prefixes[index]}${MANAGED_LIST}`,
      `${sha}:${prefixes[index]}${METADATA_FILE}`,
    ]),
  )
  // The WET writer lists the files it manages; without a list, recognise them by path.
  const listings = new Map<string, Promise<string[]>>()
  const candidates = await Promise.all(
    present.map(async ([, sha], index) => {
      const list = heads[index * 2]
      const prefix = prefixes[index] ?? ''
      let paths: string[]
      if (list !== undefined) {
        paths = list.split('\n').map((line) => line.trim())
      } else {
        let listing = listings.get(sha)
        if (!listing) listings.set(sha, (listing = git.listFiles(sha)))
        paths = (await listing)
          .filter((path) => path.startsWith(prefix))
          .map((path) => path.slice(prefix.length))
      }
      return [
        ...new Set(paths.filter((path) => path.endsWith('.yaml') && isManagedManifestPath(path))),
      ].sort()
    }),
  )
  const texts = await read(
    present.flatMap(([, sha], index) =>
      (candidates[index] ?? []).map((path) => `${sha}:${prefixes[index]}${path}`),
    ),
  )
  const states = new Map<string, WetState>()
  let offset = 0
  present.forEach(([key, sha], index) => {
    const files = new Map<string, string>()
    for (const path of candidates[index] ?? []) {
      const text = texts[offset++]
      if (text !== undefined) files.set(path, text)
    }
    const metadata = heads[index * 2 + 1]
    states.set(key, { sha, files, ...(metadata !== undefined ? { metadata } : {}) })
  })
  for (const [key, sha] of tips) {
    if (sha === '') states.set(key, { sha: '', files: new Map() })
  }
  return states
}
