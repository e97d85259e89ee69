// The versions a chart repository offers: a Helm repository's `index.yaml`
// (one request per repository, whatever the number of charts), or an OCI
// registry's tag list (the distribution API's `/v2/<name>/tags/list`, with
// the anonymous bearer-token challenge and `Link` pagination). A repository
// that cannot be read is an answer ("unreachable"), never an exception: one
// broken repository must not fail the whole report.
import { parse } from 'yaml'
import { errorMessage } from '../errors.js'

export type ReleaseLookup =
  { status: 'known'; versions: string[] } | { status: 'unreachable' | 'not-found'; note: string }

export interface ChartIndexOptions {
  fetch?: typeof fetch
  /** Per request (default 30 s). */
  timeoutMs?: number
  /** Largest index accepted (default 64 MiB; the biggest public indexes are tens of MB). */
  maxBytes?: number
}

/** `repo chart` → its lookup. */
export function releaseKey(repo: string, chart: string): string {
  return `${repo} ${chart}`
}

class LookupError extends Error {
  constructor(
    message: string,
    readonly status: 'unreachable' | 'not-found',
  ) {
    super(message)
  }
}

async function get(
  url: string,
  options: Required<ChartIndexOptions>,
  headers: Record<string, string> = {},
): Promise<Response> {
  try {
    return await options.fetch(url, { headers, signal: AbortSignal.timeout(options.timeoutMs) })
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause
    const detail =
      cause instanceof Error ? `${errorMessage(error)}: ${cause.message}` : errorMessage(error)
    throw new LookupError(`cannot reach ${url} (${detail})`, 'unreachable')
  }
}

async function bodyText(response: Response, url: string, maxBytes: number): Promise<string> {
  const length = Number(response.headers.get('content-length'))
  if (Number.isFinite(length) && length > maxBytes) {
    throw new LookupError(`${url} is larger than ${maxBytes} bytes`, 'unreachable')
  }
  const text = await response.text()
  if (text.length > maxBytes)
    throw new LookupError(`${url} is larger than ${maxBytes} bytes`, 'unreachable')
  return text
}

/** Chart name → versions, from a Helm repository's index.yaml. */
async function helmIndex(
  repo: string,
  options: Required<ChartIndexOptions>,
): Promise<Map<string, string[]>> {
  const url = `${repo.replace(/\/+$/, '')}/index.yaml`
  const response = await get(url, options)
  if (!response.ok) {
    await response.body?.cancel()
    throw new LookupError(`${url} answered HTTP ${response.status}`, 'unreachable')
  }
  let index: unknown
  try {
    index = parse(await bodyText(response, url, options.maxBytes), { maxAliasCount: 0 })
  } catch (error) {
    if (error instanceof LookupError) throw error
    throw new LookupError(
      `${url} is not valid YAML (${errorMessage(error).split('\n')[0]})`,
      'unreachable',
    )
  }
  const entries = (index as { entries?: unknown } | null)?.entries
  if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) {
    throw new LookupError(`${url} is not a Helm repository index (no "entries")`, 'unreachable')
  }
  const charts = new Map<string, string[]>()
  for (const [name, list] of Object.entries(entries as Record<string, unknown>)) {
    if (!Array.isArray(list)) continue
    const versions = list.flatMap((entry: unknown) => {
      const version = (entry as { version?: unknown } | null)?.version
      return typeof version === 'string' ? [version] : []
    })
    charts.set(name, versions)
  }
  return charts
}

/** Docker and Helm treat a loopback registry as plain HTTP; every other registry is HTTPS. */
function registryBase(host: string): string {
  const hostname = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '')
  const loopback = hostname === 'localhost' || /^127\./.test(hostname) || hostname === '::1'
  return `${loopback ? 'http' : 'https'}://${host}`
}

/** `Bearer realm="…",service="…",scope="…"` → the anonymous token's URL. */
function tokenUrl(challenge: string, repository: string): string | undefined {
  if (!/^bearer\s/i.test(challenge)) return undefined
  const params = new Map(
    [...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1]?.toLowerCase(), match[2]]),
  )
  const realm = params.get('realm')
  if (!realm) return undefined
  const url = new URL(realm)
  const service = params.get('service')
  if (service) url.searchParams.set('service', service)
  url.searchParams.set('scope', params.get('scope') ?? `repository:${repository}:pull`)
  return url.href
}

/** Tags of `oci://host/path/<chart>`; Helm stores a version's `+` as `_` in a tag. */
async function ociTags(ref: string, options: Required<ChartIndexOptions>): Promise<string[]> {
  const match = /^oci:\/\/([^/]+)\/(.+?)\/*$/.exec(ref)
  if (!match?.[1] || !match[2])
    throw new LookupError(`${ref} is not an oci:// chart reference`, 'unreachable')
  const base = registryBase(match[1])
  const repository = match[2]
  let url: string | undefined = `${base}/v2/${repository}/tags/list?n=1000`
  let headers: Record<string, string> = {}
  const tags: string[] = []
  for (let page = 0; url !== undefined && page < 100; page++) {
    let response = await get(url, options, headers)
    const challenge = response.headers.get('www-authenticate')
    if (response.status === 401 && challenge && headers.authorization === undefined) {
      await response.body?.cancel()
      const tokenAt = tokenUrl(challenge, repository)
      if (!tokenAt) throw new LookupError(`${url} needs credentials (${challenge})`, 'unreachable')
      const tokenResponse = await get(tokenAt, options)
      const body = (await tokenResponse.json().catch(() => ({}))) as {
        token?: unknown
        access_token?: unknown
      }
      const token = typeof body.token === 'string' ? body.token : body.access_token
      if (!tokenResponse.ok || typeof token !== 'string') {
        throw new LookupError(
          `${tokenAt} gave no anonymous pull token (HTTP ${tokenResponse.status})`,
          'unreachable',
        )
      }
      headers = { authorization: `Bearer ${token}` }
      response = await get(url, options, headers)
    }
    if (response.status === 404) {
      await response.body?.cancel()
      throw new LookupError(`${ref} does not exist in the registry`, 'not-found')
    }
    if (!response.ok) {
      await response.body?.cancel()
      throw new LookupError(`${url} answered HTTP ${response.status}`, 'unreachable')
    }
    const body = JSON.parse(await bodyText(response, url, options.maxBytes)) as { tags?: unknown }
    if (Array.isArray(body.tags)) {
      for (const tag of body.tags) if (typeof tag === 'string') tags.push(tag.replace(/_/g, '+'))
    }
    const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(response.headers.get('link') ?? '')?.[1]
    url = next === undefined ? undefined : new URL(next, url).href
  }
  return tags
}

/**
 * The versions of each (repository, chart), keyed by `releaseKey`. Helm
 * repositories are read once each; OCI charts once per chart.
 */
export async function lookupReleases(
  wanted: ReadonlyArray<{ repo: string; chart: string }>,
  options: ChartIndexOptions = {},
): Promise<Map<string, ReleaseLookup>> {
  const settings: Required<ChartIndexOptions> = {
    fetch: options.fetch ?? globalThis.fetch,
    timeoutMs: options.timeoutMs ?? 30_000,
    maxBytes: options.maxBytes ?? 64 * 1024 * 1024,
  }
  const results = new Map<string, ReleaseLookup>()
  const failure = (error: unknown): ReleaseLookup =>
    error instanceof LookupError
      ? { status: error.status, note: error.message }
      : { status: 'unreachable', note: errorMessage(error) }
  const byRepo = new Map<string, Set<string>>()
  for (const { repo, chart } of wanted) byRepo.set(repo, (byRepo.get(repo) ?? new Set()).add(chart))
  await Promise.all(
    [...byRepo].map(async ([repo, charts]) => {
      if (repo.startsWith('oci://')) {
        for (const chart of charts) {
          const ref = `${repo.replace(/\/+$/, '')}/${chart}`
          const lookup = await ociTags(ref, settings).then(
            (versions): ReleaseLookup => ({ status: 'known', versions }),
            failure,
          )
          results.set(releaseKey(repo, chart), lookup)
        }
        return
      }
      let index: Map<string, string[]> | ReleaseLookup
      try {
        index = await helmIndex(repo, settings)
      } catch (error) {
        index = failure(error)
      }
      for (const chart of charts) {
        const versions = index instanceof Map ? index.get(chart) : undefined
        results.set(
          releaseKey(repo, chart),
          !(index instanceof Map)
            ? index
            : versions
              ? { status: 'known', versions }
              : { status: 'not-found', note: `chart ${chart} is not in ${repo}/index.yaml` },
        )
      }
    }),
  )
  return results
}
