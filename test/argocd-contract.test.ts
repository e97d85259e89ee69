// The committed Argo CD contract (test/support/argocd/argocd-api.schema.json)
// is what Argo CD's published swagger says, re-derived from the full
// description when this machine has one. Without one the test says it skipped:
// nothing else needs the full description.
import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import {
  CONTRACT_ROOTS,
  REGENERATE,
  deriveArgoCdContract,
  findFullSwagger,
  formatContract,
  readCommittedContract,
} from './support/argocd/contract.js'

const swagger = findFullSwagger()

describe('Argo CD contract', () => {
  it.skipIf(swagger === undefined)(
    'is what the full swagger named by FLEET_PROMOTE_ARGOCD_SWAGGER derives',
    async () => {
      const committed = await readCommittedContract()
      // The committed provenance, with the checksum of this description.
      const derived = deriveArgoCdContract(await readFile(swagger!, 'utf8'), committed.source)
      expect(
        formatContract(committed),
        `test/support/argocd/argocd-api.schema.json is stale against ${swagger}; regenerate: ${REGENERATE}`,
      ).toBe(formatContract(derived))
    },
  )

  it('covers every definition the simulator validates, and only structure', async () => {
    const { definitions, source } = await readCommittedContract()
    expect(Object.keys(definitions)).toEqual(expect.arrayContaining([...CONTRACT_ROOTS]))
    expect(source.commit).toMatch(/^[0-9a-f]{40}$/)
    expect(JSON.stringify(definitions)).not.toMatch(/"(description|title)"/)
  })

  it('rejects a description without definitions, or one missing a root', () => {
    const source = { repository: 'r', path: 'p', commit: '0'.repeat(40), version: 'v' }
    expect(() => deriveArgoCdContract('{"swagger":"2.0"}', source)).toThrow(/no "definitions"/)
    expect(() => deriveArgoCdContract('{"definitions":{}}', source)).toThrow(
      /the swagger has no definition /,
    )
  })
})
