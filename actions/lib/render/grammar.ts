// The grammar of every value kustomize hands to a tool as an argument, as the
// tool documents it. Each check returns a problem ("is not …") or undefined.
// Nothing may start with "-": an argument that looks like a flag is a flag.

/** Helm's release name rule (pkg/chartutil ValidateReleaseName): DNS-1123, at most 53 characters. */
const HELM_RELEASE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
/** A Kubernetes namespace: an RFC 1123 label, at most 63 characters. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
/** A chart name kustomize joins into a path (`<chartHome>/<name>`): one path component. */
const CHART_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
/** A SemVer 2 chart version (Helm requires one), optionally with a leading `v`. */
const CHART_VERSION = /^v?[0-9]+(\.[0-9]+){0,2}(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/
/** `--kube-version`: a Kubernetes version such as `1.31` or `v1.31.2`. */
const KUBE_VERSION = /^v?[0-9]+\.[0-9]+(\.[0-9]+)?(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/
/** `--api-versions`: `version`, `group/version` or `group/version/Kind`. */
const API_VERSION = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?v[0-9]+[a-z0-9]*(\/[A-Za-z][A-Za-z0-9]*)?$/
export const SHA40 = /^[0-9a-f]{40}$/

export const VALUES_MERGE = ['merge', 'override', 'replace']

/** The value last in a message: the part a length limit cuts first. */
const shown = (value: string) =>
  JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)

function pattern(regex: RegExp, max: number, what: string) {
  return (value: string): string | undefined => {
    if (value.startsWith('-')) return `starts with "-": ${shown(value)}`
    if (value.length > max) return `is longer than ${max} characters (${what})`
    return regex.test(value) ? undefined : `is not ${what}: ${shown(value)}`
  }
}

export const helmReleaseName = pattern(HELM_RELEASE, 53, 'a Helm release name (DNS-1123)')
export const namespaceName = pattern(DNS_LABEL, 63, 'a namespace (DNS-1123 label)')
export const kubeVersion = pattern(KUBE_VERSION, 64, 'a Kubernetes version')
export const apiVersion = pattern(API_VERSION, 253, 'an API version (group/version[/Kind])')

export function chartName(value: string): string | undefined {
  if (value.includes('..')) return `is not a chart name: ${shown(value)}`
  return pattern(CHART_NAME, 253, 'a chart name')(value)
}

export const chartVersion = pattern(CHART_VERSION, 128, 'a SemVer chart version')

export function valuesMerge(value: string): string | undefined {
  return VALUES_MERGE.includes(value) ? undefined : `must be one of ${VALUES_MERGE.join(', ')}`
}

/** A path or reference as written in a kustomization (checked for escapes elsewhere). */
export function pathText(value: string): string | undefined {
  if (value.startsWith('-')) return `starts with "-": ${shown(value)}`
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'holds a control character'
  return undefined
}
