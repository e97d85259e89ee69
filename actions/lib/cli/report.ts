import { resolve } from 'node:path'
import { createArgoCdClient } from '../argocd/client.js'
import { DEFAULT_CONFIG_FILE } from '../config/config.js'
import { UserError } from '../errors.js'
import { Git } from '../git/git.js'
import { failureReasons, parseFailOn } from '../report/build.js'
import { gatherReport } from '../report/gather.js'
import { renderReport, renderText } from '../report/markdown.js'
import { parseCliArgs } from './args.js'
import { commands } from './index.js'
import { remoteCredentials, withCredentialsAdvice } from './remote-token.js'

const usage = `Usage: fleet-promote report [--repo DIR] [--branch NAME] [--remote NAME | --local] [options]

Reports, for the whole fleet, which version of each add-on runs on each cluster
(read from the WET branch tips), the newest releases of each chart (Helm
repository index.yaml or OCI tags, only from hydrate.helm.allowedRepos),
the clusters behind the newest patch or a configured minimum, and drift:
  wet       a WET branch is not the render of the DRY branch tip
  argocd    an Application does not run its WET branch tip, or is OutOfSync/Degraded
  orphaned  an Application runs the child branch of a closed or deleted parent
Works from a local clone without GitHub: the branches come from the remote
(one ls-remote, one fetch). Argo CD is read when ARGOCD_AUTH_TOKEN is set
(never pass a token on the command line).

Options:
  --repo DIR          Clone of the fleet repository (default: the current directory)
  --branch NAME       DRY branch (default: the remote's HEAD branch, else main)
  --remote NAME       Remote to read branches from (default: origin); an HTTPS remote
                      gets the token in FLEET_PROMOTE_GIT_TOKEN, if set
  --local             Read only the refs already in the clone (no network)
  --config FILE       Configuration file, read at the DRY tip (default: fleet-promote.yaml)
  --skip-render       Do not render the DRY tip (no WET drift check; no kustomize/helm needed)
  --argocd-server URL Argo CD server (default: deploy.argocd.server)
  --format FORMAT     text (default), markdown or json
  --fail-on LIST      Exit 1 on: drift, below-minimum, behind-patch (comma-separated; default none)
  --parallelism N     Render processes (default: CPU count)

Exit code: 0, or 1 when --fail-on matched (reasons on stderr).`

async function defaultBranch(git: Git, remote: string): Promise<string> {
  const result = await git.raw(['symbolic-ref', '--quiet', `refs/remotes/${remote}/HEAD`])
  const ref = result.code === 0 ? result.stdout.trim() : ''
  return ref.startsWith(`refs/remotes/${remote}/`)
    ? ref.slice(`refs/remotes/${remote}/`.length)
    : 'main'
}

commands.set('report', {
  summary: 'Versions of each add-on per cluster, newest chart releases, and drift.',
  usage,
  async run(args) {
    const options = parseCliArgs('report', args, {
      repo: { type: 'string' },
      branch: { type: 'string' },
      remote: { type: 'string' },
      local: { type: 'boolean' },
      config: { type: 'string' },
      'skip-render': { type: 'boolean' },
      'argocd-server': { type: 'string' },
      format: { type: 'string' },
      'fail-on': { type: 'string' },
      parallelism: { type: 'string' },
    })
    const format = options.format ?? 'text'
    if (!['text', 'markdown', 'json'].includes(format)) {
      throw new UserError(`--format must be text, markdown or json, got "${format}"`)
    }
    if (options.local && options.remote !== undefined)
      throw new UserError('--local and --remote exclude each other')
    const parallelism = options.parallelism === undefined ? undefined : Number(options.parallelism)
    if (parallelism !== undefined && (!Number.isInteger(parallelism) || parallelism < 1)) {
      throw new UserError(`--parallelism must be a whole number ≥ 1, got "${options.parallelism}"`)
    }
    const failOn = parseFailOn(options['fail-on'] ?? '', '--fail-on')
    const repoDir = resolve(options.repo ?? '.')
    const remote = options.local ? undefined : (options.remote ?? 'origin')
    const credentials = remote === undefined ? undefined : await remoteCredentials(repoDir, remote)
    const git = new Git(repoDir, credentials?.git)
    const branch = options.branch ?? (await defaultBranch(git, remote ?? 'origin'))
    const configFile = options.config ?? DEFAULT_CONFIG_FILE
    const token = process.env.ARGOCD_AUTH_TOKEN ?? ''
    const gathered = gatherReport({
      git,
      configFile,
      dryBranch: branch,
      ...(remote !== undefined ? { remote } : {}),
      render: options['skip-render'] !== true,
      ...(token ? { argocd: (server: string) => createArgoCdClient({ server, token }) } : {}),
      ...(options['argocd-server'] ? { argocdServer: options['argocd-server'] } : {}),
      argocdSkipped: 'ARGOCD_AUTH_TOKEN is not set',
      ...(parallelism !== undefined ? { parallelism } : {}),
    })
    const { report } = await gathered.catch((error: unknown) => {
      throw credentials ? withCredentialsAdvice(error, credentials) : error
    })
    process.stdout.write(
      format === 'json'
        ? `${JSON.stringify(report, null, 2)}\n`
        : format === 'markdown'
          ? renderReport(report, {
              limit: Number.MAX_SAFE_INTEGER,
              rowsPerSection: Number.MAX_SAFE_INTEGER,
            })
          : renderText(report),
    )
    const reasons = failureReasons(report, failOn)
    for (const reason of reasons) process.stderr.write(`fleet-promote report: ${reason}\n`)
    return reasons.length > 0 ? 1 : 0
  },
})
