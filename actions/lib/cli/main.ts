#!/usr/bin/env node
import { main } from './index.js'
import './impact.js'
import './render.js'
import './merge-results.js'
import './report.js'

process.exitCode = await main(process.argv.slice(2))
