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
 * The render tree, filled environment by environment: only the regular files
 * the safety walk resolved and checked below each root (a symlink becomes a
 * copy of the checked file it points to; nothing is followed here), each
 * copied once however many roots hold it.
 */
export class RenderTree {
  private readonly copies = new Map<string, Promise<void>>()
  private readonly dirs = new Map<string, Promise<unknown>>()

  constructor(
    private readonly check: RepoCheck,
    readonly dir: string,
  ) {}

  /** Files copied so far. */
  get files(): number {
    return this.copies.size
  }

  /** Copies what is not in the tree yet of these (repository-relative) roots. */
  async add(roots: Iterable<string>): Promise<void> {
    const unique = [...new Set(roots)]
    const files = (await Promise.all(unique.map((root) => this.check.filesBelow(root)))).flat()
    await Promise.all([
      ...unique.map((root) => this.mkdir(join(this.dir, root))),
      ...files.map((file) => this.copy(file.source, file.path)),
    ])
  }

  private copy(source: string, path: string): Promise<void> {
    let done = this.copies.get(path)
    if (!done) {
      const to = join(this.dir, path)
      done = this.mkdir(dirname(to)).then(() =>
        copyFile(this.check.abs(source), to, constants.COPYFILE_FICLONE),
      )
      this.copies.set(path, done)
    }
    return done
  }

  private mkdir(dir: string): Promise<unknown> {
    let done = this.dirs.get(dir)
    if (!done) {
      done = mkdir(dir, { recursive: true })
      this.dirs.set(dir, done)
    }
    return done
  }
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
