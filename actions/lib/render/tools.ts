// The render tools and the sealed environment they run in.
import { constants } from 'node:fs'
import { access, chmod, mkdir, writeFile } from 'node:fs/promises'
import { delimiter, isAbsolute, join } from 'node:path'
import { minimalEnv, runChecked } from '../process.js'
import type { Sandbox } from './sandbox.js'

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
 * tokens, no kubeconfig, and Helm's cache/config/data/plugins below `home`
 * (so no host repositories, registries or plugins apply). `home` is the run
 * directory for chart pulls, or the sandbox's private /tmp for renders.
 */
export function toolEnv(home: string, tmp = join(home, 'tmp')): NodeJS.ProcessEnv {
  const helmDir = join(home, 'helm')
  return minimalEnv({
    HOME: join(home, 'home'),
    TMPDIR: tmp,
    XDG_CONFIG_HOME: join(home, 'home/.config'),
    XDG_CACHE_HOME: join(home, 'home/.cache'),
    XDG_DATA_HOME: join(home, 'home/.local/share'),
    KUBECONFIG: '/dev/null',
    HELM_CACHE_HOME: join(helmDir, 'cache'),
    HELM_CONFIG_HOME: join(helmDir, 'config'),
    HELM_DATA_HOME: join(helmDir, 'data'),
    HELM_PLUGINS: join(helmDir, 'plugins'),
    HELM_REGISTRY_CONFIG: join(helmDir, 'config/registry.json'),
    HELM_REPOSITORY_CONFIG: join(helmDir, 'config/repositories.yaml'),
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
  })
}

/** toolEnv with its directories created (and an empty repository list for `helm pull`). */
export async function sealedToolEnv(runDir: string): Promise<NodeJS.ProcessEnv> {
  const env = toolEnv(runDir)
  for (const key of [
    'HOME',
    'TMPDIR',
    'HELM_CACHE_HOME',
    'HELM_CONFIG_HOME',
    'HELM_DATA_HOME',
    'HELM_PLUGINS',
  ])
    await mkdir(env[key] as string, { recursive: true })
  await writeFile(env.HELM_REPOSITORY_CONFIG as string, 'apiVersion: ""\nrepositories: []\n')
  return env
}

export interface ToolVersions {
  kustomize: string
  helm: string
}

export async function toolVersions(
  kustomize: string,
  helm: string,
  env: NodeJS.ProcessEnv,
  sandbox?: Sandbox,
): Promise<ToolVersions> {
  const run = (program: string, args: string[]) => {
    const [command, argv] = sandbox
      ? sandbox.command(program, args, { readOnly: [program], cwd: '/' })
      : [program, args]
    return runChecked(command, argv, { env, timeoutMs: 30_000 })
  }
  // Both at once: each is a process start (in a sandbox) before anything renders.
  const [k, h] = await Promise.all([run(kustomize, ['version']), run(helm, ['version', '--short'])])
  return {
    kustomize: k.stdout.trim().split('\n')[0] ?? '',
    helm: h.stdout.trim().split('\n')[0] ?? '',
  }
}

export interface ShimPaths {
  /** The render tree: every chart and values file kustomize names is below it. */
  tree: string
  /** The temp dir kustomize writes its merged values file to (its TMPDIR). */
  tmp: string
  /** The shell it runs with (the sandbox binds this one, not /bin/sh). */
  shell: string
}

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`

/**
 * The `--helm-command` kustomize gets: a tiny sh script that answers
 * `helm version --short` itself (kustomize asks before every chart; a Go
 * process start is ~55 ms, a third of a small render) and lets through only
 * the exact shape of `helm template` that kustomize v5.8.1 emits (api
 * v0.21.1 HelmChart.AsHelmArgs), in its order:
 *
 *   template <release | --generate-name> <tree>/…/<chart>
 *     [--namespace <ns>] [-f <values>]… [--api-versions <v>]… [--kube-version <v>]
 *     [--include-crds] [--skip-tests] [--no-hooks] [--debug] [--devel]
 *
 * with each value in its grammar (release names as Helm validates them,
 * namespaces as DNS-1123 labels, chart and values paths below the render tree
 * or kustomize's temp dir, no `..`). Anything else (`pull`, `--set-file`,
 * `--output-dir`, `--post-renderer`, `--dependency-update`, a `-f` elsewhere…)
 * is refused, so kustomize can never fetch a chart nor run a plugin.
 */
export async function writeHelmShim(
  runDir: string,
  helm: string,
  version: string,
  paths: ShimPaths,
): Promise<string> {
  const safeVersion = version.replace(/[^A-Za-z0-9.+-]/g, '')
  const script = `#!${paths.shell}
# Written by fleet-promote for one render run: the helm command lines kustomize emits, nothing else.
tree=${quote(paths.tree)}
tmp=${quote(paths.tmp)}
refuse() { echo "fleet-promote: helm $1 is not allowed during a render" >&2; exit 1; }
release() {
  case "$1" in ''|*[!a-z0-9.-]*|[.-]*|*[.-]|*..*|*.-*|*-.*) return 1 ;; esac
  [ "\${#1}" -le 53 ]
}
label() {
  case "$1" in ''|*[!a-z0-9-]*|-*|*-) return 1 ;; esac
  [ "\${#1}" -le 63 ]
}
below() {
  case "$1" in "$2"/*) ;; *) return 1 ;; esac
  case "$1" in */../*|*/..|*/./*|*/.|*//*) return 1 ;; esac
}
word() {
  case "$1" in ''|-*|*[!A-Za-z0-9./+-]*) return 1 ;; esac
}
if [ "$#" -eq 2 ] && [ "$1" = version ] && [ "$2" = --short ]; then
  echo ${quote(safeVersion)}
  exit 0
fi
[ "$1" = template ] || refuse "$1 (charts come from the cache)"
state=command
stage=0
for arg do
  case "$state" in
    command) state=release; continue ;;
    release)
      [ "$arg" = --generate-name ] || release "$arg" || refuse "release name $arg"
      state=chart; continue ;;
    chart) below "$arg" "$tree" || refuse "chart $arg"; state=option; continue ;;
    namespace) label "$arg" || refuse "--namespace $arg"; state=option; continue ;;
    values) below "$arg" "$tree" || below "$arg" "$tmp" || refuse "-f $arg"; state=option; continue ;;
    api) word "$arg" || refuse "--api-versions $arg"; state=option; continue ;;
    kube) word "$arg" || refuse "--kube-version $arg"; state=option; continue ;;
  esac
  # Options in kustomize's order; -f and --api-versions repeat.
  case "$arg" in
    --namespace) next=1 state=namespace ;;
    -f) next=2 state=values ;;
    --api-versions) next=3 state=api ;;
    --kube-version) next=4 state=kube ;;
    --include-crds) next=5 ;;
    --skip-tests) next=6 ;;
    --no-hooks) next=7 ;;
    --debug) next=8 ;;
    --devel) next=9 ;;
    *) refuse "$arg" ;;
  esac
  if [ "$next" -lt "$stage" ] || { [ "$next" -eq "$stage" ] && [ "$next" -ne 2 ] && [ "$next" -ne 3 ]; }; then
    refuse "$arg here"
  fi
  stage=$next
done
[ "$state" = option ] || refuse "template without a chart"
exec ${quote(helm)} "$@"
`
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
