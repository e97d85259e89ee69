// The render tools and the sealed environment they run in.
import { constants } from 'node:fs'
import { access, chmod, mkdir, writeFile } from 'node:fs/promises'
import { delimiter, isAbsolute, join } from 'node:path'
import { minimalEnv, runChecked } from '../process.js'

/** The absolute path of a program found on PATH (so kustomize gets an absolute --helm-command). */
export async function findOnPath(program: string, path = process.env.PATH ?? ''): Promise<string> {
  if (isAbsolute(program)) return program
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, program)
    try {
      await access(candidate, constants.X_OK)
      return candidate
    } catch {
      // not in this directory
    }
  }
  throw new Error(`${program} is not on PATH`)
}

/**
 * The whole environment of kustomize and helm: PATH/HOME/locale only, no
 * tokens, no kubeconfig, and Helm's cache/config/data/plugins inside the
 * run-scoped directory (so no host repositories, registries or plugins apply).
 */
export async function sealedToolEnv(runDir: string): Promise<NodeJS.ProcessEnv> {
  const helmDir = join(runDir, 'helm')
  const dirs = {
    cache: join(helmDir, 'cache'),
    config: join(helmDir, 'config'),
    data: join(helmDir, 'data'),
  }
  const plugins = join(helmDir, 'plugins')
  const home = join(runDir, 'home')
  for (const dir of [...Object.values(dirs), plugins, home]) await mkdir(dir, { recursive: true })
  await writeFile(join(dirs.config, 'repositories.yaml'), 'apiVersion: ""\nrepositories: []\n')
  return minimalEnv({
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_DATA_HOME: join(home, '.local/share'),
    KUBECONFIG: '/dev/null',
    HELM_CACHE_HOME: dirs.cache,
    HELM_CONFIG_HOME: dirs.config,
    HELM_DATA_HOME: dirs.data,
    HELM_PLUGINS: plugins,
    HELM_REGISTRY_CONFIG: join(dirs.config, 'registry.json'),
    HELM_REPOSITORY_CONFIG: join(dirs.config, 'repositories.yaml'),
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
  })
}

export interface ToolVersions {
  kustomize: string
  helm: string
}

export async function toolVersions(
  kustomize: string,
  helm: string,
  env: NodeJS.ProcessEnv,
): Promise<ToolVersions> {
  const k = await runChecked(kustomize, ['version'], { env, timeoutMs: 30_000 })
  const h = await runChecked(helm, ['version', '--short'], { env, timeoutMs: 30_000 })
  return {
    kustomize: k.stdout.trim().split('\n')[0] ?? '',
    helm: h.stdout.trim().split('\n')[0] ?? '',
  }
}

/**
 * The `--helm-command` kustomize gets: a tiny sh script that answers
 * `helm version` itself (kustomize asks before every chart; a Go process start
 * is ~55 ms, a third of a small render), and lets only `helm template` through
 * to the real binary, without --post-renderer or --enable-dns. So kustomize can
 * never `helm pull` (all charts come from our cache) nor run a plugin.
 */
export async function writeHelmShim(
  runDir: string,
  helm: string,
  version: string,
): Promise<string> {
  const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`
  const safeVersion = version.replace(/[^A-Za-z0-9.+-]/g, '')
  const script = [
    '#!/bin/sh',
    '# Written by fleet-promote for one render run: Helm `template` only.',
    'case "$1" in',
    `  version) echo ${quote(safeVersion)}; exit 0 ;;`,
    '  template) ;;',
    '  *) echo "fleet-promote: helm $1 is not allowed during a render (charts come from the cache)" >&2; exit 1 ;;',
    'esac',
    'for arg in "$@"; do',
    '  case "$arg" in',
    '    --post-renderer*|--enable-dns*|--repo*|--kubeconfig*|--kube-context*|--kube-token*|--kube-apiserver*)',
    '      echo "fleet-promote: helm $arg is not allowed during a render" >&2; exit 1 ;;',
    '  esac',
    'done',
    `exec ${quote(helm)} "$@"`,
    '',
  ].join('\n')
  const dir = join(runDir, 'bin')
  await mkdir(dir, { recursive: true })
  const path = join(dir, 'helm')
  await writeFile(path, script)
  await chmod(path, 0o755)
  return path
}

/** The one kustomize invocation: builtins only, root-only loads, Helm `template` via --helm-command. */
export function kustomizeArgs(dir: string, helm: string | undefined): string[] {
  const args = ['build', dir, '--load-restrictor', 'LoadRestrictionsRootOnly']
  if (helm !== undefined) args.push('--enable-helm', '--helm-command', helm)
  return args
}
