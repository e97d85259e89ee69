// The root kustomizations of a real fleet at one revision, shared by the
// benchmarks that run on redhat-appstudio/infra-deployments.
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Git } from '../../../actions/lib/git/git.js'
import {
  KUSTOMIZATION_FILE_NAMES,
  KustomizationCache,
  parentDir,
  RevisionGraph,
  RevisionTree,
} from '../../../actions/lib/kustomize/graph.js'

/** The kustomization directories no other one loads, whose own graph is free of problems. */
export async function rootDirectories(git: Git, rev: string) {
  const tree = new RevisionTree(rev, await git.listBlobs(rev))
  const dirs = [
    ...new Set(
      [...tree.files.keys()]
        .filter((path) => KUSTOMIZATION_FILE_NAMES.includes(path.slice(path.lastIndexOf('/') + 1)))
        .map(parentDir),
    ),
  ]
  const cache = new KustomizationCache((oids) => git.readBlobs(oids))
  await cache.preload(tree.kustomizationBlobIds())
  const whole = new RevisionGraph(tree, cache)
  whole.addRoots(dirs)
  const loaded = new Set<string>()
  for (const node of whole.nodes.values())
    for (const child of node.children) if (child !== node.dir) loaded.add(child)
  const unreferenced = dirs.filter((dir) => !loaded.has(dir))
  const buildable = unreferenced.filter((dir) => {
    const one = new RevisionGraph(tree, cache)
    one.addRoots([dir])
    return one.issues.length === 0
  })
  return {
    files: tree.files.size,
    kustomizations: dirs.length,
    unreferenced: unreferenced.length,
    roots: buildable.sort(),
  }
}

/** The bare clone a real-fleet benchmark reads (`--repo`, default: the local mirror); exits 2 without it. */
export function fleetSource(benchmark: string, repo: string | undefined): string {
  const source = resolve(repo ?? '/work/.mirror/redhat-appstudio+infra-deployments/repo')
  if (!existsSync(source)) {
    process.stderr.write(
      `${benchmark}: --repo ${source}: no such repository (a bare clone of redhat-appstudio/infra-deployments)\n`,
    )
    process.exit(2)
  }
  return source
}
