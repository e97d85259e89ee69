// `npm run crd-schemas`: scripts/derive-crd-schemas.ts, run for a person.
import { main } from './derive-crd-schemas.js'

process.exitCode = await main(process.argv.slice(2))
