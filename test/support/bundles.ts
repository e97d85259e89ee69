// The action bundles the end-to-end tests and the demo run: dist/ itself when
// it was bundled from these sources (dist/inputs.sha256: on CI, in a fresh
// clone, after `npm run bundle`), else a quick esbuild of the sources into a
// temporary directory, so a run during development exercises the code being
// edited. esbuild does not type-check (`npm run typecheck` does) and takes a
// second where ncc takes half a minute per action.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { staleReason } from '../../scripts/dist-inputs.mjs'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** The actions a parent pull request's flow needs, in the order it first needs them. */
export const FLOW_ACTIONS = [
  'detect-impact',
  'hydrate',
  'open-child-prs',
  'promote',
  'aggregate-status',
  'merge-cleanup',
] as const

export interface ActionBundles {
  /** Holds `<name>/index.js` for every requested action. */
  distDir: string
  /** Why dist/ was not used (undefined when it was). */
  rebuiltBecause?: string
  /** Removes a temporary build (nothing for dist/). */
  cleanup(): Promise<void>
}

function entryOf(name: string): string {
  return name === 'cli'
    ? join(ROOT, 'actions', 'lib', 'cli', 'main.ts')
    : join(ROOT, 'actions', name, 'index.ts')
}

export async function actionBundles(
  names: readonly string[],
  options: { rebuild?: boolean } = {},
): Promise<ActionBundles> {
  const stale = options.rebuild ? 'a rebuild was asked for' : staleReason(ROOT)
  if (stale === undefined) {
    return { distDir: join(ROOT, 'dist'), cleanup: async () => {} }
  }
  const distDir = await mkdtemp(join(tmpdir(), 'fleet-promote-bundles-'))
  // The bundles are ESM, as the sources are.
  await writeFile(join(distDir, 'package.json'), '{ "type": "module" }\n')
  await Promise.all(
    names.map((name) =>
      build({
        entryPoints: [entryOf(name)],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        outfile: join(distDir, name, 'index.js'),
        logLevel: 'error',
        // CommonJS dependencies bundled into ESM still call require() for node builtins.
        banner: {
          js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
        },
      }),
    ),
  )
  return {
    distDir,
    rebuiltBecause: stale,
    cleanup: () => rm(distDir, { recursive: true, force: true }),
  }
}
