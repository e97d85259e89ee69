// Rendered objects in one canonical form: every document re-emitted by the
// `yaml` package with fixed options (same bytes on any machine and path) and
// sorted by (kind priority, API group, kind, namespace, name), so the WET
// branch only changes when the desired state does.
import { isNode, parseAllDocuments, visit, type ToStringOptions } from 'yaml'

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

/** Parses a multi-document YAML stream of Kubernetes objects; throws on anything else. */
export function parseObjects(text: string, source: string): RenderedObject[] {
  const objects: RenderedObject[] = []
  for (const doc of parseAllDocuments(text, { intAsBigInt: true, uniqueKeys: false })) {
    if ('errors' in doc && doc.errors.length > 0) {
      throw new Error(`${source}: invalid YAML: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`)
    }
    if (doc.contents === null) continue
    const value = doc.toJS({ maxAliasCount: -1 }) as unknown
    if (value === null || value === undefined) continue
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new Error(`${source}: a document is not a Kubernetes object`)
    }
    const object = value as {
      apiVersion?: unknown
      kind?: unknown
      metadata?: { name?: unknown; namespace?: unknown }
    }
    const apiVersion = typeof object.apiVersion === 'string' ? object.apiVersion : ''
    const kind = typeof object.kind === 'string' ? object.kind : ''
    const name = typeof object.metadata?.name === 'string' ? object.metadata.name : ''
    if (!apiVersion || !kind || !name) {
      throw new Error(`${source}: an object lacks apiVersion, kind or metadata.name`)
    }
    // Comments are not desired state (kustomize drops them too).
    doc.commentBefore = null
    doc.comment = null
    visit(doc, (_key, node) => {
      if (isNode(node)) {
        node.commentBefore = null
        node.comment = null
      }
    })
    objects.push({
      group: apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '',
      apiVersion,
      kind,
      namespace: typeof object.metadata?.namespace === 'string' ? object.metadata.namespace : '',
      name,
      yaml: doc.toString(STRINGIFY),
    })
  }
  return sortObjects(objects)
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
