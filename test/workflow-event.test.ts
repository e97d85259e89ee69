// workflowEvent() reads the run's event as @actions/github's context does.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it, vi } from 'vitest'
import * as github from '@actions/github'
import { workflowEvent } from '../actions/lib/github/events.js'

// The package exports only its instance; a fresh one reads the environment as it is now.
const Context = github.context.constructor as new () => typeof github.context
const dir = await mkdtemp(join(tmpdir(), 'workflow-event-'))
afterAll(() => rm(dir, { recursive: true, force: true }))

it.each([
  ['a payload file', { pull_request: { number: 7 } }],
  ['no payload file', undefined],
  ['no GITHUB_EVENT_PATH', null],
])('gives what @actions/github gives with %s', async (what, payload) => {
  const path = join(dir, `${what.replaceAll(' ', '-')}.json`)
  if (payload) await writeFile(path, JSON.stringify(payload))
  const env = {
    GITHUB_EVENT_NAME: 'pull_request',
    ...(payload === null ? {} : { GITHUB_EVENT_PATH: path }),
  }
  vi.stubEnv('GITHUB_EVENT_PATH', env.GITHUB_EVENT_PATH)
  vi.stubEnv('GITHUB_EVENT_NAME', env.GITHUB_EVENT_NAME)
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
  try {
    const context = new Context()
    const noticesOfContext = write.mock.calls.map(([text]) => String(text))
    write.mockClear()
    const event = workflowEvent(env)
    expect(event).toEqual({ eventName: context.eventName, payload: context.payload })
    expect(write.mock.calls.map(([text]) => String(text))).toEqual(noticesOfContext)
    expect(event.payload).toEqual(payload ?? {})
  } finally {
    write.mockRestore()
    vi.unstubAllEnvs()
  }
})
