import { parseArgs } from 'node:util'
import { UserError } from '../errors.js'

type OptionSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>

/** Strict option parsing for CLI subcommands: unknown options are a clear error. */
export function parseCliArgs<T extends OptionSpec>(command: string, args: string[], options: T) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values
  } catch (error) {
    throw new UserError(`${(error as Error).message} (see "fleet-promote ${command} --help")`)
  }
}
