// A long promotion's reply, edited in place as environments finish: one
// comment when the first environment starts ("deploying", where each wave
// stands, elapsed time), edited when a wave changes state or, for
// environments finishing within a wave, after an interval that starts at
// `minIntervalMs` and doubles with each such edit (10 s, 20 s, 40 s … up to
// MAX_INTERVAL_MS); the final reply replaces it. Edits are content-creating
// requests: at most MAX_PROGRESS_EDITS per run, whatever the stage's length,
// so a flow of 3 promotions in shared-branch mode stays within 60 of them
// with a real CD's minutes-long syncs (BENCHMARKS.md, scale), and none once
// every wave seen has ended (the final reply follows at once). A run refused
// before it deploys posts only its reply. A failed edit never fails the
// promotion: the final reply is posted anyway.

import { errorMessage } from '../lib/errors.js'
import { inlineCode } from '../lib/markdown.js'
import { formatDuration } from './reply.js'
import { waveLabel, type Wave, type WavePlan, type WaveState } from './waves.js'

/** Progress edits per run (the final reply apart): well inside CONTENT_CREATING_RESERVE. */
export const MAX_PROGRESS_EDITS = 6

/** The longest wait between time-based edits: past it, only wave changes edit. */
export const MAX_INTERVAL_MS = 5 * 60_000

export interface LivePort {
  create(body: string): Promise<number>
  edit(id: number, body: string): Promise<void>
  /** The final reply when there is no comment to edit. */
  post(body: string): Promise<void>
  log(line: string): void
}

export interface LiveHeader {
  command: string
  actor: string
  sha: string
}

/** Throttle decision, pure: edit now? */
export function shouldEdit(
  last: { at: number; waves: string } | undefined,
  next: { at: number; waves: string },
  minIntervalMs: number,
): boolean {
  if (!last) return true
  return last.waves !== next.waves || next.at - last.at >= minIntervalMs
}

export class LiveReply {
  private id: number | undefined
  private readonly started: number
  private readonly plans = new Map<string, WavePlan>()
  /** When each wave (stage#number) was first seen running, and when it ended. */
  private readonly times = new Map<string, { from: number; to?: number }>()
  private last: { at: number; waves: string; body: string } | undefined
  private chain: Promise<void> = Promise.resolve()
  private edits = 0
  /** Edits made because time passed (not because a wave changed): each doubles the next wait. */
  private timedEdits = 0

  constructor(
    private readonly port: LivePort,
    private readonly header: LiveHeader,
    private readonly now: () => number,
    private readonly minIntervalMs = 10_000,
  ) {
    this.started = now()
  }

  /** Where one stage stands now: the first call posts the reply, later ones edit it when the throttle allows. */
  progress(plan: WavePlan): void {
    const at = this.now()
    this.plans.set(plan.stage, plan)
    for (const wave of plan.waves) this.time(plan.stage, wave, at)
    const next = { at, waves: this.signature() }
    if (!this.last) return this.post(next)
    if (this.edits >= MAX_PROGRESS_EDITS) return
    const interval = Math.min(this.minIntervalMs * 2 ** this.timedEdits, MAX_INTERVAL_MS)
    if (!shouldEdit(this.last, next, interval) || this.ended()) return
    const body = this.render()
    if (body === this.last.body) return
    if (next.waves === this.last.waves) this.timedEdits++
    this.last = { ...next, body }
    this.edits++
    // After the post (the chain keeps the order); nothing to edit when it failed.
    this.chain = this.chain
      .then(() => (this.id === undefined ? undefined : this.port.edit(this.id, body)))
      .catch((error: unknown) =>
        this.port.log(`could not edit the live reply: ${errorMessage(error)}`),
      )
  }

  private post(next: { at: number; waves: string }): void {
    const body = this.render()
    this.last = { ...next, body }
    this.chain = this.chain
      .then(async () => {
        this.id = await this.port.create(body)
      })
      .catch((error: unknown) =>
        this.port.log(`could not post the live reply: ${errorMessage(error)}`),
      )
  }

  /** Every wave seen has ended: the final reply is next, an edit now would be replaced at once. */
  private ended(): boolean {
    return [...this.plans.values()].every((plan) =>
      plan.waves.every((wave) => wave.state === 'done' || wave.state === 'failed'),
    )
  }

  /** The final reply: edits the live one, or posts it when there is none (or the edit failed). */
  async finish(body: string): Promise<void> {
    await this.chain
    if (this.id !== undefined) {
      try {
        await this.port.edit(this.id, body)
        return
      } catch (error) {
        this.port.log(`could not edit the live reply: ${errorMessage(error)}`)
      }
    }
    await this.port.post(body)
  }

  private time(stage: string, wave: Wave, at: number): void {
    const key = `${stage}#${wave.number}`
    const seen = this.times.get(key)
    if (!seen && wave.state === 'running') this.times.set(key, { from: at })
    if (seen && seen.to === undefined && (wave.state === 'done' || wave.state === 'failed'))
      seen.to = at
  }

  private signature(): string {
    return [...this.plans.values()]
      .flatMap((plan) => plan.waves.map((wave) => `${plan.stage}#${wave.number}:${wave.state}`))
      .join(',')
  }

  private render(): string {
    const at = this.now()
    const out = [
      '### ⏳ fleet-promote: deploying',
      '',
      `${inlineCode(this.header.command)} by @${this.header.actor} on ${inlineCode(this.header.sha.slice(0, 7))}`,
      '',
      `Running for ${formatDuration(at - this.started)}; this comment is edited as environments finish.`,
      '',
    ]
    for (const plan of this.plans.values()) {
      out.push(`**${plan.stage}**`, '')
      for (const wave of plan.waves) out.push(`- ${this.waveLine(plan, wave, at)}`)
      out.push('')
    }
    return `${out.join('\n').trimEnd()}\n`
  }

  private waveLine(plan: WavePlan, wave: Wave, at: number): string {
    const count = (progress: string) =>
      wave.environments.filter((env) => env.progress === progress).length
    const parts = [`${count('done')}/${wave.environments.length} succeeded`]
    if (count('running') > 0) parts.push(`${count('running')} running`)
    if (count('failed') > 0) parts.push(`${count('failed')} failed`)
    const time = this.times.get(`${plan.stage}#${wave.number}`)
    if (time) parts.push(formatDuration((time.to ?? at) - time.from))
    const label =
      plan.waves.length === 1 && wave.pattern === undefined
        ? 'all'
        : `${waveLabel(wave)} of ${plan.waves.length}`
    return `${LIVE_ICON[wave.state]} ${label}: ${LIVE_STATE[wave.state]}, ${parts.join(', ')}`
  }
}

const LIVE_ICON: Record<WaveState, string> = {
  done: '✅',
  running: '⏳',
  failed: '❌',
  next: '⏸️',
  waiting: '⏸️',
}

const LIVE_STATE: Record<WaveState, string> = {
  done: 'done',
  running: 'running',
  failed: 'failed',
  next: 'waiting',
  waiting: 'waiting',
}
