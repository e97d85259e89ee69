// The run-scoped render tree. kustomize with Helm pulls charts into
// `<kustomization>/<chartHome>/<name>-<version>/` and reads the chart's
// values.yaml through its root-only loader (a symlink into a shared cache is
// refused: its real path is outside the root). So instead of rendering in the
// DRY checkout (which must never be written) we copy the vetted kustomization
// roots once per run into a private tree, and hard-link each pulled chart from
// the shared cache to where kustomize looks. Roots are shared between
// environments (bases, components), so a fleet of 500 overlays copies each file
// once; the copy holds only vetted files, so the render cannot read anything the
// safety walk did not see.
import { copyFile, constants, link, mkdir, readdir, realpath, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'

/** Copies the union of kustomization roots (repository-relative) from repoDir into treeDir. */
export async function buildRenderTree(
  repoDir: string,
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
  let files = 0
  for (const root of top) {
    files += await copyTree(join(repoDir, root), join(treeDir, root), new Set())
  }
  return files
}

/** Copies a directory; symlinks (already checked to stay inside the repository) become real files. */
async function copyTree(src: string, dst: string, ancestors: ReadonlySet<string>): Promise<number> {
  const real = await realpath(src)
  if (ancestors.has(real)) return 0
  const inside = new Set([...ancestors, real])
  await mkdir(dst, { recursive: true })
  const counts = await Promise.all(
    (await readdir(src, { withFileTypes: true })).map(async (entry) => {
      if (entry.name === '.git') return 0
      const from = join(src, entry.name)
      const to = join(dst, entry.name)
      const isDir =
        entry.isDirectory() || (entry.isSymbolicLink() && (await stat(from)).isDirectory())
      if (isDir) return copyTree(from, to, inside)
      if (!entry.isFile() && !entry.isSymbolicLink()) return 0
      await copyFile(from, to, constants.COPYFILE_FICLONE)
      return 1
    }),
  )
  return counts.reduce((sum, n) => sum + n, 0)
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
