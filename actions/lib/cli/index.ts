import { errorMessage, UserError } from '../errors.js'

export interface CliCommand {
  summary: string
  usage: string
  /** Returns the exit code; writes results to stdout and diagnostics to stderr. */
  run(args: string[]): Promise<number>
}

/** Subcommands, registered by the modules that implement them. */
export const commands = new Map<string, CliCommand>()

export function helpText(): string {
  const lines = [
    'fleet-promote: promote Kubernetes add-on changes through a fleet of clusters.',
    '',
    'Usage: fleet-promote <command> [options]',
    '',
    'Commands:',
  ]
  const width = Math.max(4, ...[...commands.keys()].map((name) => name.length))
  for (const [name, command] of [...commands].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`  ${name.padEnd(width)}  ${command.summary}`)
  }
  lines.push(
    `  ${'help'.padEnd(width)}  Show this help, or a command's help: fleet-promote help <command>`,
  )
  lines.push('', 'Run "fleet-promote <command> --help" for the options of one command.')
  return lines.join('\n')
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined
    const command = topic === undefined ? undefined : commands.get(topic)
    if (topic !== undefined && !command) {
      process.stderr.write(`fleet-promote: unknown command "${topic}"\n\n${helpText()}\n`)
      return 2
    }
    process.stdout.write(`${command ? command.usage : helpText()}\n`)
    return 0
  }
  const command = commands.get(name)
  if (!command) {
    process.stderr.write(`fleet-promote: unknown command "${name}"\n\n${helpText()}\n`)
    return 2
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.usage}\n`)
    return 0
  }
  try {
    return await command.run(rest)
  } catch (error) {
    const message = errorMessage(error)
    const location = error instanceof UserError ? error.location : undefined
    // Most located messages start with their place already (`fleet-promote.yaml:10:5: …`): name it once.
    const where =
      location && !message.startsWith(`${location.file}:`)
        ? `${location.file}${location.line ? `:${location.line}` : ''}: `
        : ''
    process.stderr.write(`fleet-promote ${name}: ${where}${message}\n`)
    return 1
  }
}
