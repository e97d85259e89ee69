// `npm run crd-schemas -- --kargo <repo> --flux-source <repo> --flux-kustomize <repo>`
//
// Derives the JSON Schemas that test/crd-manifests.test.ts validates the Kargo
// and Flux examples against, from the CRDs (and Kargo's published step and
// subscription schemas) at a commit of each project's repository, and writes
// them with their provenance into test/fixtures/crd-schemas/. <repo> is a
// clone or a bare git directory; `<repo>@<commit>` reads that commit instead
// of HEAD. Nothing here runs in the tests: they read the committed output.
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { Git } from '../actions/lib/git/git.js'
import {
  crdVersions,
  manifestSchema,
  stepConfigRules,
  withId,
  type Closure,
} from '../test/support/crd-schemas/derive.js'
import { SCHEMA_BASE } from '../test/support/crd-schemas/validate.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

interface Source {
  /** The GitHub repository, for the provenance. */
  repository: string
  crds: string[]
  /** Published JSON Schema files: output name → path in the repository. */
  schemas?: Record<string, string>
}

/** What is derived from where; output names are `<project>/<kind>.<version>.json`. */
const SOURCES: Record<string, Source & { project: string }> = {
  kargo: {
    project: 'kargo',
    repository: 'akuity/kargo',
    crds: ['projects', 'projectconfigs', 'warehouses', 'stages', 'promotiontasks'].map(
      (name) => `charts/kargo/resources/crds/kargo.akuity.io_${name}.yaml`,
    ),
    schemas: {
      // The built-in steps the examples use, and what argocd-update refers to.
      'steps/http-config.json': 'pkg/promotion/runner/builtin/schemas/http-config.json',
      'steps/argocd-update-config.json':
        'pkg/promotion/runner/builtin/schemas/argocd-update-config.json',
      'steps/argocd-wait-config.json':
        'pkg/promotion/runner/builtin/schemas/argocd-wait-config.json',
      'steps/argocd-common.json': 'pkg/promotion/runner/builtin/schemas/argocd-common.json',
      'steps/compose-output-config.json':
        'pkg/promotion/runner/builtin/schemas/compose-output-config.json',
      'subscriptions/git.json': 'pkg/subscription/schemas/git.json',
    },
  },
  'flux-source': {
    project: 'flux',
    repository: 'fluxcd/source-controller',
    crds: ['config/crd/bases/source.toolkit.fluxcd.io_gitrepositories.yaml'],
  },
  'flux-kustomize': {
    project: 'flux',
    repository: 'fluxcd/kustomize-controller',
    crds: ['config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml'],
  },
}

const STEP_SCHEMAS: Record<string, string> = {
  http: `${SCHEMA_BASE}kargo/steps/http-config.json`,
  'argocd-update': `${SCHEMA_BASE}kargo/steps/argocd-update-config.json`,
  'argocd-wait': `${SCHEMA_BASE}kargo/steps/argocd-wait-config.json`,
  'compose-output': `${SCHEMA_BASE}kargo/steps/compose-output-config.json`,
}

/** The open spots of the Kargo CRDs that the controller validates with its own schemas. */
const CLOSURES: Record<string, Closure[]> = {
  Stage: [
    {
      path: ['spec', 'promotionTemplate', 'spec', 'steps', '[]'],
      schema: stepConfigRules(STEP_SCHEMAS),
    },
  ],
  PromotionTask: [{ path: ['spec', 'steps', '[]'], schema: stepConfigRules(STEP_SCHEMAS) }],
  Warehouse: [
    {
      // Each subscription is one of git, image, chart or a named generic one; only git is checked.
      path: ['spec', 'subscriptions', '[]'],
      schema: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          git: { $ref: `${SCHEMA_BASE}kargo/subscriptions/git.json` },
          image: { type: 'object' },
          chart: { type: 'object' },
          subscription: { type: 'object' },
        },
        additionalProperties: false,
      },
    },
  ],
}

interface Provenance {
  repository: string
  commit: string
  version: string
  date: string
  files: string[]
}

async function readSource(spec: string, source: Source) {
  const [dir = '', ref = 'HEAD'] = spec.split('@')
  const git = new Git(resolve(dir))
  const commit = (await git.run(['rev-parse', `${ref}^{commit}`])).trim()
  const version = (await git.run(['describe', '--tags', '--always', commit])).trim()
  const date = (await git.run(['show', '-s', '--format=%cI', commit])).trim()
  const read = (path: string) => git.run(['show', `${commit}:${path}`])
  const provenance: Provenance = {
    repository: source.repository,
    commit,
    version,
    date,
    files: [...source.crds, ...Object.values(source.schemas ?? {})],
  }
  return { read, provenance }
}

function readme(sources: readonly Provenance[]): string {
  const from = sources
    .map((s) => `- \`${s.repository}\` ${s.version} (commit ${s.commit}, ${s.date.slice(0, 10)})`)
    .join('\n')
  return `# CRD schemas (generated)

JSON Schemas (draft 2020-12) that \`test/crd-manifests.test.ts\` validates
\`examples/kargo/\` and \`examples/flux/\` against, and that the Kargo player
(\`test/support/kargo/\`) checks rendered step configs with. Derived by
\`scripts/derive-crd-schemas.ts\` from:

${from}

\`provenance.json\` lists the files read. Regenerate with clones (or bare
mirrors) of the three repositories:

    npm run crd-schemas -- --kargo ../kargo --flux-source ../source-controller \\
      --flux-kustomize ../kustomize-controller     # <repo>@<commit> pins a commit

What the derivation keeps and why:

- Every object that lists its properties refuses unknown ones
  (\`additionalProperties: false\`) unless the CRD marks it
  \`x-kubernetes-preserve-unknown-fields\`: the API server prunes such fields
  (kubectl's default strict field validation rejects them), so a misspelt
  field never does what its author meant.
- Where a Kargo CRD leaves a field open and the controller validates it with
  a schema of its own, that schema is applied there: each built-in step's
  \`config\` (http, argocd-update, argocd-wait, compose-output; Kargo checks
  them after rendering expressions, so typed fields must be literals here)
  and git subscriptions of a Warehouse.
- Fields with a \`default\` are not required (the server fills them in);
  \`status\` is left out; \`metadata\` is a hand-written ObjectMeta subset.
- CEL rules (\`x-kubernetes-validations\`) that only say which fields are
  present become JSON Schema; \`provenance.json\` lists the rest
  (\`uncheckedCelRules\`). Formats (date-time, int64, …) are not checked.
`
}

export async function main(args: string[]): Promise<number> {
  const option = (name: string) => {
    const index = args.indexOf(`--${name}`)
    return index >= 0 ? args[index + 1] : undefined
  }
  const missing = Object.keys(SOURCES).filter((name) => !option(name))
  if (missing.length > 0 || args.includes('--help')) {
    process.stderr.write(
      'Usage: npm run crd-schemas -- --kargo <repo> --flux-source <repo> --flux-kustomize <repo> [--out DIR]\n' +
        '  <repo>: a clone or bare git directory of akuity/kargo, fluxcd/source-controller,\n' +
        '  fluxcd/kustomize-controller; <repo>@<commit> reads that commit instead of HEAD.\n',
    )
    return args.includes('--help') ? 0 : 2
  }
  const out = resolve(option('out') ?? join(ROOT, 'test', 'fixtures', 'crd-schemas'))
  const files = new Map<string, unknown>()
  const sources: Provenance[] = []
  const unchecked: Record<string, string[]> = {}
  for (const [name, source] of Object.entries(SOURCES)) {
    const { read, provenance } = await readSource(option(name) as string, source)
    sources.push(provenance)
    for (const path of source.crds) {
      for (const version of crdVersions(parse(await read(path)), path)) {
        const converted = manifestSchema(version, CLOSURES[version.kind] ?? [])
        const file = `${source.project}/${version.kind.toLowerCase()}.${version.version}.json`
        files.set(file, {
          $schema: 'https://json-schema.org/draft/2020-12/schema',
          $id: `${SCHEMA_BASE}${file}`,
          $comment: `${version.kind} ${version.group}/${version.version} from ${source.repository} ${provenance.version} (${path}); see provenance.json`,
          ...converted.schema,
        })
        if (converted.unchecked.length > 0) unchecked[file] = converted.unchecked
      }
    }
    for (const [file, path] of Object.entries(source.schemas ?? {})) {
      const target = `${source.project}/${file}`
      files.set(target, withId(JSON.parse(await read(path)), `${SCHEMA_BASE}${target}`))
    }
  }
  await rm(out, { recursive: true, force: true })
  for (const [file, content] of files) {
    await mkdir(dirname(join(out, file)), { recursive: true })
    await writeFile(join(out, file), `${JSON.stringify(content, null, 2)}\n`)
  }
  const provenance = {
    generatedBy: 'npm run crd-schemas (scripts/derive-crd-schemas.ts)',
    sources,
    schemas: [...files.keys()].sort(),
    uncheckedCelRules: unchecked,
  }
  await writeFile(join(out, 'provenance.json'), `${JSON.stringify(provenance, null, 2)}\n`)
  await writeFile(join(out, 'README.md'), readme(sources))
  process.stdout.write(`wrote ${files.size} schemas and provenance.json to ${out}\n`)
  return 0
}
