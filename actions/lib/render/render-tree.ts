// The run-scoped render tree. kustomize with Helm pulls charts into
// `<kustomization>/<chartHome>/<name>-<version>/` and reads the chart's
// values.yaml through its root-only loader (a symlink into a shared cache is
// refused: its real path is outside the root). So instead of rendering in the
// DRY checkout (which must never be written) we copy the vetted kustomization
// roots once per run into a private tree, and hard-link each pulled chart from
// the shared cache to where kustomize looks. Roots are shared between
// environments (bases, components), so a fleet of 500 overlays copies each file
// once; the copy holds only regular files whose real path the safety walk
// checked, so the render cannot read anything the walk did not see.
import { copyFile, constants, link, mkdir, readdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { RepoCheck } from './safety.js'

/**
 * Copies the union of kustomization roots (repository-relative) into treeDir:
 * only the regular files the safety walk resolved and checked (a symlink
 * becomes a copy of the checked file it points to; nothing is followed here).
 */
export async function buildRenderTree(
  check: RepoCheck,
  treeDir: string,
  roots: Iterable<string>,
): Promise<number> {
  const sorted = [...new Set(roots)].sort()
  const top: string[] = []
  for (const root of sorted) {
    // A root below one already copied comes along with it.
    if (!top.some((parent) => parent === '' || root === parent || root.startsWith(`${parent}/`)))
      top.push(root)
  }
  const files = (await Promise.all(top.map((root) => check.filesBelow(root)))).flat()
  const dirs = new Set(top.map((root) => join(treeDir, root)))
  for (const file of files) dirs.add(dirname(join(treeDir, file.path)))
  for (const dir of [...dirs].sort()) await mkdir(dir, { recursive: true })
  await Promise.all(
    files.map((file) =>
      copyFile(check.abs(file.source), join(treeDir, file.path), constants.COPYFILE_FICLONE),
    ),
  )
  return files.length
}

/** Hard-links every file of a cached chart below `dst` (a copy when links cross file systems). */
export async function linkTree(src: string, dst: string): Promise<void> {
  await mkdir(dst, { recursive: true })
  for (const entry of await readdir(src, { withFileTypes: true })) {
    const from = join(src, entry.name)
    const to = join(dst, entry.name)
    if (entry.isDirectory()) {
      await linkTree(from, to)
    } else {
      await mkdir(dirname(to), { recursive: true })
      try {
        await link(from, to)
      } catch {
        await copyFile(from, to)
      }
    }
  }
}
