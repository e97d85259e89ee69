/** What a user sets up around examples/kargo/, made on the simulators. */
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { KargoVar } from './player.js'

export const KARGO_EXAMPLE_DIR = join(
  resolve(dirname(fileURLToPath(import.meta.url)), '../../..'),
  'examples',
  'kargo',
)

/** The repository URL the example's Warehouses and Applications name. */
export const KARGO_REPO_URL = 'https://github.com/acme/fleet.git'

/** An Argo CD merge patch of one Application, as its owner would apply a manifest change. */
export async function patchApplication(
  argocd: { url: string; token: string },
  application: string,
  patch: object,
): Promise<void> {
  const response = await fetch(
    `${argocd.url}/api/v1/applications/${encodeURIComponent(application)}`,
    {
      method: 'PATCH',
      headers: { Authorization: `Bearer ${argocd.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: application, patchType: 'merge', patch: JSON.stringify(patch) }),
    },
  )
  if (!response.ok) {
    throw new Error(`patching ${application}: ${response.status} ${await response.text()}`)
  }
}

/**
 * Lets a Kargo Stage edit an Application (`kargo.akuity.io/authorized-stage`)
 * and names the repository as the example does, for the Applications a test made.
 */
export function prepareForKargo(
  argocd: { url: string; token: string },
  application: string,
  projectStage: string,
): Promise<void> {
  return patchApplication(argocd, application, {
    metadata: { annotations: { 'kargo.akuity.io/authorized-stage': projectStage } },
    spec: { source: { repoURL: KARGO_REPO_URL } },
  })
}

/**
 * The promotion-template variables that point the example at the simulators
 * instead of github.com and argocd.example.com, as a GitHub Enterprise user
 * would set them on the Stages.
 */
export function simulatorVars(githubApiUrl: string, repo: string, argocdUrl: string): KargoVar[] {
  return [
    { name: 'githubApi', value: `${githubApiUrl}/repos/${repo}` },
    { name: 'argocdApi', value: `${argocdUrl}/api/v1` },
  ]
}
