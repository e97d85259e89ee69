/** JSON Merge Patch (RFC 7396) and JSON Patch (RFC 6902), as Argo CD applies them to an Application. */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

export class PatchError extends Error {}

function isPlainObject(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch
  const result: Record<string, unknown> = isPlainObject(target) ? { ...target } : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key]
    else result[key] = mergePatch(result[key], value)
  }
  return result
}

interface Operation {
  op: string
  path: string
  value?: unknown
  from?: string
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return []
  if (!pointer.startsWith('/')) throw new PatchError(`invalid JSON pointer "${pointer}"`)
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'))
}

function arrayIndex(container: unknown[], token: string, forInsert: boolean): number {
  if (forInsert && token === '-') return container.length
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new PatchError(`invalid array index "${token}"`)
  const index = Number(token)
  if (index > container.length || (!forInsert && index === container.length)) {
    throw new PatchError(`array index ${index} out of bounds`)
  }
  return index
}

/** The parent container and last token of a pointer; the document root has no parent. */
function locate(document: unknown, pointer: string): { parent: unknown; key: string } {
  const tokens = parsePointer(pointer)
  const key = tokens.pop()
  if (key === undefined) throw new PatchError('operations on the document root are not supported')
  let parent = document
  for (const token of tokens) {
    if (Array.isArray(parent)) parent = parent[arrayIndex(parent, token, false)]
    else if (isPlainObject(parent) && token in parent) parent = parent[token]
    else throw new PatchError(`path "${pointer}" does not exist`)
  }
  if (!Array.isArray(parent) && !isPlainObject(parent)) {
    throw new PatchError(`path "${pointer}" does not exist`)
  }
  return { parent, key }
}

function read(document: unknown, pointer: string): unknown {
  const { parent, key } = locate(document, pointer)
  if (Array.isArray(parent)) return parent[arrayIndex(parent, key, false)]
  const object = parent as Record<string, unknown>
  if (!(key in object)) throw new PatchError(`path "${pointer}" does not exist`)
  return object[key]
}

function add(document: unknown, pointer: string, value: unknown): void {
  const { parent, key } = locate(document, pointer)
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true), 0, value)
  else (parent as Record<string, unknown>)[key] = value
}

function remove(document: unknown, pointer: string): unknown {
  const value = read(document, pointer)
  const { parent, key } = locate(document, pointer)
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, false), 1)
  else delete (parent as Record<string, unknown>)[key]
  return value
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b))
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical)
  if (isPlainObject(value)) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, canonical(value[key])]),
    )
  }
  return value
}

/** Applies the operations to a copy; any failing operation fails the whole patch. */
export function jsonPatch(document: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations))
    throw new PatchError('a JSON patch must be an array of operations')
  const result: unknown = structuredClone(document)
  for (const raw of operations as unknown[]) {
    if (!isPlainObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      throw new PatchError('each JSON patch operation needs "op" and "path"')
    }
    const operation = raw as unknown as Operation
    const copy = (): unknown => structuredClone(operation.value)
    switch (operation.op) {
      case 'add':
        add(result, operation.path, copy())
        break
      case 'remove':
        remove(result, operation.path)
        break
      case 'replace':
        read(result, operation.path)
        remove(result, operation.path)
        add(result, operation.path, copy())
        break
      case 'test':
        if (!deepEqual(read(result, operation.path), operation.value)) {
          throw new PatchError(`testing value ${operation.path} failed`)
        }
        break
      case 'move':
      case 'copy': {
        if (typeof operation.from !== 'string')
          throw new PatchError(`"${operation.op}" needs "from"`)
        const value: unknown =
          operation.op === 'move'
            ? remove(result, operation.from)
            : structuredClone(read(result, operation.from))
        add(result, operation.path, value)
        break
      }
      default:
        throw new PatchError(`unexpected kind: ${operation.op}`)
    }
  }
  return result
}
