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
