// `npm run release`: scripts/release-plan.ts (the release workflow, or a dry run by hand).
import { main } from './release-plan.js'

process.exitCode = await main(process.argv.slice(2))
