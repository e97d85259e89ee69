export interface FunctionLength {
  file: string
  name: string
  line: number
  lines: number
}
export const DEFAULT_LIMIT: number
export function functionsIn(file: string, text: string): FunctionLength[]
export function longFunctions(root: string, dir: string, limit?: number): FunctionLength[]
