// `npm run demo`: the end-to-end scenario in test/e2e/demo-scenario.ts, run for a person.
import { main } from '../test/e2e/demo-scenario.js'

process.exitCode = await main(process.argv.slice(2))
