// The IssueOps grammar on parent-PR comments. Comment text is hostile input:
// it is only ever tokenized here, checked against narrow patterns and length
// limits, and never reaches a shell or a git argument unvalidated.
//
//   <command> <target>... [--noop] [--force] [--allow-deletions]   promote stages/environments/globs
//   <command> all [--noop] [--force] [--allow-deletions]            every impacted stage, in order
//   <command> status | <sigil>status                      table of the PR's environments
//   <command> lock <target>... [--reason <text>]           lock environments for this PR
//   <command> unlock <target>...                           release this PR's locks
//   <command> help | <sigil>help                           the grammar
//
// `<command>` is `promote.command` (default `.promote`); `<sigil>` is its
// leading punctuation (`.`), so `.status`, `.lock`, `.unlock` and `.help` work
// too. When the command has no punctuation prefix, only the long forms exist,
// so an ordinary comment starting with "help" is never taken for a command.

/** Longest comment (in characters) still read as a command. */
export const MAX_COMMAND_LENGTH = 1000
/** Most targets one command may name. */
export const MAX_TARGETS = 50
/** Longest target (an environment name is at most 63 characters, like a DNS label). */
export const MAX_TARGET_LENGTH = 63
/** Longest lock reason. */
export const MAX_REASON_LENGTH = 200

/** Environment/stage names and globs over them: the name charset plus `*` and `?`. */
const TARGET = /^[A-Za-z0-9*?][A-Za-z0-9._*?-]*$/
const RESERVED = new Set(['all', 'status', 'lock', 'unlock', 'help'])

export type Command =
  | {
      kind: 'promote'
      targets: string[]
      all: boolean
      noop: boolean
      allowDeletions: boolean
      /** Deploy again environments that already succeeded on this head (set only when given). */
      force?: true
    }
  | { kind: 'status' }
  | { kind: 'lock'; targets: string[]; reason: string }
  | { kind: 'unlock'; targets: string[] }
  | { kind: 'help' }

export type ParseResult =
  /** Not addressed to fleet-promote: stay silent. */
  | { kind: 'ignored' }
  /** Addressed to fleet-promote but not understood: reply with `error` and the help text. */
  | { kind: 'malformed'; error: string }
  | { kind: 'command'; command: Command }

export interface GrammarOptions {
  /** `promote.command`, e.g. `.promote` or `/promote`. */
  command: string
}

/** The leading punctuation of the command (`.` of `.promote`), or '' when it has none. */
export function commandSigil(command: string): string {
  return /^[^A-Za-z0-9\s]*/.exec(command)?.[0] ?? ''
}

export function parseCommand(body: string, options: GrammarOptions): ParseResult {
  const prefix = options.command
  const sigil = commandSigil(prefix)
  const text = body.replace(/^\uFEFF/, '').trim()
  const firstWord = /^\S*/.exec(text)?.[0] ?? ''

  const shortVerb = sigil !== '' && firstWord.startsWith(sigil) ? firstWord.slice(sigil.length) : ''
  const isShortForm = sigil !== '' && ['status', 'lock', 'unlock', 'help'].includes(shortVerb)
  if (firstWord !== prefix && !isShortForm) {
    // `.promotetesting` looks like a typo of ours; any other word belongs to somebody else.
    if (firstWord.startsWith(prefix) && firstWord.length > prefix.length) {
      return malformed(`unknown command "${clip(firstWord)}": put a space after ${prefix}`)
    }
    return { kind: 'ignored' }
  }

  if (text.length > MAX_COMMAND_LENGTH) {
    return malformed(`the command is longer than ${MAX_COMMAND_LENGTH} characters`)
  }
  if (/[\r\n]/.test(text)) {
    return malformed('put the command alone on one line, without other text')
  }
  // eslint-disable-next-line no-control-regex -- rejecting control characters is the point
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) {
    return malformed('the command contains control characters')
  }

  const words = text.split(/[ \t]+/).slice(1)
  const verb = isShortForm ? shortVerb : (words[0] ?? '')
  const rest = isShortForm ? words : words.slice(1)
  switch (verb) {
    case 'status':
    case 'help':
      if (rest.length > 0)
        return malformed(`"${verb}" takes no arguments, got "${clip(rest.join(' '))}"`)
      return { kind: 'command', command: { kind: verb } }
    case 'lock':
      return parseLock(rest)
    case 'unlock':
      return parseUnlock(rest)
    default:
      return parsePromote(words, prefix)
  }
}

function parsePromote(words: string[], prefix: string): ParseResult {
  let noop = false
  let allowDeletions = false
  let force = false
  const targets: string[] = []
  for (const word of words) {
    if (word === '--noop') noop = true
    else if (word === '--allow-deletions') allowDeletions = true
    else if (word === '--force') force = true
    else if (word.startsWith('-'))
      return malformed(
        `unknown option "${clip(word)}" (options: --noop, --force, --allow-deletions)`,
      )
    else targets.push(word)
  }
  if (targets.length === 0) {
    return malformed(`name what to promote: ${prefix} <stage|environment|glob>... or ${prefix} all`)
  }
  const all = targets.includes('all')
  if (all && targets.length > 1) return malformed('"all" cannot be combined with other targets')
  const checked = checkTargets(all ? [] : targets)
  if (typeof checked === 'string') return malformed(checked)
  return {
    kind: 'command',
    command: {
      kind: 'promote',
      targets: checked,
      all,
      noop,
      allowDeletions,
      ...(force ? { force: true as const } : {}),
    },
  }
}

function parseLock(words: string[]): ParseResult {
  const reasonAt = words.findIndex((word) => word === '--reason' || word.startsWith('--reason='))
  const targetWords = reasonAt === -1 ? words : words.slice(0, reasonAt)
  let reason = ''
  if (reasonAt !== -1) {
    const flag = words[reasonAt] ?? ''
    const inline = flag.startsWith('--reason=') ? [flag.slice('--reason='.length)] : []
    reason = unquote([...inline, ...words.slice(reasonAt + 1)].join(' ').trim())
    if (reason === '') return malformed('--reason needs a text: lock <target>... --reason <why>')
    if (reason.length > MAX_REASON_LENGTH)
      return malformed(`the reason is longer than ${MAX_REASON_LENGTH} characters`)
  }
  const option = targetWords.find((word) => word.startsWith('-'))
  if (option !== undefined)
    return malformed(`unknown option "${clip(option)}" (lock takes --reason <text>, last)`)
  if (targetWords.length === 0)
    return malformed('name what to lock: lock <environment|stage>... [--reason <text>]')
  const checked = checkTargets(targetWords)
  if (typeof checked === 'string') return malformed(checked)
  return { kind: 'command', command: { kind: 'lock', targets: checked, reason } }
}

function parseUnlock(words: string[]): ParseResult {
  const option = words.find((word) => word.startsWith('-'))
  if (option !== undefined)
    return malformed(`unknown option "${clip(option)}" (unlock takes no options)`)
  if (words.length === 0) return malformed('name what to unlock: unlock <environment|stage>...')
  const checked = checkTargets(words)
  if (typeof checked === 'string') return malformed(checked)
  return { kind: 'command', command: { kind: 'unlock', targets: checked } }
}

/** Validated, de-duplicated targets, or the error to reply with. */
function checkTargets(targets: string[]): string[] | string {
  if (targets.length > MAX_TARGETS)
    return `at most ${MAX_TARGETS} targets per command, got ${targets.length}`
  for (const target of targets) {
    if (target.length > MAX_TARGET_LENGTH)
      return `"${clip(target)}" is longer than ${MAX_TARGET_LENGTH} characters`
    if (!TARGET.test(target)) {
      return `"${clip(target)}" is not a stage, environment or glob (letters, digits, ".", "_", "-", "*", "?")`
    }
    if (RESERVED.has(target)) return `"${target}" is a command word, not a target`
  }
  return [...new Set(targets)]
}

function unquote(text: string): string {
  const quoted = /^(["'])(.*)\1$/.exec(text)
  return quoted ? (quoted[2] ?? '').trim() : text
}

/** A bounded, printable excerpt of hostile text for an error message. */
function clip(text: string): string {
  const printable = text.replace(/[^\x20-\x7e]/g, '?')
  return printable.length > 40 ? `${printable.slice(0, 40)}…` : printable
}

function malformed(error: string): ParseResult {
  return { kind: 'malformed', error }
}

/** The grammar as a Markdown reply for `help` and malformed commands. */
export function helpText(command: string): string {
  const sigil = commandSigil(command)
  const short = (verb: string) => (sigil === '' ? `${command} ${verb}` : `${sigil}${verb}`)
  return [
    '| Command | Does |',
    '| --- | --- |',
    `| \`${command} <stage\\|environment\\|glob>...\` | Deploy the named stages or environments of this pull request, stage by stage. |`,
    `| \`${command} all\` | Deploy every impacted stage in order; a stage runs only after the stages it requires succeeded. |`,
    `| \`${command} <target>... --noop\` | Check permission and show every other check's verdict and what would be deployed, without deploying (approvals are not required). |`,
    `| \`${command} <target>... --force\` | Deploy again environments that already succeeded on this commit. |`,
    `| \`${command} <target>... --allow-deletions\` | Override the deletion guard for the current commit (maintain or admin only). |`,
    `| \`${short('status')}\` | Show each environment's status, lock and child pull request. |`,
    `| \`${short('lock')} <environment\\|stage>... [--reason <text>]\` | Lock environments for this pull request until it merges or unlocks. |`,
    `| \`${short('unlock')} <environment\\|stage>...\` | Release this pull request's locks. |`,
    `| \`${short('help')}\` | Show this help. |`,
    '',
    'Targets are stage names, environment names, or globs over environment names (`*-prod-*`). The command must be the whole comment, on one line.',
  ].join('\n')
}
