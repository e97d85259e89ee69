export interface Suite {
  repository: string
  version: string
  ref: string
}
export interface SuiteReference {
  kind: 'uses' | 'url'
  line: number
  repository: string
  ref: string
  path: string
  text: string
}
export function canonicalSuite(root: string): Suite
export function suitePathExists(root: string, path: string): boolean
export function suiteReferences(text: string, root: string, suite?: Suite): SuiteReference[]
export function suiteReferenceProblems(
  file: string,
  text: string,
  root: string,
  suite?: Suite,
): string[]
export function pinSuiteReferences(text: string, root: string, suite?: Suite): string
