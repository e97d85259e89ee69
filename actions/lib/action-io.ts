// The runner's input, output and failure protocol (INPUT_* variables,
// GITHUB_OUTPUT, annotations) is @actions/core's; every main.ts passes that
// module in as an ActionIo and goes through readInputs, writeOutputs and
// failAction here, so the protocol is used in one place while only main.ts
// imports the toolkit (test/contract.test.ts). Summaries, logs and the event
// stay in main.ts, but for the one line every action ends its summary with:
// how long its GitHub client waited for rate limits.
import { UserError, annotationText, errorMessage } from './errors.js'
import type { RateLimitLedger } from './github/rate-limit.js'

/** The part of @actions/core these helpers use; each main.ts passes `core`. */
export interface ActionIo {
  getInput(name: string, options: { required: boolean }): string
  setOutput(name: string, value: string): void
  error(
    message: string,
    properties: { file?: string; startLine?: number; startColumn?: number },
  ): void
  setFailed(message: string): void
}

export interface InputSpec {
  description: string
  required?: boolean
  /** The default as action.yml states it; GitHub passes it when the caller omits the input. */
  default?: string
}

export interface ActionContract<I extends string, O extends string> {
  inputs: Record<I, InputSpec>
  outputs: Record<O, { description: string }>
}

/**
 * Declares what an action reads and writes. The contract test compares it
 * with the action's action.yml, so the two cannot drift apart.
 */
export function defineContract<const I extends string, const O extends string>(
  contract: ActionContract<I, O>,
): ActionContract<I, O> {
  return contract
}

/** Reads every declared input once, as the runner passes them (INPUT_<NAME>). */
export function readInputs<I extends string>(
  io: ActionIo,
  contract: ActionContract<I, string>,
): Record<I, string> {
  const values = {} as Record<I, string>
  for (const name of Object.keys(contract.inputs) as I[]) {
    const spec = contract.inputs[name]
    values[name] = io.getInput(name, { required: spec.required === true }).trim()
  }
  return values
}

/** Writes every declared output; objects become JSON. */
export function writeOutputs<O extends string>(
  io: ActionIo,
  _contract: ActionContract<string, O>,
  values: Record<O, string | number | boolean | object>,
): void {
  for (const [name, value] of Object.entries(values) as [O, unknown][]) {
    io.setOutput(name, typeof value === 'string' ? value : JSON.stringify(value))
  }
}

export function parseJsonInput<T>(name: string, text: string): T {
  try {
    return JSON.parse(text) as T
  } catch (error) {
    throw new UserError(`input "${name}" is not valid JSON: ${errorMessage(error)}`)
  }
}

export function parseIntegerInput(
  name: string,
  text: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const value = Number(text)
  if (!/^-?\d+$/.test(text) || value < min || value > max) {
    throw new UserError(
      `input "${name}" must be a whole number from ${min} to ${max}, got "${text}"`,
    )
  }
  return value
}

/** A positive number of seconds up to `max` (e.g. `argocd-poll-seconds`), in milliseconds. */
export function parseSecondsInput(name: string, text: string, max: number): number {
  const seconds = Number(text)
  if (text.trim() === '' || !Number.isFinite(seconds) || seconds <= 0 || seconds > max) {
    throw new UserError(
      `input "${name}" must be a number of seconds from 0 to ${max}, got "${text}"`,
    )
  }
  return Math.round(seconds * 1000)
}

export function parseBooleanInput(name: string, text: string): boolean {
  if (/^(true|yes|on|1)$/i.test(text)) return true
  if (/^(false|no|off|0|)$/i.test(text)) return false
  throw new UserError(`input "${name}" must be true or false, got "${text}"`)
}

/** The one top-level failure path: any thrown value fails the step with a readable message. */
export function failAction(io: ActionIo, error: unknown): void {
  const message = errorMessage(error)
  if (error instanceof UserError && error.location) {
    io.error(annotationText(message, error.location), {
      file: error.location.file,
      ...(error.location.line !== undefined ? { startLine: error.location.line } : {}),
      ...(error.location.column !== undefined ? { startColumn: error.location.column } : {}),
    })
  }
  io.setFailed(message)
}

/** The parts of @actions/core a rate-limit note uses. */
export interface SummaryIo {
  info(message: string): void
  summary: { addRaw(text: string): { write(): Promise<unknown> } }
}

/**
 * Appends to the log and the job summary how long the client waited for
 * GitHub's rate limits (nothing when it did not), also after a failure.
 */
export async function noteRateLimitWaits(io: SummaryIo, ledger: RateLimitLedger): Promise<void> {
  const note = ledger.summary()
  if (!note) return
  io.info(note)
  await io.summary.addRaw(`\n${note}\n`).write()
}
