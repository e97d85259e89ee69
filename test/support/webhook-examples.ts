// Real webhook payloads from @octokit/webhooks-examples (collected from
// GitHub), so the actions are tested on what GitHub sends, not on hand-made
// objects.
import { createRequire } from 'node:module'
import type { WebhookDefinition } from '@octokit/webhooks-examples'

const definitions = createRequire(import.meta.url)(
  '@octokit/webhooks-examples',
) as WebhookDefinition[]

/** A fresh copy of the first example of event `name` with `action` (none for status, workflow_dispatch). */
export function webhookExample(name: string, action?: string): Record<string, unknown> {
  const examples = definitions.find((definition) => definition.name === name)?.examples ?? []
  const example = examples.find((payload) => (payload as { action?: string }).action === action)
  if (!example) throw new Error(`@octokit/webhooks-examples has no ${name} ${action ?? ''} payload`)
  return structuredClone(example) as Record<string, unknown>
}

/**
 * A real payload of `name`/`action` aimed at repository `fullName` (`owner/name`)
 * of a simulator; `aim` sets what else the test needs (SHAs, numbers).
 */
export function webhookExampleFor(
  name: string,
  action: string | undefined,
  fullName: string,
  aim: (payload: Record<string, unknown>) => void = () => {},
): Record<string, unknown> {
  const payload = webhookExample(name, action)
  const [owner = '', repo = ''] = fullName.split('/')
  Object.assign(payload.repository as object, {
    full_name: fullName,
    name: repo,
    owner: { ...(payload.repository as { owner: object }).owner, login: owner },
  })
  aim(payload)
  return payload
}
