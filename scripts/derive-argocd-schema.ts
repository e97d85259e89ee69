// `npm run argocd-schema -- [SWAGGER] [--commit SHA --version TEXT]`
//
// Writes test/support/argocd/argocd-api.schema.json: the part of Argo CD's
// published API description (assets/swagger.json of argoproj/argo-cd) that the
// Argo CD simulator and client are validated against. SWAGGER defaults to
// FLEET_PROMOTE_ARGOCD_SWAGGER.
// The provenance (Argo CD commit and version of SWAGGER) is kept from the
// committed file unless --commit and --version say otherwise. Nothing here runs in the tests (one contract test
// re-derives and compares, when a full description is available).
import { readFile, writeFile } from 'node:fs/promises'
import { relative } from 'node:path'
import {
  CONTRACT_FILE,
  deriveArgoCdContract,
  findFullSwagger,
  formatContract,
  readCommittedContract,
} from '../test/support/argocd/contract.js'

function option(args: string[], name: string): string | undefined {
  const index = args.indexOf(name)
  if (index < 0) return undefined
  const value = args[index + 1]
  if (value === undefined || value.startsWith('--')) throw new Error(`${name} needs a value`)
  args.splice(index, 2)
  return value
}

export async function main(argv: string[]): Promise<number> {
  const args = [...argv]
  const commit = option(args, '--commit')
  const version = option(args, '--version')
  if ((commit === undefined) !== (version === undefined)) {
    throw new Error('--commit and --version go together: they describe the source')
  }
  const [path = findFullSwagger(), ...rest] = args
  if (rest.length > 0) throw new Error(`unexpected arguments: ${rest.join(' ')}`)
  if (!path) {
    process.stderr.write(
      'error: no Argo CD swagger: pass its path, or set FLEET_PROMOTE_ARGOCD_SWAGGER\n',
    )
    return 2
  }
  const { repository, path: sourcePath, ...committed } = (await readCommittedContract()).source
  const source = {
    repository,
    path: sourcePath,
    commit: commit ?? committed.commit,
    version: version ?? committed.version,
  }
  const contract = deriveArgoCdContract(await readFile(path, 'utf8'), source)
  await writeFile(CONTRACT_FILE, formatContract(contract))
  process.stdout.write(
    `wrote ${relative(process.cwd(), CONTRACT_FILE)}: ${Object.keys(contract.definitions).length} definitions from ${path}\n`,
  )
  return 0
}

process.exitCode = await main(process.argv.slice(2))
