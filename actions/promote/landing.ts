// The merge backend lands a wave's children with ONE atomic `git push` of
// their WET branches to the children's head commits, each leased on the WET
// tip it was read at. Each update is a fast-forward, so the WET branch then
// contains the child's head and GitHub marks the child PR merged, by the
// pusher ("About pull request merges": a pull request whose head commits
// reach its base by a push is merged) — one push for the wave instead of one
// merge call per environment. A child that is not one commit on its WET tip
// (the WET branch moved since it was made), whose head moved, or a push that
// is refused (a branch moved meanwhile, or branch protection or a ruleset on
// the WET branches does not let this token push) goes through GitHub's merge
// API one by one, as before.
//
// Environments of one shared WET branch share one child (one folder each): the
// branch is ONE update of the push (a ref twice in an atomic push is refused),
// and every environment of it has landed with it.

import { errorMessage } from '../lib/errors.js'
import { pushAtomically, type LockRemote, type PushPlan } from '../lib/locks.js'

/** What landing needs of one environment's child PR. */
export interface LandingChild {
  environment: string
  /** The child branch, its head the plan was decided on, and the WET branch it merges into. */
  branch: string
  headSha: string
  base: string
}

/** One child as the remote stands now. */
export interface LandingFacts {
  headSha: string
  /** The child branch's tip now; undefined when it is gone. */
  childTip?: string
  /** The WET branch's tip now; undefined when it is gone. */
  wetTip?: string
  /** The parents of `headSha`. */
  parents: readonly string[]
}

/** `push`: a fast-forward; `landed`: the WET branch is at the head already; `merge`: GitHub's merge API. */
export type LandingStep = 'push' | 'landed' | 'merge'

export function landingStep(facts: LandingFacts): LandingStep {
  if (facts.childTip !== facts.headSha || !facts.wetTip) return 'merge'
  if (facts.wetTip === facts.headSha) return 'landed'
  return facts.parents.includes(facts.wetTip) ? 'push' : 'merge'
}

const LOCAL = 'refs/fleet-promote-landing/'

/** What one landing push does: `landed` are there already, `pushed` get there by `push`. */
export interface LandingPlan {
  landed: Set<string>
  pushed: string[]
  push: PushPlan
}

/** Reads where `children` and their WET branches stand and plans the fast-forwards of one atomic push. */
export async function planLanding(
  at: LockRemote,
  children: readonly LandingChild[],
): Promise<LandingPlan> {
  const landed = new Set<string>()
  const empty = { landed, pushed: [], push: { refspecs: [], leases: [] } }
  if (children.length === 0) return empty
  const facts = await landingFacts(at, children)
  const pushes = new Map<string, { child: LandingChild; expect: string; with: string[] }>()
  const refused = new Set<string>()
  for (const child of children) {
    const fact = facts.get(child.environment)!
    const step = landingStep(fact)
    if (step === 'landed') landed.add(child.environment)
    if (step !== 'push') continue
    const same = pushes.get(child.base)
    // Two heads for one WET branch cannot both land by one push: GitHub's merge decides.
    if (same && same.child.headSha !== child.headSha) refused.add(child.base)
    else if (same) same.with.push(child.environment)
    else pushes.set(child.base, { child, expect: fact.wetTip!, with: [child.environment] })
  }
  for (const base of refused) pushes.delete(base)
  const updates = [...pushes.values()]
  return {
    landed,
    pushed: updates.flatMap((update) => update.with),
    push: {
      refspecs: updates.map(({ child }) => `${child.headSha}:refs/heads/${child.base}`),
      leases: updates.map(({ child, expect }) => ({ ref: `refs/heads/${child.base}`, expect })),
    },
  }
}

/**
 * Lands what it can of `children` in one atomic push; returns the
 * environments whose WET branch is now at their child's head. The others
 * (and every child when the fetch or the push fails) are for the merge API.
 */
export async function landByPush(
  at: LockRemote,
  children: readonly LandingChild[],
  log: (line: string) => void,
): Promise<Set<string>> {
  const landed = new Set<string>()
  try {
    const plan = await planLanding(at, children)
    for (const env of plan.landed) landed.add(env)
    if (plan.push.refspecs.length === 0) return landed
    await pushAtomically(at, plan.push)
    for (const env of plan.pushed) landed.add(env)
    log(`landed ${plan.push.refspecs.length} child PR(s) on their WET branches in one push`)
    return landed
  } catch (error) {
    log(`could not land by push, merging one by one: ${errorMessage(error).split('\n')[0]}`)
    return landed
  }
}

/** One fetch of every child and WET branch (two commits deep: a child and its parent), one read of the parents. */
async function landingFacts(
  at: LockRemote,
  children: readonly LandingChild[],
): Promise<Map<string, LandingFacts>> {
  const branches = [...new Set(children.flatMap((child) => [child.branch, child.base]))]
  await at.git.fetch(
    at.remote,
    branches.map((branch) => `+refs/heads/${branch}:${LOCAL}${branch}`),
    { depth: 2 },
  )
  const tips = await at.git.localRefs(LOCAL)
  const tip = (branch: string) => tips.get(`${LOCAL}${branch}`)
  const heads = [...new Set(children.map((child) => child.headSha))].filter((sha) =>
    children.some((child) => child.headSha === sha && tip(child.branch) === sha),
  )
  const parents = new Map<string, string[]>()
  if (heads.length > 0) {
    const out = await at.git.run(['log', '--no-walk=unsorted', '--format=%H %P', ...heads])
    for (const line of out.split('\n').filter(Boolean)) {
      const [sha = '', ...rest] = line.split(' ')
      parents.set(sha, rest)
    }
  }
  return new Map(
    children.map((child) => {
      const childTip = tip(child.branch)
      const wetTip = tip(child.base)
      return [
        child.environment,
        {
          headSha: child.headSha,
          ...(childTip ? { childTip } : {}),
          ...(wetTip ? { wetTip } : {}),
          parents: parents.get(child.headSha) ?? [],
        },
      ]
    }),
  )
}
