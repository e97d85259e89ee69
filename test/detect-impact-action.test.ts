// End to end: the bundled detect-impact action on a shallow actions/checkout
// of a pull request's merge ref, against the GitHub simulator's git server.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Environment } from '../actions/lib/config/types.js'
import { revisionsFromEvent, shardMatrix } from '../actions/detect-impact/main.js'
import {
  createTempRepo,
  generateFleet,
  type FileChanges,
  type TempRepo,
} from './support/fleet-gen.js'
import { startGitHubSimulator, type GitHubSimulator } from './support/github/index.js'
import { actionBundles, type ActionBundles } from './support/bundles.js'
import { webhookExample, webhookExampleFor } from './support/webhook-examples.js'
import { runAction } from './support/runner.js'

let gh: GitHubSimulator
let bundles: ActionBundles | undefined
let script: string
let seed: TempRepo

beforeAll(async () => {
  bundles = await actionBundles(['detect-impact'])
  script = join(bundles.distDir, 'detect-impact', 'index.js')
  gh = await startGitHubSimulator()
  seed = await createTempRepo('detect-impact-seed-')
})

afterAll(async () => {
  await gh?.stop()
  await seed?.cleanup()
  await bundles?.cleanup()
})

/** Pushes `main` with the fleet and a `feature` branch with `change`, opens the PR. */
async function pullRequest(repo: string, fleet: FileChanges, change: FileChanges) {
  await gh.createRepo(repo)
  await seed.git.run(['checkout', '--quiet', '--orphan', `main-${repo.replace('/', '-')}`])
  await seed.git.run(['rm', '-r', '-q', '--cached', '--ignore-unmatch', '.'])
  await seed.git.run(['clean', '-fdq'])
  const base = await seed.commit(fleet, 'fleet')
  // History between the merge base and the base head: a shallow checkout must deepen past it.
  for (let i = 0; i < 3; i++) await seed.commit({ [`docs/${i}.md`]: `${i}\n` }, `docs ${i}`)
  const mainHead = await seed.git.revParse('HEAD')
  await seed.git.run(['checkout', '--quiet', '-b', `feature-${repo.replace('/', '-')}`, base])
  const head = await seed.commit(change, 'change')
  await seed.git.run([
    'push',
    '--quiet',
    '--force',
    gh.repoPath(repo),
    `${mainHead}:refs/heads/main`,
    `${head}:refs/heads/feature`,
  ])
  await gh.refreshRefs(repo)
  const { event } = await gh.openPullRequest(repo, {
    head: 'feature',
    base: 'main',
    title: 'Change',
    user: gh.adminLogin,
  })
  return { event, base: mainHead, head }
}

describe('detect-impact action', () => {
  it('lists impacted environments from a shallow pull request checkout, with shards and a summary', async () => {
    const fleet = generateFleet({ clusters: 12, components: 4, componentsPerCluster: 2 })
    const { event } = await pullRequest('acme/fleet', fleet, {
      'components/addon-003/config/settings.properties': 'component=addon-003\nreplicas=2\n',
    })
    const result = await runAction('detect-impact', {
      script,
      github: gh,
      eventName: 'pull_request',
      event,
      checkout: {},
      inputs: {
        config: 'fleet-promote.yaml',
        base: '',
        head: '',
        'shard-size': '2',
        'working-directory': '.',
      },
    })
    try {
      expect(result.stderr).toBe('')
      expect(result.exitCode).toBe(0)
      // cluster k uses addons k and k+1 (mod 4): addon-003 is used by clusters 2, 3, 6, 7, 10, 11.
      const environments = JSON.parse(result.outputs.environments ?? '[]') as Environment[]
      expect(environments.map((env) => env.name)).toEqual([
        'cluster-0002',
        'cluster-0003',
        'cluster-0006',
        'cluster-0007',
        'cluster-0010',
        'cluster-0011',
      ])
      expect(environments[0]).toEqual({
        name: 'cluster-0002',
        path: 'clusters/group-02/cluster-0002',
        stage: 'testing',
        branch: 'env/cluster-0002',
      })
      expect(JSON.parse(result.outputs.stages ?? '[]')).toEqual(['testing', 'production'])
      expect(result.outputs.count).toBe('6')
      const matrix = JSON.parse(result.outputs.matrix ?? '{}') as {
        include: { shard: number; environments: string }[]
      }
      expect(matrix.include.map((entry) => entry.shard)).toEqual([1, 2, 3])
      expect(
        matrix.include.flatMap((entry) => JSON.parse(entry.environments) as Environment[]),
      ).toEqual(environments)
      expect(JSON.parse(result.outputs.external ?? '')).toEqual([])
      expect(result.summary).toContain('### detect-impact: 6 environments impacted')
      expect(result.summary).toContain('#### testing')
      expect(result.summary).toMatch(
        /\| cluster-0011 \| clusters\/group-01\/cluster-0011 \| components\/addon-003/,
      )
      expect(result.summary).toContain('components/addon-003/config/settings.properties (modified)')
    } finally {
      await result.cleanup()
    }
  })

  it('on a real workflow_dispatch payload, compares the two parents of the checked-out test merge', async () => {
    const fleet = generateFleet({ clusters: 4, components: 2, componentsPerCluster: 1 })
    const { event, base, head } = await pullRequest('acme/dispatched', fleet, {
      'components/addon-001/config/settings.properties': 'component=addon-001\nreplicas=2\n',
    })
    const number = (event.pull_request as { number: number }).number
    const dispatch = webhookExampleFor('workflow_dispatch', undefined, 'acme/dispatched', (p) => {
      Object.assign(p, { ref: 'refs/heads/main', inputs: { pr: String(number) } })
    })
    const run = (checkout: { ref: string; depth: number }) =>
      runAction('detect-impact', {
        script,
        github: gh,
        eventName: 'workflow_dispatch',
        event: dispatch,
        checkout,
        inputs: { config: 'fleet-promote.yaml', base: '', head: '', 'shard-size': '10' },
      })
    const merged = await run({ ref: `refs/pull/${number}/merge`, depth: 0 })
    try {
      expect(merged.exitCode, merged.stdout).toBe(0)
      expect(merged.outputs).toMatchObject({ base, head, count: '2' })
    } finally {
      await merged.cleanup()
    }
    // The base branch is no test merge: the run says what to check out.
    const plain = await run({ ref: 'refs/heads/main', depth: 0 })
    try {
      expect(plain.exitCode).toBe(1)
      expect(plain.annotations.find((a) => a.level === 'error')?.message).toMatch(
        /^cannot tell the base and head revisions of a workflow_dispatch run: check out refs\/pull\/<pr>\/merge/,
      )
    } finally {
      await plain.cleanup()
    }
  })

  it('says the configuration is not in the base revision when only the pull request adds it', async () => {
    const { 'fleet-promote.yaml': config = '', ...fleet } = generateFleet({
      clusters: 2,
      components: 2,
    })
    const { event, base } = await pullRequest('acme/no-config', fleet, {
      'fleet-promote.yaml': config,
      'components/addon-001/config/settings.properties': 'component=addon-001\nreplicas=2\n',
    })
    const result = await runAction('detect-impact', {
      script,
      github: gh,
      eventName: 'pull_request',
      event,
      checkout: {},
      inputs: { config: 'fleet-promote.yaml', 'shard-size': '10', 'working-directory': '.' },
    })
    try {
      expect(result.exitCode).toBe(0)
      const warnings = result.annotations.filter((annotation) => annotation.level === 'warning')
      expect(warnings.map((warning) => warning.message)).toContain(
        `base revision: fleet-promote.yaml is not in ${base.slice(0, 12)}; commit it there (the configuration is read from the base branch). Until then the defaults apply: every directory below clusters/ holding a kustomization is an environment, in one stage.`,
      )
    } finally {
      await result.cleanup()
    }
  })

  it('impacts what a broken head breaks, with an annotation on the file and line, instead of failing', async () => {
    const fleet = generateFleet({ clusters: 3, components: 2 })
    const { base, head } = await pullRequest('acme/broken', fleet, {
      'components/addon-000/kustomization.yaml':
        'resources:\n  - deployment.yaml\n  - missing.yaml\n',
    })
    const result = await runAction('detect-impact', {
      script,
      github: gh,
      eventName: 'workflow_dispatch',
      event: {},
      repository: 'acme/broken',
      checkout: { ref: head, depth: 0 },
      inputs: {
        config: 'fleet-promote.yaml',
        base,
        head,
        'shard-size': '10',
        'working-directory': '.',
      },
    })
    try {
      // The run goes on: the environments it breaks are impacted, their renders fail with it.
      expect(result.exitCode).toBe(0)
      const problems = JSON.parse(result.outputs.problems ?? '{}') as Record<string, string[]>
      expect(Object.keys(problems).length).toBeGreaterThan(0)
      for (const found of Object.values(problems))
        expect(found).toEqual([
          expect.stringContaining(':3: resources entry "missing.yaml" does not exist'),
        ])
      const count = Number(result.outputs.count)
      expect(count).toBeGreaterThanOrEqual(Object.keys(problems).length)
      const warning = result.annotations.find((annotation) => annotation.level === 'warning')
      expect(warning).toMatchObject({ file: 'components/addon-000/kustomization.yaml', line: 3 })
      expect(warning?.message).toContain('"missing.yaml" does not exist')
    } finally {
      await result.cleanup()
    }
  })

  it('asks for base and head on an event that does not carry them (a real issue_comment)', async () => {
    const result = await runAction('detect-impact', {
      script,
      eventName: 'issue_comment',
      event: webhookExample('issue_comment', 'created'),
      inputs: {
        config: 'fleet-promote.yaml',
        base: '',
        head: '',
        'shard-size': '10',
        'working-directory': '.',
      },
    })
    try {
      expect(result.exitCode).toBe(1)
      const error = result.annotations.find((annotation) => annotation.level === 'error')
      expect(error?.message).toBe(
        'cannot tell the base and head revisions of an issue_comment event: set the base and head inputs',
      )
    } finally {
      await result.cleanup()
    }
  })
})

describe('detect-impact helpers', () => {
  it('reads base and head from pull_request, merge_group and push events', () => {
    expect(
      revisionsFromEvent('pull_request', {
        pull_request: { base: { sha: 'b' }, head: { sha: 'h' } },
      }),
    ).toEqual({ base: 'b', head: 'h' })
    expect(
      revisionsFromEvent('merge_group', { merge_group: { base_sha: 'b', head_sha: 'h' } }),
    ).toEqual({ base: 'b', head: 'h' })
    expect(revisionsFromEvent('push', { before: '0'.repeat(40), after: 'h' })).toEqual({
      base: '',
      head: 'h',
    })
  })

  it('splits environments into shards of the given size', () => {
    const envs = Array.from({ length: 5 }, (_, i) => ({
      name: `e${i}`,
      path: `c/e${i}`,
      stage: 's',
      branch: `env/e${i}`,
    }))
    expect(
      shardMatrix(envs, 2).include.map((entry) =>
        (JSON.parse(entry.environments) as Environment[]).map((env) => env.name),
      ),
    ).toEqual([['e0', 'e1'], ['e2', 'e3'], ['e4']])
    expect(shardMatrix([], 10)).toEqual({ include: [] })
  })
})
