import { resolve } from 'node:path'
import { Git } from '../git/git.js'
import { detectImpact } from '../kustomize/impact.js'
import { UserError } from '../errors.js'
import { parseCliArgs } from './args.js'
import { commands } from './index.js'

const usage = `Usage: fleet-promote impact --base REV --head REV [--repo DIR] [--config FILE] [--env [NAME=]GLOB]...

Lists the environments a change touches, from the kustomize/Helm dependency
graph of every environment at the base and the head revision (read from git
objects; nothing is checked out). Prints JSON to stdout:
  {"environments": [{name, path, stage, branch}], "stages": [...], "count": N,
   "external": [...], "reasons": {"<environment>": ["<why>", ...]}}

Options:
  --repo DIR      Git repository (default: the current directory)
  --base REV      Base revision (the branch the change merges into)
  --head REV      Head revision (the change)
  --config FILE   Configuration file, read at the base revision (default: fleet-promote.yaml)
  --env GLOB      Environment directory or directory glob instead of the configured
                  environments; repeatable. Each directory is one environment named by its
                  path ("/" becomes "-"; a path that gives no valid name is made one, with a
                  warning). NAME=DIR names it. A pattern that gives no usable environment is
                  reported on stderr, the others are still analysed, and the exit code is 1.
  --remote NAME   Remote to fetch missing history from in a shallow clone (default: origin)`

commands.set('impact', {
  summary: 'List the environments a change touches (kustomize/Helm dependency graph).',
  usage,
  async run(args) {
    const options = parseCliArgs('impact', args, {
      repo: { type: 'string' },
      base: { type: 'string' },
      head: { type: 'string' },
      config: { type: 'string' },
      env: { type: 'string', multiple: true },
      remote: { type: 'string' },
    })
    if (!options.base || !options.head)
      throw new UserError('--base and --head are required (see "fleet-promote impact --help")')
    const result = await detectImpact({
      git: new Git(resolve(options.repo ?? '.')),
      base: options.base,
      head: options.head,
      ...(options.config !== undefined ? { configFile: options.config } : {}),
      ...(options.env ? { environmentPatterns: options.env } : {}),
      ...(options.remote !== undefined ? { remote: options.remote } : {}),
    })
    for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`)
    // A check before pushing: what would fail the impacted environments' renders fails here.
    const broken = Object.entries(result.problems)
    if (broken.length > 0) {
      for (const [name, problems] of broken)
        for (const problem of problems) process.stderr.write(`error: ${name}: ${problem}\n`)
      return 1
    }
    const { environments, stages, count, external, reasons } = result
    process.stdout.write(
      `${JSON.stringify({ environments, stages, count, external, reasons }, null, 2)}\n`,
    )
    for (const reason of result.unusable) process.stderr.write(`error: ${reason}\n`)
    return result.unusable.length > 0 ? 1 : 0
  },
})
