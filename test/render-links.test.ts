// In-repository symlinks render (issue 11, class 4, the positive side): a
// link to a file, a link to a directory holding a base and a two-hop link,
// all inside the repository, render the same objects as the real files, in
// the sandbox, through the render tree's copies of the checked files.
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultConfig } from '../actions/lib/config/config.js'
import type { Environment } from '../actions/lib/config/types.js'
import { Git } from '../actions/lib/git/git.js'
import { hydrate } from '../actions/lib/render/hydrate.js'
import { GIT_IDENTITY } from './fixtures/render/fixture-repo.js'

const configMap = (name: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  color: blue\n`

const FILES: Record<string, string> = {
  'common/settings.yaml': configMap('settings'),
  'common/extra.yaml': configMap('extra'),
  'common/base/kustomization.yaml': 'resources:\n  - web.yaml\n',
  'common/base/web.yaml': configMap('web'),
  // The same objects from real files: what the linked environment must render.
  'clusters/plain/kustomization.yaml':
    'resources:\n  - settings.yaml\n  - extra.yaml\n  - ../../common/base\n',
  'clusters/plain/settings.yaml': configMap('settings'),
  'clusters/plain/extra.yaml': configMap('extra'),
  'clusters/linked/kustomization.yaml': 'resources:\n  - settings.yaml\n  - extra.yaml\n  - base\n',
}

const LINKS: Record<string, string> = {
  'clusters/linked/settings.yaml': '../../common/settings.yaml',
  'clusters/linked/base': '../../common/base',
  // Two hops, both inside the repository: linked → common/alias.yaml → common/extra.yaml.
  'common/alias.yaml': 'extra.yaml',
  'clusters/linked/extra.yaml': '../../common/alias.yaml',
}

const env = (name: string): Environment => ({
  name,
  path: `clusters/${name}`,
  stage: 'testing',
  branch: `env/${name}`,
})

describe('hydrate: symlinks inside the repository', () => {
  let root: string
  let repoDir: string

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'fleet-promote-links-'))
    repoDir = join(root, 'repo')
    for (const [path, text] of Object.entries(FILES)) {
      await mkdir(join(repoDir, path, '..'), { recursive: true })
      await writeFile(join(repoDir, path), text)
    }
    for (const [path, target] of Object.entries(LINKS)) await symlink(target, join(repoDir, path))
    const git = await Git.init(repoDir, { env: GIT_IDENTITY })
    await git.run(['add', '-A'])
    await git.run(['-c', 'commit.gpgsign=false', 'commit', '--quiet', '-m', 'links'])
  })
  afterAll(() => rm(root, { recursive: true, force: true }))

  it('renders a file link, a directory link and a two-hop link like the files they point to', async () => {
    const out = join(root, 'out')
    const { result, stats } = await hydrate({
      repoDir,
      environments: [env('linked'), env('plain')],
      outputDir: out,
      settings: defaultConfig().hydrate,
    })
    expect(stats.sandbox).toMatch(/^sandbox: bubblewrap/)
    expect(result.environments.map((e) => [e.name, e.status, e.reason])).toEqual([
      ['linked', 'rendered', undefined],
      ['plain', 'rendered', undefined],
    ])
    const linked = await readFile(join(out, 'linked', 'manifest.yaml'), 'utf8')
    expect(linked).toBe(await readFile(join(out, 'plain', 'manifest.yaml'), 'utf8'))
    expect(linked.match(/^kind: ConfigMap$/gm)).toHaveLength(3)
    for (const name of ['settings', 'extra', 'web']) expect(linked).toContain(`name: ${name}\n`)
  })
})
