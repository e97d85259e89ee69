import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { UserError } from '../errors.js'
import { mergeHydrationResults } from '../render/output.js'
import { commands } from './index.js'

const usage = `Usage: fleet-promote merge-results --out DIR SHARD_DIR...

Merges the output directories of several hydrate matrix jobs (each holding
hydration.json and one directory per environment) into DIR, byte for byte what
a single runner rendering every environment would have written. The shards must
have rendered the same DRY commit and disjoint environments.

Options:
  --out DIR   Directory to write the merged result to`

commands.set('merge-results', {
  summary: 'Merge the outputs of hydrate matrix shards into one.',
  usage,
  async run(args) {
    let parsed
    try {
      parsed = parseArgs({
        args,
        options: { out: { type: 'string' } },
        strict: true,
        allowPositionals: true,
      })
    } catch (error) {
      throw new UserError(`${(error as Error).message} (see "fleet-promote merge-results --help")`)
    }
    const out = parsed.values.out
    if (!out || parsed.positionals.length === 0) {
      throw new UserError(
        '--out and at least one shard directory are required (see "fleet-promote merge-results --help")',
      )
    }
    const merged = await mergeHydrationResults(
      resolve(out),
      parsed.positionals.map((dir) => resolve(dir)),
    )
    const counts = new Map<string, number>()
    for (const env of merged.environments) counts.set(env.status, (counts.get(env.status) ?? 0) + 1)
    process.stdout.write(
      `${JSON.stringify({ environments: merged.environments.length, ...Object.fromEntries(counts) })}\n`,
    )
    return 0
  },
})
