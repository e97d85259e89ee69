import { describe, expect, it } from 'vitest'
import { parseMarker, type ChildMarker } from '../actions/lib/children.js'
import {
  GITHUB_BODY_LIMIT,
  andMore,
  codeBlock,
  details,
  fitItems,
  inlineCode,
  nameList,
  table,
  truncate,
} from '../actions/lib/markdown.js'
import {
  SUMMARY_MARKER,
  groupDiffs,
  nextStage,
  renderChildBody,
  renderJobSummary,
  renderSummaryComment,
  type EnvironmentReport,
  type SummaryInput,
} from '../actions/open-child-prs/summary.js'
import { configMapChange } from './fixtures/child-prs/hydration.js'

function report(
  name: string,
  stage: string,
  over: Partial<EnvironmentReport> = {},
): EnvironmentReport {
  const changes = over.changes ?? [configMapChange('settings', '1', '2')]
  return {
    environment: name,
    stage,
    status: 'rendered',
    resources: { before: 3, after: 3 },
    diff: { added: 0, changed: changes.length, deleted: 0 },
    changes,
    child: { number: 100 + name.length, url: `https://gh.test/pr/${name}`, state: 'created' },
    ...over,
  }
}

const stages = [
  { name: 'testing', autoPromote: true },
  { name: 'production', autoPromote: false },
]

function input(environments: EnvironmentReport[], over: Partial<SummaryInput> = {}): SummaryInput {
  return {
    parent: 5,
    headSha: 'b'.repeat(40),
    drySha: 'a'.repeat(40),
    stages,
    promoteCommand: '.promote',
    environments,
    closed: [],
    ...over,
  }
}

describe('generic helpers', () => {
  it('table escapes pipes and newlines', () => {
    expect(table(['a', 'b'], [['x|y', 'line1\nline2']], ['l', 'r'])).toBe(
      '| a | b |\n| --- | ---: |\n| x\\|y | line1<br>line2 |',
    )
  })

  it('codeBlock uses a fence longer than any fence inside', () => {
    const block = codeBlock('before\n````\ninside\n````\nafter', 'diff')
    expect(block.startsWith('`````diff\n')).toBe(true)
    expect(block.endsWith('\n`````')).toBe(true)
    expect(codeBlock('plain')).toBe('```\nplain\n```')
  })

  it('inlineCode survives backticks', () => {
    expect(inlineCode('a`b')).toBe('``a`b``')
    expect(inlineCode('`x')).toBe('`` `x ``')
  })

  it('details escapes the summary', () => {
    expect(details('<b>x</b>', 'body')).toBe(
      '<details><summary>&lt;b&gt;x&lt;/b&gt;</summary>\n\nbody\n\n</details>',
    )
  })

  it('truncate keeps short text and cuts long text with a note', () => {
    expect(truncate('short', 10)).toBe('short')
    const cut = truncate('x'.repeat(100), 30, '[cut]')
    expect(cut).toBe(`${'x'.repeat(25)}[cut]`)
    expect(truncate('ab😀cd', 3, '')).toBe('ab')
    expect(truncate('ab😀cd', 4, '')).toBe('ab😀')
  })

  it('fitItems shows every item that fits and counts the rest, linking the job summary', () => {
    const items = Array.from({ length: 100 }, (_, i) => `item-${String(i).padStart(3, '0')}`)
    const render = (shown: readonly string[], more: string) =>
      ['# head', ...shown.map((item) => `- ${item}`), more, '# tail'].join('\n')
    const overflow = { noun: 'environments', url: 'https://gh.test/acme/fleet/actions/runs/7' }
    expect(fitItems(items, 10_000, render, overflow)).toBe(render(items, ''))
    const fitted = fitItems(items, 300, render, overflow)
    expect(fitted.length).toBeLessThanOrEqual(300)
    const shown = fitted.split('\n').filter((line) => line.startsWith('- ')).length
    expect(shown).toBeGreaterThan(10)
    expect(fitted).toContain(`- item-${String(shown - 1).padStart(3, '0')}`)
    expect(fitted).toContain(andMore(100 - shown, overflow))
    expect(fitted).toContain('[job summary](https://gh.test/acme/fleet/actions/runs/7)')
    expect(fitted.endsWith('# tail')).toBe(true)
    // One more item would not have fitted.
    expect(render(items.slice(0, shown + 1), andMore(99 - shown, overflow)).length).toBeGreaterThan(
      300,
    )
    // Nothing fits: the text is cut, never longer than the limit.
    expect(fitItems(items, 20, render, { noun: 'environments' }).length).toBeLessThanOrEqual(20)
  })

  it('nameList names the first few and counts the rest', () => {
    expect(nameList(['a', 'b'])).toBe('a, b')
    expect(nameList(['a', 'b', 'c', 'd'], 2)).toBe('a, b and 2 more')
  })
})

describe('summary comment', () => {
  it('groups environments by stage, identical diffs together, and names the next command', () => {
    const envs = [
      report('test-a', 'testing'),
      report('test-b', 'testing'),
      report('prod-a', 'production'),
      report('prod-b', 'production', { changes: [configMapChange('settings', '1', '3')] }),
      report('prod-c', 'production', {
        status: 'unchanged',
        changes: [],
        diff: { added: 0, changed: 0, deleted: 0 },
      }),
    ]
    delete envs[4]!.child
    const body = renderSummaryComment(input(envs))
    expect(body.startsWith(SUMMARY_MARKER)).toBe(true)
    expect(body).toContain('5 environments impacted by #5')
    expect(body.indexOf('#### testing')).toBeLessThan(body.indexOf('#### production'))
    expect(body).toContain('Same change in 3 environments: prod-a, test-a, test-b')
    expect(body).toContain('**Next:** comment `.promote production`')
    expect(body).toContain('| `prod-c` | ✅ unchanged |')
    expect(body.match(/<details>/g)).toHaveLength(2)
    expect(groupDiffs(envs).map((g) => g.environments)).toEqual([
      ['prod-a', 'test-a', 'test-b'],
      ['prod-b'],
    ])
  })

  it('puts failures and guard blocks on top', () => {
    const body = renderSummaryComment(
      input(
        [
          report('test-a', 'testing'),
          report('prod-a', 'production', {
            status: 'blocked',
            reason: 'deletes 12 objects (max 10)',
            changes: [],
          }),
        ],
        { runUrl: 'https://gh.test/run/1' },
      ),
    )
    const caution = body.indexOf('[!CAUTION]')
    expect(caution).toBeGreaterThan(0)
    expect(caution).toBeLessThan(body.indexOf('#### testing'))
    expect(body).toContain('`prod-a` (production): blocked: deletes 12 objects (max 10)')
    expect(body).toContain('[workflow run](https://gh.test/run/1)')
  })

  it('says when nothing needs a command', () => {
    expect(renderSummaryComment(input([report('test-a', 'testing')]))).toContain(
      'deploy automatically',
    )
    expect(nextStage(stages, [report('x', 'production', { status: 'failed' })])).toBeUndefined()
  })

  it('stays under the limit by dropping the largest diffs first, and says so', () => {
    const big = (name: string, lines: number) =>
      report(name, 'production', {
        changes: [
          {
            ...configMapChange(name, '1', '2'),
            diff: Array.from({ length: lines }, (_, i) => `+line ${i} of ${name}`).join('\n'),
          },
        ],
      })
    const envs = [big('huge', 4000), big('medium', 1500), big('small', 10)]
    const body = renderSummaryComment(input(envs))
    expect(body.length).toBeLessThanOrEqual(GITHUB_BODY_LIMIT)
    expect(body).toContain('1 diff left out')
    expect(body).not.toContain('+line 3999 of huge')
    expect(body).toContain('+line 1499 of medium')
    expect(body).toContain('+line 9 of small')
  })

  it('shows the environments that fit, problems first, and counts the rest with a link to the job summary', () => {
    const many = Array.from({ length: 3000 }, (_, i) =>
      report(`cluster-${String(i).padStart(4, '0')}-with-a-long-name`, 'production', {
        changes: [configMapChange(`settings-${i}`, '1', '2')],
      }),
    )
    many[2999] = report('cluster-2999-with-a-long-name', 'production', {
      status: 'failed',
      reason: 'render failed: kustomize build failed',
      changes: [],
    })
    const runUrl = 'https://gh.test/acme/fleet/actions/runs/9'
    const cut = renderSummaryComment(input(many, { runUrl }))
    expect(cut.length).toBeLessThanOrEqual(GITHUB_BODY_LIMIT)
    expect(cut).toContain('3000 environments impacted by #5')
    // The failure (last by name) is shown, in the caution block and in the table.
    expect(cut).toContain('`cluster-2999-with-a-long-name` (production): render failed')
    expect(cut).toContain('| `cluster-2999-with-a-long-name` | ❌ render failed |')
    const rows = cut.split('\n').filter((line) => line.startsWith('| `cluster-')).length
    expect(rows).toBeGreaterThan(100)
    expect(rows).toBeLessThan(3000)
    expect(cut).toContain(
      `…and ${3000 - rows} more environments: see the [job summary](${runUrl}).`,
    )
    // Rows and diffs of environments left out are not in the comment.
    expect(cut).not.toContain('cluster-2998-with-a-long-name')
    expect(cut.endsWith('\n')).toBe(true)
  })
})

describe('child body', () => {
  const marker: ChildMarker = {
    version: 1,
    parent: 5,
    environment: 'prod-a',
    stage: 'production',
    branch: 'env/prod-a',
    drySha: 'a'.repeat(40),
    headSha: 'b'.repeat(40),
  }

  it('links the parent, shows counts and the diff, and ends with the marker', () => {
    const body = renderChildBody({
      marker,
      report: report('prod-a', 'production'),
      autoPromote: false,
      promoteCommand: '.promote',
    })
    expect(body).toContain('for #5')
    expect(body).toContain('`.promote production`')
    expect(body).toContain('-value: 1')
    expect(parseMarker(body)).toEqual(marker)
  })

  it('cuts a huge diff but keeps the marker', () => {
    const changes = [{ ...configMapChange('x', '1', '2'), diff: '+y\n'.repeat(40_000) }]
    const body = renderChildBody({
      marker,
      report: report('prod-a', 'production', { changes }),
      autoPromote: true,
      promoteCommand: '.promote',
    })
    expect(body.length).toBeLessThanOrEqual(GITHUB_BODY_LIMIT)
    expect(body).toContain('diff cut to fit')
    expect(parseMarker(body)).toEqual(marker)
  })
})

describe('job summary', () => {
  it('lists every environment with its child', () => {
    const md = renderJobSummary(5, [
      {
        environment: 'b',
        stage: 'production',
        status: 'rendered',
        diff: { added: 1, changed: 0, deleted: 0 },
        child: { number: 7, url: 'https://x/7', state: 'created' },
      },
      {
        environment: 'a',
        stage: 'production',
        status: 'unchanged',
        diff: { added: 0, changed: 0, deleted: 0 },
      },
    ])
    expect(md).toContain('| a | production | ✅ unchanged | +0 ~0 −0 | — | none |')
    expect(md).toContain('[#7](https://x/7) | created |')
    expect(md.indexOf('| a |')).toBeLessThan(md.indexOf('| b |'))
  })

  it('stays within its limit and counts the rows left out', () => {
    const rows = Array.from({ length: 200 }, (_, i) => ({
      environment: `env-${String(i).padStart(3, '0')}`,
      stage: 'production',
      status: 'rendered' as const,
      diff: { added: 1, changed: 0, deleted: 0 },
    }))
    const md = renderJobSummary(5, rows, 2000)
    expect(md.length).toBeLessThanOrEqual(2000)
    const shown = md.split('\n').filter((line) => line.startsWith('| env-')).length
    expect(shown).toBeGreaterThan(5)
    expect(md).toContain(`…and ${200 - shown} more environments`)
    expect(renderJobSummary(5, rows)).toContain('| env-199 |')
  })
})
