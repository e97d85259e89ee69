// The Kargo and Flux examples against the CRD schemas committed in
// test/fixtures/crd-schemas/ (derived by scripts/derive-crd-schemas.ts from
// the projects' repositories; provenance.json says from which commits).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { celToJsonSchema, convertNode, manifestSchema } from './support/crd-schemas/derive.js'
import {
  loadManifestValidator,
  SCHEMA_DIR,
  validateManifestTree,
} from './support/crd-schemas/validate.js'

const ROOT = join(import.meta.dirname, '..')
const validator = loadManifestValidator()

function broken(file: string, from: string, to: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8')
  expect(text, `${file} no longer contains ${from}`).toContain(from)
  return validator.validate(text.replace(from, to), file)
}

/** `file:line` of the `occurrence`th line holding `needle` (the line a message must name). */
function at(file: string, needle: string, occurrence = 1): string {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n')
  const matching = lines.flatMap((line, i) => (line.includes(needle) ? [i + 1] : []))
  const line = matching[occurrence - 1]
  expect(line, `${file} has no ${occurrence}. line with ${needle}`).toBeDefined()
  return `${file}:${line}`
}

describe('the examples against the CRD schemas', () => {
  it('has a schema for every kind the examples use', () => {
    expect(validator.kinds).toEqual([
      'kargo.akuity.io/v1alpha1 Project',
      'kargo.akuity.io/v1alpha1 ProjectConfig',
      'kargo.akuity.io/v1alpha1 PromotionTask',
      'kargo.akuity.io/v1alpha1 Stage',
      'kargo.akuity.io/v1alpha1 Warehouse',
      'kustomize.toolkit.fluxcd.io/v1 Kustomization',
      'source.toolkit.fluxcd.io/v1 GitRepository',
    ])
  })

  it('examples/kargo is valid', () => {
    expect(validateManifestTree(validator, join(ROOT, 'examples', 'kargo'))).toEqual([])
  })

  it('examples/flux is valid', () => {
    expect(validateManifestTree(validator, join(ROOT, 'examples', 'flux'))).toEqual([])
  })

  it('a misspelt field fails, naming the file, the line, the object and the field', () => {
    expect(broken('examples/kargo/stages.yaml', 'stages: [testing]', 'stage: [testing]')).toEqual([
      `${at('examples/kargo/stages.yaml', 'stages: [testing]')}: Stage production: unknown field spec.requestedFreight[0].sources.stage`,
    ])
    expect(broken('examples/flux/wet-branch.yaml', 'prune: true', 'prun: true')).toEqual([
      `${at('examples/flux/wet-branch.yaml', 'spec:', 2)}: Kustomization fleet-addons: spec: missing required field prune`,
      `${at('examples/flux/wet-branch.yaml', 'prune: true')}: Kustomization fleet-addons: unknown field spec.prun`,
    ])
    expect(broken('examples/flux/wet-branch.yaml', 'branch: env/', 'brnch: env/')).toEqual([
      `${at('examples/flux/wet-branch.yaml', 'branch: env/')}: GitRepository fleet-wet: unknown field spec.ref.brnch`,
    ])
  })

  it("checks each built-in step's config against the schema Kargo publishes for it", () => {
    expect(
      broken(
        'examples/kargo/promotion-task.yaml',
        'updateTargetRevision: true',
        'updateTargetRevison: true',
      ),
    ).toEqual([
      `${at('examples/kargo/promotion-task.yaml', 'updateTargetRevision: true')}: PromotionTask deploy-environment: unknown field spec.steps[5].config.apps[0].sources[0].updateTargetRevison`,
    ])
    expect(
      broken(
        'examples/kargo/promotion-task.yaml',
        'successExpression: response.status == 200 ||',
        'sucessExpression: response.status == 200 ||',
      ),
    ).toEqual([
      `${at('examples/kargo/promotion-task.yaml', 'successExpression: response.status == 200 ||')}: PromotionTask deploy-environment: unknown field spec.steps[1].config.sucessExpression`,
    ])
    expect(
      broken('examples/kargo/promotion-task.yaml', 'pollInterval: 10s', 'pollInterval: soon'),
    ).toEqual([
      `${at('examples/kargo/promotion-task.yaml', 'pollInterval: 10s')}: PromotionTask deploy-environment: spec.steps[3].config.pollInterval must match pattern "(?:\\d+(ns|us|µs|ms|s|m|h))+"`,
    ])
  })

  it("checks Warehouse subscriptions against Kargo's git subscription schema", () => {
    expect(broken('examples/kargo/warehouses.yaml', 'allowTagsRegexes', 'allowTagRegexes')).toEqual(
      [
        `${at('examples/kargo/warehouses.yaml', 'allowTagsRegexes')}: Warehouse sdbx-eu1: unknown field spec.subscriptions[0].git.allowTagRegexes`,
      ],
    )
    expect(
      broken(
        'examples/kargo/warehouses.yaml',
        'commitSelectionStrategy: NewestTag',
        'commitSelectionStrategy: Newest',
      ),
    ).toEqual([
      `${at('examples/kargo/warehouses.yaml', 'commitSelectionStrategy: NewestTag')}: Warehouse sdbx-eu1: spec.subscriptions[0].git.commitSelectionStrategy must be one of ["NewestFromBranch","SemVer","Lexical","NewestTag"]`,
    ])
  })

  it('translates the CEL rule that a step uses a built-in step or a task, not both', () => {
    const problems = broken(
      'examples/kargo/stages.yaml',
      '        - task:\n            name: deploy-environment\n          vars:\n            - name: environment\n              value: ${{',
      '        - uses: http\n          task:\n            name: deploy-environment\n          vars:\n            - name: environment\n              value: ${{',
    )
    expect(problems.length).toBeGreaterThan(0)
    expect(
      problems.every((p) =>
        p.startsWith(
          `${at('examples/kargo/stages.yaml', '        - task:')}: Stage testing: spec.promotionTemplate.spec.steps[0]`,
        ),
      ),
    ).toBe(true)
  })

  it('refuses an object of a kind it has no schema for, and a status block', () => {
    expect(
      validator.validate('apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n', 'x.yaml')[0],
    ).toMatch(/^x\.yaml:1: Secret x: no schema for v1 Secret/)
    expect(
      validator.validate(
        'apiVersion: kargo.akuity.io/v1alpha1\nkind: Project\nmetadata:\n  name: p\nstatus:\n  conditions: []\n',
        'p.yaml',
      ),
    ).toEqual(['p.yaml:5: Project p: unknown field status'])
  })

  it('records where every schema comes from', () => {
    const provenance = JSON.parse(readFileSync(join(SCHEMA_DIR, 'provenance.json'), 'utf8')) as {
      sources: { repository: string; commit: string; version: string; files: string[] }[]
      schemas: string[]
    }
    expect(provenance.sources.map((s) => s.repository)).toEqual([
      'akuity/kargo',
      'fluxcd/source-controller',
      'fluxcd/kustomize-controller',
    ])
    for (const source of provenance.sources) {
      expect(source.commit).toMatch(/^[0-9a-f]{40}$/)
      expect(source.version).toMatch(/^v\d+\.\d+/)
      expect(source.files.length).toBeGreaterThan(0)
    }
    for (const file of provenance.schemas) {
      expect(() => readFileSync(join(SCHEMA_DIR, file), 'utf8')).not.toThrow()
    }
  })
})

describe('deriving JSON Schema from a CRD', () => {
  it('refuses unknown fields where the structural schema would prune them', () => {
    const unchecked: string[] = []
    const schema = convertNode(
      {
        type: 'object',
        description: 'dropped',
        properties: {
          closed: { type: 'object', properties: { a: { type: 'string' } } },
          open: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
          map: { type: 'object', additionalProperties: { type: 'string' } },
          port: { 'x-kubernetes-int-or-string': true },
          maybe: { type: 'string', nullable: true },
          tags: { type: 'array', items: { type: 'string' }, 'x-kubernetes-list-type': 'set' },
          when: { type: 'string', format: 'date-time' },
        },
        required: ['closed', 'interval'],
      },
      '',
      unchecked,
    )
    expect(schema).toEqual({
      type: 'object',
      properties: {
        closed: {
          type: 'object',
          properties: { a: { type: 'string' } },
          additionalProperties: false,
        },
        open: { type: 'object' },
        map: { type: 'object', additionalProperties: { type: 'string' } },
        port: { type: ['integer', 'string'] },
        maybe: { type: ['string', 'null'] },
        tags: { type: 'array', items: { type: 'string' }, uniqueItems: true },
        when: { type: 'string' },
      },
      required: ['closed', 'interval'],
      additionalProperties: false,
    })
  })

  it('does not require a field the API server defaults', () => {
    const schema = convertNode(
      {
        type: 'object',
        properties: { interval: { type: 'string', default: '5m0s' }, url: { type: 'string' } },
        required: ['interval', 'url'],
      },
      '',
      [],
    )
    expect(schema.required).toEqual(['url'])
  })

  it('translates the CEL rules about which fields are present, and lists the others', () => {
    expect(celToJsonSchema('(has(self.uses) ? !has(self.task) : has(self.task))')).toEqual({
      oneOf: [
        { required: ['uses'], not: { required: ['task'] } },
        { required: ['task'], not: { required: ['uses'] } },
      ],
    })
    expect(celToJsonSchema('!has(self.task) || !has(self.retry)')).toEqual({
      not: { required: ['task', 'retry'] },
    })
    expect(celToJsonSchema('has(self.configMapRef) || has(self.secretRef)')).toEqual({
      anyOf: [{ required: ['configMapRef'] }, { required: ['secretRef'] }],
    })
    expect(celToJsonSchema("self.size() == 0 || self[0] == 'Failed'")).toBeUndefined()
    const unchecked: string[] = []
    convertNode(
      {
        type: 'array',
        items: { type: 'string' },
        'x-kubernetes-validations': [{ rule: "self[0] == 'Failed'", message: 'must be Failed' }],
      },
      'spec.onPromotion',
      unchecked,
    )
    expect(unchecked).toEqual(['spec.onPromotion: must be Failed'])
  })

  it('fixes apiVersion and kind, adds ObjectMeta and leaves status out', () => {
    const { schema } = manifestSchema({
      group: 'example.io',
      kind: 'Thing',
      version: 'v1',
      schema: {
        type: 'object',
        properties: {
          apiVersion: { type: 'string' },
          kind: { type: 'string' },
          metadata: { type: 'object' },
          spec: { type: 'object', properties: { a: { type: 'string' } } },
          status: { type: 'object' },
        },
      },
    })
    const properties = schema.properties as Record<string, Record<string, unknown>>
    expect(properties.apiVersion).toEqual({ const: 'example.io/v1' })
    expect(properties.kind).toEqual({ const: 'Thing' })
    expect(properties.metadata?.additionalProperties).toBe(false)
    expect(properties.status).toBeUndefined()
    expect(schema.required).toEqual(['apiVersion', 'kind', 'metadata'])
  })
})
