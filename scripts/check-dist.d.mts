export function compareTrees(fresh: string, committed: string): string[]
