// The inputs of open-child-prs: hydration.json (single or sharded), the
// optional `result` cross-check and tag templates.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { checkResultInput } from '../actions/open-child-prs/child-prs.js'
import { environmentStatus, tagName } from '../actions/open-child-prs/plan.js'
import { loadHydration } from '../actions/lib/hydration.js'
import { MAX_STATUS_DESCRIPTION, sameStatus, statusDescription } from '../actions/lib/statuses.js'
import { writeHydration } from './fixtures/child-prs/hydration.js'

const SHA = 'a'.repeat(40)
let dir: string

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'child-prs-input-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('loadHydration', () => {
  it('reads hydration.json and keeps output directories relative to it', async () => {
    await writeHydration(dir, SHA, [{ name: 'a', files: { 'manifest.yaml': 'x\n' } }])
    const result = await loadHydration(dir)
    expect(result.environments.map((e) => [e.name, e.outputDir])).toEqual([['a', 'envs/a']])
  })

  it('merges matrix shards downloaded into subdirectories', async () => {
    await writeHydration(join(dir, 'shard-1'), SHA, [{ name: 'a' }])
    await writeHydration(join(dir, 'shard-2'), SHA, [{ name: 'b' }])
    const result = await loadHydration(dir)
    expect(result.environments.map((e) => [e.name, e.outputDir])).toEqual([
      ['a', 'shard-1/envs/a'],
      ['b', 'shard-2/envs/b'],
    ])
  })

  it('refuses shards of different commits and duplicate environments', async () => {
    await writeHydration(join(dir, 'shard-1'), SHA, [{ name: 'a' }])
    await writeHydration(join(dir, 'shard-2'), 'b'.repeat(40), [{ name: 'b' }])
    await expect(loadHydration(dir)).rejects.toThrow(/different DRY commits/)
    await writeHydration(join(dir, 'shard-2'), SHA, [{ name: 'a' }])
    await expect(loadHydration(dir)).rejects.toThrow(/environment a appears twice/)
  })

  it('names the file and field of a malformed result', async () => {
    await expect(loadHydration(join(dir, 'nope'))).rejects.toThrow(/does not exist/)
    await expect(loadHydration(dir)).rejects.toThrow(/no hydration.json/)
    await writeFile(join(dir, 'hydration.json'), '{oops')
    await expect(loadHydration(dir)).rejects.toThrow(/hydration.json is not valid JSON/)
    const bad = async (patch: Record<string, unknown>, message: RegExp) => {
      const result = await writeHydration(dir, SHA, [{ name: 'a' }])
      const env = { ...result.environments[0], ...patch }
      await writeFile(
        join(dir, 'hydration.json'),
        JSON.stringify({ ...result, environments: [env] }),
      )
      await expect(loadHydration(dir)).rejects.toThrow(message)
    }
    await bad({ name: 'a b' }, /environments\[0\]\.name "a b" cannot be used in a branch name/)
    await bad({ branch: 'env/..' }, /environments\[0\]\.branch/)
    await bad({ status: 'weird' }, /environments\[0\]\.status must be one of/)
    await bad({ baseSha: 'abc' }, /environments\[0\]\.baseSha/)
    await bad({ files: [1] }, /environments\[0\]\.files/)
    await bad({ diff: { added: 1 } }, /environments\[0\]\.diff must have whole numbers/)
    await writeFile(
      join(dir, 'hydration.json'),
      JSON.stringify({ version: 2, drySha: SHA, environments: [] }),
    )
    await expect(loadHydration(dir)).rejects.toThrow(/unsupported version 2/)
    await writeFile(
      join(dir, 'hydration.json'),
      JSON.stringify({ version: 1, drySha: 'main', environments: [] }),
    )
    await expect(loadHydration(dir)).rejects.toThrow(/drySha must be a full commit SHA/)
  })
})

describe('checkResultInput', () => {
  it('accepts hydrate’s result shapes naming known environments', async () => {
    const hydration = await writeHydration(dir, SHA, [{ name: 'a' }, { name: 'b' }])
    expect(() => checkResultInput('', hydration)).not.toThrow()
    expect(() => checkResultInput('[{"name":"a","status":"rendered"}]', hydration)).not.toThrow()
    expect(() =>
      checkResultInput('{"environments":[{"environment":"b"}]}', hydration),
    ).not.toThrow()
    expect(() => checkResultInput('{"a":{},"b":{}}', hydration)).not.toThrow()
  })

  it('rejects unparsable JSON, unknown environments and odd shapes', async () => {
    const hydration = await writeHydration(dir, SHA, [{ name: 'a' }])
    expect(() => checkResultInput('{not json', hydration)).toThrow(
      /input "result" is not valid JSON/,
    )
    expect(() => checkResultInput('[{"name":"zzz"}]', hydration)).toThrow(/names environment "zzz"/)
    expect(() => checkResultInput('[{}]', hydration)).toThrow(/entry 0 has no environment name/)
    expect(() => checkResultInput('42', hydration)).toThrow(/must be a list or an object/)
  })
})

describe('tagName', () => {
  const values = { environment: 'prod-eu', stage: 'production', pr: 12, drySha: 'abcdef0123456789' }
  it('fills the placeholders', () => {
    expect(tagName('{component}-pr-{pr}', values)).toBe('prod-eu-pr-12')
    expect(tagName('{stage}/{environment}/{sha}', values)).toBe('production/prod-eu/abcdef0')
  })
  it('requires the environment, known placeholders and a valid ref', () => {
    expect(() => tagName('pr-{pr}', values)).toThrow(/must contain \{component\}/)
    expect(() => tagName('{component}-{nope}', values)).toThrow(/unknown placeholder \{nope\}/)
    expect(() => tagName('{component}..x', values)).toThrow(/invalid tag name/)
  })
})

describe('environmentStatus', () => {
  const report = {
    environment: 'prod-a',
    stage: 'production',
    resources: { before: 1, after: 1 },
    diff: { added: 1, changed: 2, deleted: 0 },
    changes: [],
  }
  const context = { promoteCommand: '.promote', autoPromote: false, fallbackUrl: 'https://run' }
  it('maps render states to commit statuses', () => {
    expect(
      environmentStatus(
        {
          ...report,
          status: 'rendered',
          child: { number: 7, url: 'https://pr/7', state: 'created' },
        },
        context,
      ),
    ).toEqual({
      context: 'fleet-promote/prod-a',
      state: 'pending',
      description: 'child PR #7 (+1 ~2 -0 objects); promote with .promote production',
      targetUrl: 'https://pr/7',
    })
    expect(environmentStatus({ ...report, status: 'unchanged' }, context).state).toBe('success')
    const failed = environmentStatus(
      { ...report, status: 'failed', reason: 'x'.repeat(300) },
      context,
    )
    expect(failed).toMatchObject({ state: 'failure', targetUrl: 'https://run' })
    const blocked = environmentStatus(
      { ...report, status: 'blocked', reason: 'deletes 3 Namespaces' },
      context,
    )
    expect(blocked.description).toBe(
      `blocked: deletes 3 Namespaces; .promote ${report.environment} --allow-deletions`,
    )
    // A long reason is cut, never the command that overrides it.
    const long = environmentStatus(
      { ...report, status: 'blocked', reason: 'y'.repeat(300) },
      context,
    )
    expect(long.description).toHaveLength(140)
    expect(long.description).toMatch(/…; \.promote \S+ --allow-deletions$/)
  })
})

describe('status descriptions', () => {
  it('collapse whitespace and cut to 140 characters with an ellipsis', () => {
    expect(statusDescription('  a\n b  ')).toBe('a b')
    const long = statusDescription('word '.repeat(60))
    expect([...long]).toHaveLength(MAX_STATUS_DESCRIPTION)
    expect(long.endsWith('…')).toBe(true)
    expect(statusDescription('x'.repeat(140))).toBe('x'.repeat(140))
    expect([...statusDescription('😀'.repeat(200))]).toHaveLength(140)
  })
  it('compare as GitHub shows them', () => {
    const next = {
      context: 'c',
      state: 'pending' as const,
      description: 'x'.repeat(200),
      targetUrl: 'u',
    }
    expect(sameStatus({ ...next, description: statusDescription(next.description) }, next)).toBe(
      true,
    )
    expect(sameStatus({ ...next, state: 'success' }, next)).toBe(false)
    expect(sameStatus(undefined, next)).toBe(false)
  })
})
