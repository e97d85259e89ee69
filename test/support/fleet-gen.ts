// Temp git repositories for impact tests and benchmarks, and a generated
// fleet (clusters × components) of any size.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { dirname, join, relative, sep } from 'node:path'
import { Git } from '../../actions/lib/git/git.js'
import { minimalEnv, runProcess } from '../../actions/lib/process.js'

const IDENTITY = {
  GIT_AUTHOR_NAME: 'Fleet Test',
  GIT_AUTHOR_EMAIL: 'fleet-test@example.com',
  GIT_COMMITTER_NAME: 'Fleet Test',
  GIT_COMMITTER_EMAIL: 'fleet-test@example.com',
}

/** File path → content; `null` deletes the file. */
export type FileChanges = Record<string, string | null>

export interface TempRepo {
  dir: string
  git: Git
  /** Applies the changes, commits everything, returns the commit SHA. */
  commit(changes: FileChanges, message?: string): Promise<string>
  cleanup(): Promise<void>
}

export async function createTempRepo(prefix = 'fleet-impact-'): Promise<TempRepo> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  const git = await Git.init(dir, { env: IDENTITY })
  return {
    dir,
    git,
    async commit(changes, message = 'change') {
      const entries = Object.entries(changes)
      // Written in batches: generated fleets have tens of thousands of files.
      for (let i = 0; i < entries.length; i += 64) {
        await Promise.all(
          entries.slice(i, i + 64).map(async ([path, content]) => {
            const file = join(dir, path)
            if (content === null) return rm(file, { force: true })
            await mkdir(dirname(file), { recursive: true })
            await writeFile(file, content)
          }),
        )
      }
      await git.run(['add', '-A'])
      await git.run(['commit', '--quiet', '--allow-empty', '--no-verify', '-m', message])
      return git.revParse('HEAD')
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
}

export interface GeneratedFleetOptions {
  clusters: number
  components: number
  /** Components each cluster uses (a deterministic subset); all when omitted. */
  componentsPerCluster?: number
}

/**
 * A fleet shaped like a real add-on repository: each component has a base
 * (deployment, config map generated from a file in a subdirectory, README)
 * and each cluster overlay under clusters/<group>/<cluster> pulls in its
 * components, a shared component via `components:`, and one patch per
 * component (500 clusters × 40 components ≈ 20k files).
 */
export function generateFleet(options: GeneratedFleetOptions): FileChanges {
  const files: FileChanges = {}
  const perCluster = Math.min(
    options.componentsPerCluster ?? options.components,
    options.components,
  )
  for (let c = 0; c < options.components; c++) {
    const name = `addon-${String(c).padStart(3, '0')}`
    files[`components/${name}/kustomization.yaml`] = [
      'resources:',
      '  - deployment.yaml',
      'configMapGenerator:',
      `  - name: ${name}-config`,
      '    files:',
      '      - config/settings.properties',
      '',
    ].join('\n')
    files[`components/${name}/deployment.yaml`] = deployment(name)
    files[`components/${name}/config/settings.properties`] = `component=${name}\nreplicas=1\n`
    files[`components/${name}/README.md`] = `# ${name}\n`
  }
  files['components/shared-labels/kustomization.yaml'] = [
    'apiVersion: kustomize.config.k8s.io/v1alpha1',
    'kind: Component',
    'labels:',
    '  - pairs:',
    '      fleet.example.com/managed: "true"',
    '',
  ].join('\n')
  for (let k = 0; k < options.clusters; k++) {
    const group = `group-${String(k % 10).padStart(2, '0')}`
    const cluster = `cluster-${String(k).padStart(4, '0')}`
    const used: string[] = []
    for (let i = 0; i < perCluster; i++) {
      used.push(`addon-${String((k + i) % options.components).padStart(3, '0')}`)
    }
    files[`clusters/${group}/${cluster}/kustomization.yaml`] = [
      'resources:',
      ...used.map((name) => `  - ../../../components/${name}`),
      'components:',
      '  - ../../../components/shared-labels',
      'patches:',
      ...used.map((name) => `  - path: patches/${name}.yaml`),
      '',
    ].join('\n')
    // One small patch per component: ~40 files per cluster, like per-cluster values.
    for (const name of used) {
      files[`clusters/${group}/${cluster}/patches/${name}.yaml`] = [
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata:',
        `  name: ${name}`,
        'spec:',
        `  replicas: ${1 + (k % 3)}`,
        '',
      ].join('\n')
    }
  }
  files['fleet-promote.yaml'] = [
    'version: 1',
    'environments:',
    '  - glob: clusters/*/*',
    '    name: "{2}"',
    '    branch: "env/{name}"',
    'stages:',
    '  - name: testing',
    '    match: ["cluster-000*"]',
    '  - name: production',
    '    match: ["*"]',
    '    requires: [testing]',
    '',
  ].join('\n')
  return files
}

function deployment(name: string): string {
  return [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  replicas: 1',
    '  selector:',
    `    matchLabels: { app: ${name} }`,
    '  template:',
    `    metadata: { labels: { app: ${name} } }`,
    '    spec:',
    `      containers: [{ name: main, image: "registry.example.com/${name}:1.0.0" }]`,
    '',
  ].join('\n')
}

/** Copies a fixture directory into file changes (for `TempRepo.commit`). */
export async function readFixture(root: string): Promise<FileChanges> {
  const files: FileChanges = {}
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    files[relative(root, path).split(sep).join('/')] = await readFile(path, 'utf8')
  }
  return files
}

/**
 * What an environment really renders to: `kustomize build --enable-helm`
 * for a kustomization, the files' objects for a plain-YAML directory. A
 * failing render is an output too ("error: …"), different from any success.
 */
export async function renderEnvironment(checkout: string, envPath: string): Promise<string> {
  const dir = join(checkout, envPath)
  const entries = await readdir(dir).catch(() => undefined)
  if (entries === undefined) return '(absent)'
  if (
    !entries.some((name) =>
      ['kustomization.yaml', 'kustomization.yml', 'Kustomization'].includes(name),
    )
  ) {
    const docs: string[] = []
    for (const name of entries.filter((n) => /\.ya?ml$/.test(n)).sort()) {
      docs.push(await readFile(join(dir, name), 'utf8'))
    }
    return docs.join('\n---\n')
  }
  const result = await runProcess('kustomize', ['build', '--enable-helm', dir], {
    env: minimalEnv(),
    timeoutMs: 60_000,
  })
  return result.code === 0
    ? result.stdout
    : `error: ${result.stderr.replace(/^# Warning.*\n/gm, '').trim()}`
}

/** Renders environments at a commit through a temporary worktree, `concurrency` at a time. */
export async function renderAt(
  git: Git,
  commit: string,
  envPaths: readonly string[],
  concurrency = availableParallelism() + 1,
): Promise<Map<string, string>> {
  const checkout = await mkdtemp(join(tmpdir(), 'fleet-render-'))
  await rm(checkout, { recursive: true, force: true })
  await git.run(['worktree', 'add', '--quiet', '--detach', checkout, commit])
  try {
    const outputs = new Map<string, string>()
    const queue = [...envPaths]
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
          outputs.set(path, await renderEnvironment(checkout, path))
        }
      }),
    )
    return outputs
  } finally {
    await git.run(['worktree', 'remove', '--force', checkout])
  }
}

/** A small seeded PRNG (mulberry32), so generated mutations are the same on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
