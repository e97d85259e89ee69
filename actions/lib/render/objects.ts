// Rendered objects in one canonical form: every document re-emitted by the
// `yaml` package with fixed options (same bytes on any machine and path) and
// sorted by (kind priority, API group, kind, namespace, name), so the WET
// branch only changes when the desired state does.
import { isMap, isNode, parseAllDocuments, visit, type Document, type ToStringOptions } from 'yaml'

export interface RenderedObject {
  /** API group ('' for the core group). */
  group: string
  apiVersion: string
  kind: string
  namespace: string
  name: string
  /** The canonical YAML of this object (ends with a newline). */
  yaml: string
}

const STRINGIFY: ToStringOptions = {
  indent: 2,
  indentSeq: false,
  lineWidth: 0,
  minContentWidth: 0,
  directives: false,
}

/**
 * Kinds (`group/kind`) applied first: cluster-wide foundations, then identities and policy.
 * Everything else follows in (group, kind) order; Argo CD sync waves still apply.
 */
const KIND_PRIORITY = [
  '/Namespace',
  'apiextensions.k8s.io/CustomResourceDefinition',
  'scheduling.k8s.io/PriorityClass',
  'storage.k8s.io/StorageClass',
  '/ServiceAccount',
  'rbac.authorization.k8s.io/ClusterRole',
  'rbac.authorization.k8s.io/ClusterRoleBinding',
  'rbac.authorization.k8s.io/Role',
  'rbac.authorization.k8s.io/RoleBinding',
  '/ConfigMap',
  '/Secret',
]

/** A marker line with content, a document end or a directive: then the stream is parsed whole. */
const UNUSUAL_MARKERS = /^(?:---[^\S\n]*\S|\.\.\.|%)/m
/** Most of what a cache may hold, in characters (document texts and their canonical form). */
const CACHE_CHARS = 128 * 2 ** 20

/**
 * Parses multi-document YAML streams of Kubernetes objects into canonical
 * objects, remembering each document it has seen: the environments of a
 * fleet share most of their objects (one base, many overlays), and a
 * document's canonical form depends on its text alone.
 */
export class ObjectParser {
  private readonly cache = new Map<string, RenderedObject | RenderedObject[] | null | Error>()
  private cachedChars = 0

  /** Throws on anything but Kubernetes objects. */
  parse(text: string, source: string): RenderedObject[] {
    // kustomize and the WET writer separate documents with plain `---` lines, which
    // end any scalar; a stream with other markers is parsed as one.
    const chunks = UNUSUAL_MARKERS.test(text) ? [text] : text.split(/^---[^\S\n]*(?:\n|$)/m)
    const objects: RenderedObject[] = []
    for (const chunk of chunks) {
      if (chunk.trim() === '') continue
      let parsed: RenderedObject | RenderedObject[] | null | Error | undefined =
        this.cache.get(chunk)
      if (parsed === undefined) {
        try {
          parsed = parseDocuments(chunk)
        } catch (error) {
          parsed = error as Error
        }
        if (this.cachedChars < CACHE_CHARS) {
          this.cache.set(chunk, parsed)
          this.cachedChars += chunk.length * 2
        }
      }
      if (parsed instanceof Error) throw new Error(`${source}: ${parsed.message}`)
      if (Array.isArray(parsed)) objects.push(...parsed)
      else if (parsed !== null) objects.push(parsed)
    }
    return sortObjects(objects)
  }
}

/** Parses a multi-document YAML stream of Kubernetes objects; throws on anything else. */
export function parseObjects(text: string, source: string): RenderedObject[] {
  return new ObjectParser().parse(text, source)
}

/** The objects of one chunk: one (the usual case), none (an empty document) or several. */
function parseDocuments(text: string): RenderedObject | null | RenderedObject[] {
  const objects: RenderedObject[] = []
  const docs = parseAllDocuments(text, { intAsBigInt: true, uniqueKeys: false })
  for (const doc of docs) {
    if ('errors' in doc && doc.errors.length > 0) {
      throw new Error(`invalid YAML: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`)
    }
    if (doc.contents === null) continue
    const object = identify(doc)
    if (object === null) continue
    // Markers, directives and comments are not desired state (kustomize drops them too).
    doc.directives.docStart = null
    doc.directives.docEnd = false
    doc.directives.yaml.explicit = false
    doc.commentBefore = null
    doc.comment = null
    if (text.includes('#')) {
      visit(doc, (_key, node) => {
        if (isNode(node)) {
          node.commentBefore = null
          node.comment = null
        }
      })
    }
    objects.push({ ...object, yaml: doc.toString(STRINGIFY) })
  }
  if (docs.length === 1) return objects[0] ?? null
  return objects
}

/** An object's identity, read from the syntax tree (the plain value only when the tree is unusual). */
function identify(doc: Document.Parsed): Omit<RenderedObject, 'yaml'> | null {
  const text = (path: string[]) => {
    const value: unknown = doc.getIn(path)
    return typeof value === 'string' ? value : undefined
  }
  let apiVersion = isMap(doc.contents) ? text(['apiVersion']) : undefined
  let kind = isMap(doc.contents) ? text(['kind']) : undefined
  let name = isMap(doc.contents) ? text(['metadata', 'name']) : undefined
  let namespace = isMap(doc.contents) ? text(['metadata', 'namespace']) : undefined
  if (!apiVersion || !kind || !name) {
    // Aliases, merge keys or a missing field: decide on the plain value.
    const value = doc.toJS({ maxAliasCount: -1 }) as unknown
    if (value === null || value === undefined) return null
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new Error('a document is not a Kubernetes object')
    }
    const object = value as {
      apiVersion?: unknown
      kind?: unknown
      metadata?: { name?: unknown; namespace?: unknown }
    }
    apiVersion = typeof object.apiVersion === 'string' ? object.apiVersion : ''
    kind = typeof object.kind === 'string' ? object.kind : ''
    name = typeof object.metadata?.name === 'string' ? object.metadata.name : ''
    namespace =
      typeof object.metadata?.namespace === 'string' ? object.metadata.namespace : undefined
    if (!apiVersion || !kind || !name) {
      throw new Error('an object lacks apiVersion, kind or metadata.name')
    }
  }
  return {
    group: apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '',
    apiVersion,
    kind,
    namespace: namespace ?? '',
    name,
  }
}

export function objectKey(
  object: Pick<RenderedObject, 'group' | 'kind' | 'namespace' | 'name'>,
): string {
  return `${object.group}/${object.kind}/${object.namespace}/${object.name}`
}

function priority(object: RenderedObject): number {
  const index = KIND_PRIORITY.indexOf(`${object.group}/${object.kind}`)
  return index === -1 ? KIND_PRIORITY.length : index
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export function compareObjects(a: RenderedObject, b: RenderedObject): number {
  return (
    priority(a) - priority(b) ||
    compareText(a.group, b.group) ||
    compareText(a.kind, b.kind) ||
    compareText(a.namespace, b.namespace) ||
    compareText(a.name, b.name)
  )
}

export function sortObjects(objects: RenderedObject[]): RenderedObject[] {
  return [...objects].sort(compareObjects)
}

/** `manifest.yaml`: every object, in canonical order, as one stream. */
export function manifestText(objects: readonly RenderedObject[]): string {
  return objects.map((object) => object.yaml).join('---\n')
}

/**
 * `layout: per-resource`: `<namespace or _cluster>/<kind>-<name>.yaml` (lower
 * case, unsafe characters replaced); the API group is added when two objects
 * would share a file.
 */
export function perResourceFiles(objects: readonly RenderedObject[]): Map<string, string> {
  const safe = (text: string) => text.toLowerCase().replace(/[^a-z0-9._-]/g, '_')
  const short = (o: RenderedObject) =>
    `${safe(o.namespace || '_cluster')}/${safe(o.kind)}-${safe(o.name)}.yaml`
  const long = (o: RenderedObject) =>
    `${safe(o.namespace || '_cluster')}/${safe(o.kind)}.${safe(o.group || 'core')}-${safe(o.name)}.yaml`
  const counts = new Map<string, number>()
  for (const object of objects) counts.set(short(object), (counts.get(short(object)) ?? 0) + 1)
  const files = new Map<string, string>()
  for (const object of objects) {
    let path = (counts.get(short(object)) ?? 0) > 1 ? long(object) : short(object)
    for (let n = 2; files.has(path); n++) path = path.replace(/(-\d+)?\.yaml$/, `-${n}.yaml`)
    files.set(path, object.yaml)
  }
  return new Map([...files].sort(([a], [b]) => compareText(a, b)))
}

/** Paths on a WET branch that hold rendered objects (either layout). */
export function isManagedManifestPath(path: string): boolean {
  return (
    path === 'manifest.yaml' || /^(_cluster|[a-z0-9][a-z0-9._-]*)\/[a-z0-9._-]+\.yaml$/.test(path)
  )
}
