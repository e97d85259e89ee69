import { describe, expect, it } from 'vitest'
import {
  commandSigil,
  helpText,
  MAX_COMMAND_LENGTH,
  parseCommand,
} from '../actions/promote/commands.js'

const parse = (body: string, command = '.promote') => parseCommand(body, { command })

describe('parseCommand', () => {
  it('reads promotions of stages, environments and globs', () => {
    expect(parse('.promote testing')).toEqual({
      kind: 'command',
      command: {
        kind: 'promote',
        targets: ['testing'],
        all: false,
        noop: false,
        allowDeletions: false,
      },
    })
    expect(parse('  .promote eu-prod-1 *-test-* eu-prod-1 --noop\n')).toEqual({
      kind: 'command',
      command: {
        kind: 'promote',
        targets: ['eu-prod-1', '*-test-*'],
        all: false,
        noop: true,
        allowDeletions: false,
      },
    })
    expect(parse('.promote production --allow-deletions')).toMatchObject({
      command: { kind: 'promote', targets: ['production'], allowDeletions: true },
    })
  })

  it('reads "all" only on its own', () => {
    expect(parse('.promote all --noop')).toEqual({
      kind: 'command',
      command: { kind: 'promote', targets: [], all: true, noop: true, allowDeletions: false },
    })
    expect(parse('.promote all testing')).toEqual({
      kind: 'malformed',
      error: '"all" cannot be combined with other targets',
    })
  })

  it('reads status, help, lock and unlock in short and long forms', () => {
    expect(parse('.status')).toEqual({ kind: 'command', command: { kind: 'status' } })
    expect(parse('.promote status')).toEqual({ kind: 'command', command: { kind: 'status' } })
    expect(parse('.help')).toEqual({ kind: 'command', command: { kind: 'help' } })
    expect(parse('.promote help')).toEqual({ kind: 'command', command: { kind: 'help' } })
    expect(parse('.lock eu-prod-1 production --reason "change freeze until Monday"')).toEqual({
      kind: 'command',
      command: {
        kind: 'lock',
        targets: ['eu-prod-1', 'production'],
        reason: 'change freeze until Monday',
      },
    })
    expect(parse('.lock eu-prod-1 --reason=freeze now')).toMatchObject({
      command: { kind: 'lock', reason: 'freeze now' },
    })
    expect(parse('.promote lock eu-prod-1')).toEqual({
      kind: 'command',
      command: { kind: 'lock', targets: ['eu-prod-1'], reason: '' },
    })
    expect(parse('.unlock eu-prod-1')).toEqual({
      kind: 'command',
      command: { kind: 'unlock', targets: ['eu-prod-1'] },
    })
  })

  it('ignores every comment not addressed to it', () => {
    for (const body of [
      'LGTM',
      'please .promote testing',
      '.deploy production',
      '',
      '   ',
      '.statuses are green',
      'promote testing',
    ]) {
      expect(parse(body), body).toEqual({ kind: 'ignored' })
    }
  })

  it('answers malformed commands with a helpful error', () => {
    const cases: [string, RegExp][] = [
      ['.promote', /name what to promote/],
      ['.promote --noop', /name what to promote/],
      ['.promotetesting', /put a space after \.promote/],
      ['.promote testing --fast', /unknown option "--fast"/],
      ['.promote testing\n.promote production', /alone on one line/],
      ['.promote $(curl evil)', /is not a stage, environment or glob/],
      ['.promote `id`', /is not a stage, environment or glob/],
      ['.promote ../../etc', /is not a stage, environment or glob/],
      ['.promote a;rm', /is not a stage, environment or glob/],
      [`.promote ${'a'.repeat(64)}`, /longer than 63 characters/],
      [`.promote ${'x '.repeat(MAX_COMMAND_LENGTH)}`, /longer than 1000 characters/],
      [`.promote ${Array.from({ length: 51 }, (_, i) => `e${i}`).join(' ')}`, /at most 50 targets/],
      ['.promote te\u0000st', /control characters/],
      ['.status now', /takes no arguments/],
      ['.lock', /name what to lock/],
      ['.lock prod --reason', /--reason needs a text/],
      ['.lock prod --wait', /unknown option/],
      [`.lock prod --reason ${'r'.repeat(201)}`, /longer than 200 characters/],
      ['.unlock', /name what to unlock/],
      ['.promote status-page help', /"help" is a command word/],
    ]
    for (const [body, error] of cases) {
      const result = parse(body)
      expect(result.kind, body).toBe('malformed')
      if (result.kind === 'malformed') expect(result.error, body).toMatch(error)
    }
  })

  it('keeps hostile text out of error messages beyond a short printable excerpt', () => {
    const result = parse(`.promote ${'<img src=x>'.repeat(3)}\u202e`)
    expect(result.kind).toBe('malformed')
    if (result.kind !== 'malformed') return
    expect(result.error.length).toBeLessThan(140)
    expect(result.error).not.toContain('\u202e')
  })

  it('follows the configured command and its sigil', () => {
    expect(commandSigil('.promote')).toBe('.')
    expect(commandSigil('/fleet')).toBe('/')
    expect(commandSigil('promote')).toBe('')
    expect(parse('/fleet testing', '/fleet')).toMatchObject({
      kind: 'command',
      command: { kind: 'promote' },
    })
    expect(parse('/status', '/fleet')).toEqual({ kind: 'command', command: { kind: 'status' } })
    expect(parse('.promote testing', '/fleet')).toEqual({ kind: 'ignored' })
    // Without a sigil, a comment starting with "help" is an ordinary comment.
    expect(parse('help me', 'promote')).toEqual({ kind: 'ignored' })
    expect(parse('promote help', 'promote')).toEqual({ kind: 'command', command: { kind: 'help' } })
  })

  it('documents every command form in the help text', () => {
    const text = helpText('.promote')
    for (const form of [
      '.promote all',
      '--noop',
      '--allow-deletions',
      '.status',
      '.lock',
      '.unlock',
      '.help',
    ]) {
      expect(text).toContain(form)
    }
    expect(helpText('promote')).toContain('promote status')
  })
})
