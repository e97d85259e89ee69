// Every path that writes PR-controlled text into a comment, PR body or job
// summary, driven with one hostile string: no mention, image, link, HTML tag,
// code span, cell split or line break of it survives outside code.
import { describe, expect, it } from 'vitest'
import { summaryMarkdown as impactSummary } from '../actions/detect-impact/main.js'
import { summaryMarkdown as hydrateSummary } from '../actions/hydrate/main.js'
import type { HydrationResult } from '../actions/lib/hydration-types.js'
import { UNTRUSTED_TEXT_LIMIT, untrusted } from '../actions/lib/markdown.js'
import {
  renderCleanupReport,
  renderJobSummary as cleanupJobSummary,
  type MergeCleanupResult,
} from '../actions/merge-cleanup/merge-cleanup.js'
import { renderSummaryComment } from '../actions/open-child-prs/summary.js'
import { renderReply } from '../actions/promote/reply.js'
import type { DetectResult } from '../actions/lib/kustomize/impact.js'

const HOSTILE =
  'boom @org/team @alice ![x](http://evil/i.png) [x](http://evil) <img src=x onerror=alert(1)> ' +
  '`code` a|b|c\nsecond line\r\n# heading www.evil.test **bold** <details>'

/** What GitHub renders as text: code blocks and code spans are shown as typed, inert. */
function outsideCode(markdown: string): string {
  return markdown.replace(/^(`{3,})[^\n]*\n[\s\S]*?^\1$/gm, '').replace(/(`+)[^`]*?\1/g, '')
}

function expectInert(markdown: string): void {
  const text = outsideCode(markdown)
  for (const survivor of [
    '@org/team',
    '@alice',
    '![x]',
    '[x]',
    '](http',
    'http://evil',
    'www.evil',
    '<img',
    '<details>',
    '`code`',
    '**bold**',
    'second line\n',
    '\n# heading',
  ]) {
    expect(text, `"${survivor}" survived`).not.toContain(survivor)
  }
  // A pipe of the text never splits a table cell.
  for (const row of text.split('\n').filter((line) => line.startsWith('|'))) {
    expect(row, 'a cell was split').not.toMatch(/a\|b/)
  }
  // The text itself is still there for a person to read.
  expect(text).toContain('boom')
}

describe('untrusted', () => {
  it('keeps plain words, bounds the length and never splits a surrogate pair', () => {
    expect(untrusted('kustomize build failed: resources entry "x.yaml" missing')).toBe(
      'kustomize build failed: resources entry "x.yaml" missing',
    )
    expect(untrusted('x'.repeat(5000)).length).toBeLessThanOrEqual(UNTRUSTED_TEXT_LIMIT)
    expect(untrusted(`${'x'.repeat(9)}😀`, 10)).toBe(`${'x'.repeat(9)}…`)
    expectInert(untrusted(HOSTILE))
    // The check itself catches the raw string.
    expect(() => expectInert(HOSTILE)).toThrow(/survived/)
  })
})

describe('every comment-writing path', () => {
  it("open-child-prs' sticky comment", () => {
    const body = renderSummaryComment({
      parent: 5,
      headSha: 'b'.repeat(40),
      drySha: 'a'.repeat(40),
      stages: [{ name: 'testing', autoPromote: false }],
      promoteCommand: '.promote',
      environments: [
        {
          environment: 'test-a',
          stage: 'testing',
          status: 'failed',
          reason: HOSTILE,
          resources: { before: 1, after: 1 },
          diff: { added: 0, changed: 0, deleted: 0 },
          changes: [],
        },
      ],
      closed: [],
    })
    expectInert(body)
  })

  it("promote's reply (reason and details)", () => {
    for (const decision of ['refused', 'deployed'] as const) {
      expectInert(
        renderReply({
          decision,
          reason: HOSTILE,
          command: '.promote testing',
          actor: 'wendy',
          sha: 'c'.repeat(40),
          promoteCommand: '.promote',
          rows: [
            {
              environment: 'test-a',
              stage: 'testing',
              result: 'failure',
              detail: HOSTILE,
              links: [],
            },
          ],
        }),
      )
    }
  })

  it("merge-cleanup's parent comment and job summary", () => {
    const result: MergeCleanupResult = {
      parent: 5,
      parentState: 'merged',
      drySha: 'a'.repeat(40),
      environments: [
        {
          environment: 'test-a',
          stage: 'testing',
          branch: 'env/test-a',
          action: 'failed',
          rerendered: false,
          detail: HOSTILE,
          application: { name: 'test-a', result: 'failed', detail: HOSTILE },
        },
      ],
      merged: [],
      closed: [],
      left: [{ environment: 'test-a', reason: HOSTILE }],
      locksReleased: [],
      repaired: [{ environment: 'test-a', name: 'test-a', result: 'reset', detail: HOSTILE }],
      summary: '',
      failed: true,
    }
    const report = renderCleanupReport(result, { base: 'main' })
    expectInert(report)
    expectInert(cleanupJobSummary(result, report))
  })

  it("hydrate's and detect-impact's job summaries", () => {
    const hydration: HydrationResult = {
      version: 1,
      drySha: 'a'.repeat(40),
      repoURL: 'https://github.test/acme/fleet',
      environments: [
        {
          name: 'test-a',
          path: 'clusters/test-a',
          stage: 'testing',
          branch: 'env/test-a',
          outputDir: 'test-a',
          baseSha: '',
          status: 'failed',
          reason: HOSTILE,
          files: [],
          resources: { before: 0, after: 0 },
          diff: { added: 0, changed: 0, deleted: 0 },
          changes: [],
          durationMs: 0,
        },
      ],
    }
    expectInert(hydrateSummary(hydration, 'sandbox: bubblewrap 0.9.0 (no network)'))
    const impact = {
      base: 'a'.repeat(40),
      head: 'b'.repeat(40),
      mergeBase: 'a'.repeat(40),
      changedFiles: [],
      timings: {},
      environments: [
        { name: 'test-a', path: 'clusters/test-a', stage: 'testing', branch: 'env/test-a' },
      ],
      stages: ['testing'],
      count: 1,
      external: [],
      reasons: { 'test-a': [HOSTILE] },
      problems: { 'test-a': [HOSTILE] },
      warnings: [],
    } as unknown as DetectResult
    expectInert(impactSummary(impact))
  })
})
