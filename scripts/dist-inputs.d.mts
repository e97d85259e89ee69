export const INPUTS_FILE: string
export function inputFiles(root: string): string[]
export function inputsHash(root: string): string
export function formatInputsFile(hash: string): string
export function recordedHash(distDir: string): string | undefined
export function staleReason(root: string): string | undefined
