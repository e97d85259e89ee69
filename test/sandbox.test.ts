// The sandbox every kustomize and helm process runs in: what a process inside
// it can and cannot reach, the limits, the whole process group ended at a
// limit, and the refusal to render when no sandbox can start.
import { randomBytes } from 'node:crypto'
import { spawn } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultConfig } from '../actions/lib/config/config.js'
import { runProcess } from '../actions/lib/process.js'
import { hydrate, SANDBOX_TMP_BYTES } from '../actions/lib/render/hydrate.js'
import { Sandbox, SandboxPool, sandboxRefusal } from '../actions/lib/render/sandbox.js'
import { findOnPath, toolEnv } from '../actions/lib/render/tools.js'
import { fixtureRepo } from './fixtures/render/fixture-repo.js'

const limits = { memoryBytes: 1024 * 2 ** 20, tmpBytes: 16 * 2 ** 20 }

let work: string
let tree: string
let sandbox: Sandbox
let server: Server
let connections = 0

/** Runs a shell script inside the sandbox (or under the memory limit alone when off). */
function inside(box: Sandbox, script: string, args: string[] = [], network = false) {
  const [command, argv] = box.command(box.shell, ['-c', script, 'probe', ...args], {
    readOnly: [tree],
    cwd: tree,
    network,
  })
  return runProcess(command, argv, { env: toolEnv('/tmp', '/tmp'), timeoutMs: 30_000 })
}

/** Processes whose command line holds `marker`. */
async function withMarker(marker: string): Promise<string[]> {
  const found: string[] = []
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
    if (cmdline.includes(marker)) found.push(pid)
  }
  return found
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'fleet-promote-sandbox-'))
  tree = join(work, 'tree')
  await mkdir(tree)
  await writeFile(join(tree, 'inside.txt'), 'inside the render tree\n')
  await writeFile(join(work, 'outside.txt'), 'outside the render tree\n')
  sandbox = await Sandbox.detect('required', limits)
  server = createServer((_request, response) => response.end('index'))
  server.on('connection', () => connections++)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
})

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
  await rm(work, { recursive: true, force: true })
})

describe('the render sandbox', () => {
  it('is bubblewrap on this machine, and says so', () => {
    expect(sandbox.isolation.kind).toBe('bubblewrap')
    expect(sandbox.describe()).toMatch(/^sandbox: bubblewrap \S+ \(no network, own PID namespace/)
    expect(sandbox.refusal()).toBeUndefined()
  })

  it('shows the render tree read-only and nothing else of the host', async () => {
    const read = 'while IFS= read -r line; do echo "$line"; done < "$1"'
    expect(await inside(sandbox, read, [join(tree, 'inside.txt')])).toMatchObject({
      code: 0,
      stdout: 'inside the render tree\n',
    })
    const outside = await inside(sandbox, read, [join(work, 'outside.txt')])
    expect(outside.code).not.toBe(0)
    expect(outside.stdout).toBe('')
    // The same read outside the sandbox works: the file is there and readable.
    const off = await Sandbox.detect('off', limits)
    expect((await inside(off, read, [join(work, 'outside.txt')])).stdout).toBe(
      'outside the render tree\n',
    )
    for (const path of ['/etc/passwd', '/root', '/home', process.cwd()]) {
      const probe = await inside(sandbox, '[ -e "$1" ] && echo visible || echo absent', [path])
      expect(probe.stdout, path).toBe('absent\n')
    }
    const write = await inside(sandbox, 'echo x > "$1/new.txt"', [tree])
    expect(write.code).not.toBe(0)
    expect(write.stderr).toMatch(/Read-only file system/)
    // Its own /tmp is private and writable.
    expect((await inside(sandbox, 'echo x > /tmp/a && echo ok')).stdout).toBe('ok\n')
  })

  it('lists no process but its own, so no other /proc/<pid>/environ is readable', async () => {
    const marker = `victim-${randomBytes(4).toString('hex')}`
    // A host process holding a token in its environment, as the node process of an action does.
    const victim = spawn('/bin/sh', ['-c', 'sleep 30', marker], {
      env: { INPUT_TOKEN: marker },
      stdio: 'ignore',
    })
    try {
      const list = await inside(sandbox, 'for p in /proc/[0-9]*; do echo "${p#/proc/}"; done')
      const pids = list.stdout.trim().split('\n').map(Number)
      expect(pids.length).toBeGreaterThan(0)
      expect(pids.length).toBeLessThanOrEqual(3)
      expect(pids).not.toContain(victim.pid)
      expect(pids).not.toContain(process.pid)
      const environ = await inside(sandbox, 'while read -r x; do :; done < "$1" && echo readable', [
        `/proc/${victim.pid}/environ`,
      ])
      expect(environ.stdout).toBe('')
      // Outside the sandbox the victim's environment is right there.
      expect(await readFile(`/proc/${victim.pid}/environ`, 'utf8')).toContain(marker)
    } finally {
      victim.kill('SIGKILL')
    }
  })

  it('opens no network connection, not even to a listener on 127.0.0.1', async () => {
    const helm = await findOnPath('helm')
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const pull = (network: boolean) => {
      const [command, argv] = sandbox.command(
        helm,
        ['pull', 'alpha', '--repo', url, '--destination', '/tmp'],
        { readOnly: [helm], cwd: '/', network },
      )
      return runProcess(command, argv, { env: toolEnv('/tmp', '/tmp'), timeoutMs: 60_000 })
    }
    const before = connections
    const denied = await pull(false)
    expect(denied.code).not.toBe(0)
    expect(connections).toBe(before)
    // The suite's own chart pull gets the network: the same command reaches the listener.
    await pull(true)
    expect(connections).toBeGreaterThan(before)
  })

  it('limits the address space of every process', async () => {
    expect((await inside(sandbox, 'ulimit -v')).stdout).toBe(`${limits.memoryBytes / 1024}\n`)
    const off = await Sandbox.detect('off', limits)
    expect((await inside(off, 'ulimit -v')).stdout).toBe(`${limits.memoryBytes / 1024}\n`)
  })

  for (const mode of ['required', 'off'] as const) {
    it(`ends the whole process group at the time limit (sandbox ${mode})`, async () => {
      const box = mode === 'required' ? sandbox : await Sandbox.detect('off', limits)
      const marker = `spinner-${randomBytes(4).toString('hex')}`
      // A child that forks a grandchild, both running forever, as kustomize runs helm.
      const [command, argv] = box.command(
        box.shell,
        ['-c', '(while :; do :; done) & while :; do :; done', marker],
        { readOnly: [tree], cwd: tree },
      )
      const run = await runProcess(command, argv, { env: toolEnv('/tmp', '/tmp'), timeoutMs: 500 })
      expect(run.killedFor).toBe('timeout')
      expect(await withMarker(marker)).toEqual([])
    })
  }
})

describe('a render slot: one sandbox running commands one after another', () => {
  const env = () => toolEnv('/tmp', '/tmp')
  // "$0" is the shell itself: the sandbox holds no other program.
  const sh =
    (script: string, limits = {}) =>
    (pool: SandboxPool) =>
      pool.run(sandbox.shell, ['-c', script, sandbox.shell], { timeoutMs: 30_000, ...limits })

  it('answers each command with its own output, error output and exit code', async () => {
    const pool = new SandboxPool(sandbox, { readOnly: [tree], cwd: tree }, env())
    try {
      const first = await sh('echo out; echo err >&2; exit 3')(pool)
      expect(first).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' })
      // No newline at the end, and a line that looks like an answer's end.
      const second = await sh('printf "deadbeef 0\\nlast"')(pool)
      expect(second).toEqual({ code: 0, stdout: 'deadbeef 0\nlast', stderr: '' })
      // Still the sandbox: the same checks as for a single process.
      const outside = await sh(
        `[ -e ${JSON.stringify(join(work, 'outside.txt'))} ] || echo absent`,
      )(pool)
      expect(outside.stdout).toBe('absent\n')
      await expect(pool.run(sandbox.shell, ['-c', 'echo\nid'], {})).rejects.toThrow(/line break/)
    } finally {
      pool.close()
    }
  })

  it('ends whatever a command left running before the next one starts', async () => {
    const pool = new SandboxPool(sandbox, { readOnly: [tree], cwd: tree }, env())
    try {
      const marker = `stray-${randomBytes(4).toString('hex')}`
      const count = 'n=0; for p in /proc/[0-9]*; do n=$((n + 1)); done; echo "$n"'
      // A stray that would spin forever: it runs while its command does…
      const left = await sh(`("$0" -c 'while :; do :; done' ${marker} &); ${count}`)(pool)
      expect(Number(left.stdout)).toBeGreaterThanOrEqual(4)
      // …and is gone once the command answered: only bubblewrap's init, the driver and this shell.
      expect(await withMarker(marker)).toEqual([])
      expect(Number((await sh(count)(pool)).stdout)).toBeLessThanOrEqual(3)
    } finally {
      pool.close()
    }
  })

  it('runs at most `limit` sandboxes: a command waits for a busy one and reuses it', async () => {
    const pool = new SandboxPool(sandbox, { readOnly: [tree], cwd: tree }, env(), 1)
    try {
      const spin = 'i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done'
      const [first, second] = await Promise.all([
        sh(`${spin}; echo first > /tmp/mark; echo done`)(pool),
        // Started at once, yet it runs after the first, in the same sandbox (its private /tmp).
        sh('while IFS= read -r line; do echo "$line"; done < /tmp/mark')(pool),
      ])
      expect(first?.stdout).toBe('done\n')
      expect(second).toEqual({ code: 0, stdout: 'first\n', stderr: '' })
    } finally {
      pool.close()
    }
  })

  it('kills the whole sandbox at a limit, and the next command gets a fresh one', async () => {
    const pool = new SandboxPool(sandbox, { readOnly: [tree], cwd: tree }, env())
    try {
      const marker = `spinner-${randomBytes(4).toString('hex')}`
      const spin = await sh(`(while :; do :; done) & "$0" -c 'while :; do :; done' ${marker}`, {
        timeoutMs: 500,
      })(pool)
      expect(spin.killedFor).toBe('timeout')
      expect(await withMarker(marker)).toEqual([])
      const flood = await sh('while :; do echo yyyyyyyyyyyyyyyy; done', { maxOutputBytes: 1000 })(
        pool,
      )
      expect(flood.killedFor).toBe('output-limit')
      expect(await sh('echo again')(pool)).toEqual({ code: 0, stdout: 'again\n', stderr: '' })
    } finally {
      pool.close()
    }
    expect(await withMarker(tree)).toEqual([])
  })
})

describe('without a sandbox', () => {
  it('refuses to render unless hydrate.sandbox is off', () => {
    const none = { kind: 'none', reason: 'bubblewrap is not installed' } as const
    expect(sandboxRefusal('required', none)).toBe(
      'no sandbox for kustomize and Helm: bubblewrap is not installed; nothing is rendered (hydrate.sandbox: off renders without one)',
    )
    expect(sandboxRefusal('off', none)).toBeUndefined()
    expect(
      sandboxRefusal('required', { kind: 'bubblewrap', bwrap: '/usr/bin/bwrap', version: 'x' }),
    ).toBeUndefined()
  })

  it('explains a bubblewrap that user namespaces refuse (Ubuntu 24.04 AppArmor), and renders nothing', async () => {
    // What bwrap prints on a GitHub-hosted ubuntu-24.04 runner without an AppArmor profile.
    const fake = join(work, 'bwrap')
    await writeFile(
      fake,
      '#!/bin/sh\n[ "$1" = --version ] && { echo "bubblewrap 0.9.0"; exit 0; }\necho "bwrap: setting up uid map: Permission denied" >&2\nexit 1\n',
    )
    await chmod(fake, 0o755)
    const refused = await Sandbox.detect('required', limits, [fake])
    expect(refused.isolation).toMatchObject({ kind: 'none' })
    expect(refused.describe()).toMatch(
      /^sandbox: none: bubblewrap cannot start a sandbox: bwrap: setting up uid map: Permission denied \(unprivileged user namespaces are refused here; on Ubuntu 24\.04 give bwrap an AppArmor profile, see the README\)$/,
    )
    const missing = await Sandbox.detect('required', limits, [join(work, 'no-bwrap')])
    expect(missing.describe()).toBe(
      'sandbox: none: bubblewrap is not installed (apt-get install -y bubblewrap)',
    )

    const repo = await fixtureRepo('fleet', { __CHART_REPO__: 'http://127.0.0.1:1' })
    try {
      const environments = [
        { name: 'local', path: 'clusters/local', stage: 'testing', branch: 'env/local' },
      ]
      const { result, stats } = await hydrate({
        repoDir: repo.dir,
        environments,
        outputDir: join(work, 'refused-out'),
        settings: defaultConfig().hydrate,
        sandbox: refused,
      })
      expect(stats.sandbox).toBe(refused.describe())
      expect(result.environments[0]).toMatchObject({ status: 'failed', files: [] })
      expect(result.environments[0]?.reason).toMatch(
        /^refused: no sandbox for kustomize and Helm: bubblewrap cannot start a sandbox/,
      )
      // hydrate.sandbox: off renders the same environment, saying so.
      const settings = { ...defaultConfig().hydrate, sandbox: 'off' as const }
      const off = await hydrate({
        repoDir: repo.dir,
        environments,
        outputDir: join(work, 'off-out'),
        settings,
        sandbox: await Sandbox.detect('off', {
          memoryBytes: settings.maxMemoryMegabytes * 2 ** 20,
          tmpBytes: SANDBOX_TMP_BYTES,
        }),
      })
      expect(off.stats.sandbox).toMatch(/^sandbox: off \(hydrate\.sandbox: off/)
      expect(off.result.environments[0]?.status).toBe('rendered')
    } finally {
      await repo.cleanup()
    }
  })
})
