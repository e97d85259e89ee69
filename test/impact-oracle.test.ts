// Acceptance oracle for detect-impact: for generated mutations of the
// fixture fleet, every environment whose real `kustomize build --enable-helm`
// output changed between base and head must be detected (zero misses).
// Precision (render-changed / detected) is printed.
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isMap, isScalar, isSeq, parseAllDocuments, parseDocument, type Node } from 'yaml'
import { detectImpact } from '../actions/lib/kustomize/impact.js'
import {
  createTempRepo,
  readFixture,
  renderAt,
  seededRandom,
  type FileChanges,
  type TempRepo,
} from './support/fleet-gen.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/fleets/addons', import.meta.url))
const ENV_PATTERNS = ['clusters/*/*', 'clusters/sandbox/plain-01']
const SEED = 20261123
/** Single-file mutations sampled per run; FLEET_ORACLE_ALL=1 mutates every file. */
const SINGLE_SAMPLE = 10
const MULTI_COUNT = 3

interface Mutation {
  name: string
  changes: FileChanges
}

const SKIP_KEYS = new Set([
  'apiVersion',
  'kind',
  'name',
  'namespace',
  'op',
  'path',
  'fieldPath',
  'version',
])

/** Changes one value deep in a YAML file (a number, boolean or string leaf). */
function mutateYaml(text: string, random: () => number): string | undefined {
  const docs = parseAllDocuments(text)
  if (!Array.isArray(docs) || docs.some((doc) => doc.errors.length > 0)) return undefined
  const leaves: { set: (value: unknown) => void; value: unknown }[] = []
  const walk = (node: Node | null | undefined, key: string) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : ''
        if (!SKIP_KEYS.has(k)) walk(pair.value as Node, k)
      }
    } else if (isSeq(node)) {
      for (const item of node.items) walk(item as Node, key)
    } else if (isScalar(node) && node.value !== null && key !== '') {
      leaves.push({ value: node.value, set: (value) => (node.value = value) })
    }
  }
  for (const doc of docs) walk(doc.contents, '')
  if (leaves.length === 0) return undefined
  const leaf = leaves[Math.floor(random() * leaves.length)]!
  const value = leaf.value
  leaf.set(
    typeof value === 'number'
      ? value + 1
      : typeof value === 'boolean'
        ? !value
        : `${String(value)}-m`,
  )
  return docs.map((doc) => doc.toString()).join('---\n')
}

/** Changes a literal value on a line of a Helm template (YAML with actions in it). */
function mutateTemplateLine(text: string): string | undefined {
  const lines = text.split('\n')
  const index = lines.findIndex(
    (line) =>
      /^\s*[\w./-]+: [A-Za-z][\w.-]*\s*$/.test(line) && !/^\s*(apiVersion|kind|name):/.test(line),
  )
  if (index < 0) return undefined
  lines[index] = `${lines[index]!.trimEnd()}x`
  return lines.join('\n')
}

function mutateFile(path: string, text: string, random: () => number): string {
  const base = path.split('/').pop() ?? path
  if (['kustomization.yaml', 'kustomization.yml', 'Kustomization'].includes(base)) {
    const doc = parseDocument(text)
    doc.setIn(
      ['commonAnnotations', 'fleet.example.com/mutation'],
      String(Math.floor(random() * 1000)),
    )
    return doc.toString()
  }
  if (/\.(ya?ml|tpl)$/.test(path)) {
    const changed =
      (path.includes('/templates/') ? undefined : mutateYaml(text, random)) ??
      mutateTemplateLine(text)
    if (changed !== undefined) return changed
  }
  if (path.endsWith('.env')) return `${text}MUTATED=${Math.floor(random() * 1000)}\n`
  return `${text}mutated ${Math.floor(random() * 1000)}\n`
}

function structuralMutations(files: FileChanges): Mutation[] {
  const text = (path: string) => {
    const content = files[path]
    if (typeof content !== 'string') throw new Error(`fixture lacks ${path}`)
    return content
  }
  const moveDir = (from: string, to: string): FileChanges => {
    const changes: FileChanges = {}
    for (const [path, content] of Object.entries(files)) {
      if (path.startsWith(`${from}/`)) {
        changes[path] = null
        changes[`${to}/${path.slice(from.length + 1)}`] = content
      }
    }
    return changes
  }
  return [
    {
      name: 'add environment test-09',
      changes: {
        'clusters/testing/test-09/kustomization.yaml': text(
          'clusters/testing/test-01/kustomization.yaml',
        ).replace('test-01', 'test-09'),
        'clusters/testing/test-09/cluster-info.yaml': text(
          'clusters/testing/test-01/cluster-info.yaml',
        ).replace('test-01', 'test-09'),
      },
    },
    {
      name: 'remove environment prod-14',
      changes: {
        'clusters/production/prod-14/kustomization.yaml': null,
        'clusters/production/prod-14/cluster-info.yaml': null,
      },
    },
    {
      name: 'rename components/monitoring to components/observability',
      changes: {
        ...moveDir('components/monitoring', 'components/observability'),
        'groups/testing/kustomization.yaml': text('groups/testing/kustomization.yaml').replace(
          'components/monitoring',
          'components/observability',
        ),
        'groups/production/kustomization.yaml': text(
          'groups/production/kustomization.yaml',
        ).replace('components/monitoring', 'components/observability'),
      },
    },
    {
      name: 'move the debug flags file to another component directory',
      changes: {
        'components/features/debug-logging/flags/debug.conf': null,
        'components/features/debug-logging/flags/verbose.conf': text(
          'components/features/debug-logging/flags/debug.conf',
        ),
        'components/features/debug-logging/kustomization.yaml': text(
          'components/features/debug-logging/kustomization.yaml',
        ).replace('flags/debug.conf', 'flags/verbose.conf'),
      },
    },
    {
      name: 'production starts using the unused component',
      changes: {
        'groups/production/kustomization.yaml': text(
          'groups/production/kustomization.yaml',
        ).replace(
          '  - ../../components/external-dns\n',
          '  - ../../components/external-dns\n  - ../../components/unused\n',
        ),
        'components/unused/configmap.yaml': text('components/unused/configmap.yaml').replace(
          '"false"',
          '"true"',
        ),
      },
    },
    {
      name: 'new unreferenced file in a component',
      changes: { 'components/cert-manager/extra/notes.txt': 'not referenced\n' },
    },
    {
      name: 'new plain-YAML file in the sandbox',
      changes: {
        'clusters/sandbox/plain-01/extra.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n',
      },
    },
    {
      name: 'new file in the local chart',
      changes: {
        'charts/edge-proxy/templates/service.yaml':
          'apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-edge\nspec:\n  ports: [{ port: 80 }]\n',
      },
    },
    {
      name: 'delete an unused component',
      changes: {
        'components/unused/kustomization.yaml': null,
        'components/unused/configmap.yaml': null,
      },
    },
  ]
}

function generateMutations(files: FileChanges): Mutation[] {
  const random = seededRandom(SEED)
  const paths = Object.keys(files).sort()
  const singles: Mutation[] = paths.map((path) => ({
    name: `mutate ${path}`,
    changes: { [path]: mutateFile(path, files[path] as string, random) },
  }))
  const pick = <T>(list: T[], count: number): T[] => {
    const pool = [...list]
    const chosen: T[] = []
    while (chosen.length < count && pool.length > 0)
      chosen.push(pool.splice(Math.floor(random() * pool.length), 1)[0]!)
    return chosen
  }
  const sampled = process.env.FLEET_ORACLE_ALL === '1' ? singles : pick(singles, SINGLE_SAMPLE)
  const multi: Mutation[] = []
  for (let i = 0; i < MULTI_COUNT; i++) {
    const parts = pick(singles, 2 + Math.floor(random() * 3))
    multi.push({
      name: `multi: ${parts.map((p) => p.name.replace('mutate ', '')).join(' + ')}`,
      changes: Object.assign({}, ...parts.map((p) => p.changes)) as FileChanges,
    })
  }
  return [...sampled, ...structuralMutations(files), ...multi]
}

describe('impact oracle (real kustomize + helm renders)', () => {
  let repo: TempRepo
  let base: string
  let files: FileChanges

  beforeAll(async () => {
    files = await readFixture(FIXTURE)
    repo = await createTempRepo('fleet-oracle-')
    base = await repo.commit(files, 'fixture fleet')
  })
  afterAll(async () => {
    await repo?.cleanup()
  })

  it(
    'detects every environment whose render changed, for every generated mutation',
    async () => {
      const mutations = generateMutations(files)
      const renders = new Map<string, Map<string, string>>()
      const renderCached = async (commit: string, envPaths: string[]) => {
        const tree = (await repo.git.run(['rev-parse', `${commit}^{tree}`])).trim()
        let outputs = renders.get(tree)
        if (!outputs || envPaths.some((path) => !outputs!.has(path))) {
          outputs = await renderAt(repo.git, commit, envPaths)
          renders.set(tree, outputs)
        }
        return outputs
      }

      let detectedTotal = 0
      let changedTotal = 0
      const misses: string[] = []
      const lines: string[] = []
      for (const mutation of mutations) {
        await repo.git.run(['checkout', '--quiet', '--detach', base])
        const head = await repo.commit(mutation.changes, mutation.name)
        const result = await detectImpact({
          git: repo.git,
          base,
          head,
          environmentPatterns: ENV_PATTERNS,
        })
        const detected = new Set(result.environments.map((env) => env.path))

        // Every environment that exists on either side, rendered on both.
        const envPaths = [
          ...new Set([...(await envDirs(repo, base)), ...(await envDirs(repo, head))]),
        ].sort()
        const before = await renderCached(base, envPaths)
        const after = await renderCached(head, envPaths)
        const changed = envPaths.filter((path) => before.get(path) !== after.get(path))
        for (const path of changed) {
          if (!detected.has(path))
            misses.push(`${mutation.name}: ${path} render changed but was not detected`)
        }
        detectedTotal += detected.size
        changedTotal += changed.length
        lines.push(`${mutation.name}: detected ${detected.size}, render changed ${changed.length}`)
      }
      const precision = detectedTotal === 0 ? 1 : changedTotal / detectedTotal
      process.stdout.write(
        `impact oracle: ${mutations.length} mutations, ${changedTotal} render changes, ${detectedTotal} detections, ` +
          `0 allowed misses, precision ${(precision * 100).toFixed(1)}%\n${lines.map((l) => `  ${l}`).join('\n')}\n`,
      )
      expect(misses).toEqual([])
      // The oracle must exercise real changes, and detection must not flag everything.
      expect(changedTotal).toBeGreaterThan(mutations.length / 2)
      expect(precision).toBeGreaterThan(0.6)
    },
    process.env.FLEET_ORACLE_ALL === '1' ? 1_800_000 : 300_000,
  )
})

/** Environment directories at a commit: those the CLI patterns would find. */
async function envDirs(repo: TempRepo, commit: string): Promise<string[]> {
  const files = await repo.git.listFiles(commit)
  const dirs = new Set<string>()
  for (const file of files) {
    const parts = file.split('/')
    if (parts[0] === 'clusters' && parts.length === 4) dirs.add(parts.slice(0, 3).join('/'))
  }
  return [...dirs]
}
