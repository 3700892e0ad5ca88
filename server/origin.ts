/**
 * Allowed domains (CONTRACT section 5): normalising an entry when a key is saved, and matching a
 * request's Origin against a key's entries. Pure: no I/O.
 */
import { isIP } from 'node:net'
import { parse } from 'tldts'

const MAX_HOST_CHARS = 253
const MAX_LABEL_CHARS = 63

/** Thrown for a bad allowed-domain entry; message says why in one short sentence, naming the entry. */
export class DomainEntryError extends Error {
  override name = 'DomainEntryError'
}

/** Normalises one entry (trim, lower case, one trailing dot removed, IDN to punycode, pasted http(s) URL reduced to host[:port]) or throws DomainEntryError. */
export function normalizeDomainEntry(entry: string): string {
  const fail = (why: string) => new DomainEntryError(`Allowed domain ${JSON.stringify(entry.trim().slice(0, 100))} ${why}`)
  const trimmed = entry.trim()
  if (trimmed === '') throw fail('is empty')

  let rest = trimmed
  let defaultPort: string | undefined
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(trimmed)
  if (scheme) {
    const name = scheme[1]!.toLowerCase()
    if (name !== 'http' && name !== 'https') throw fail('uses a scheme other than http or https')
    defaultPort = name === 'https' ? '443' : '80'
    rest = trimmed.slice(scheme[0].length)
  }

  // Split by hand rather than with URL: it would turn `\` into `/` and hide an empty `?` or `#`.
  const end = rest.search(/[/?#]/)
  const authority = end < 0 ? rest : rest.slice(0, end)
  const tail = end < 0 ? '' : rest.slice(end)
  if (/^\/?\?/.test(tail)) throw fail('has a query')
  if (/^\/?#/.test(tail)) throw fail('has a fragment')
  if (tail.length > 1) throw fail('has a path')
  if (authority.includes('@')) throw fail('contains credentials')

  const wildcard = authority.startsWith('*.')
  const [rawHost, rawPort] = splitPort(wildcard ? authority.slice(2) : authority, fail)
  if (rawHost === '*') throw fail('is only a wildcard; write *.example.com')
  if (rawHost.includes('*')) throw fail('has a * that is not the whole leftmost label')
  const host = toAsciiHost(rawHost.endsWith('.') ? rawHost.slice(0, -1) : rawHost, fail)

  let port = ''
  if (rawPort !== undefined) {
    if (!/^\d{1,5}$/.test(rawPort) || +rawPort < 1 || +rawPort > 65535) {
      throw fail('has an invalid port (use 1 to 65535)')
    }
    // A pasted URL's default port is dropped, as URL does; a bare `host:80` keeps its port.
    if (String(+rawPort) !== defaultPort) port = `:${+rawPort}`
  }

  if (wildcard) {
    if (host.startsWith('[') || isIP(host) !== 0) throw fail('puts a wildcard over an IP address')
    // Under the PSL's default `*` rule an unlisted TLD (`localhost`) counts as a public suffix too.
    if (parse(host, { allowPrivateDomains: true }).domain === null) {
      throw fail(`puts a wildcard over the public suffix ${host}`)
    }
  }
  return `${wildcard ? '*.' : ''}${host}${port}`
}

/** Splits `host[:port]`; only a bracketed IPv6 literal may contain further colons. */
function splitPort(authority: string, fail: (why: string) => Error): [string, string | undefined] {
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']')
    const after = authority.slice(close + 1)
    if (close < 0 || (after !== '' && !after.startsWith(':'))) throw fail('is not a valid IPv6 address in brackets')
    return [authority.slice(0, close + 1), after === '' ? undefined : after.slice(1)]
  }
  const parts = authority.split(':')
  if (parts.length > 2) throw fail('looks like an IPv6 address without brackets')
  if (authority === '' || parts[0] === '') throw fail('has no host')
  return [parts[0]!, parts[1]]
}

/** Lower case and punycode via the WHATWG host parser, which also canonicalises IP literals. */
function toAsciiHost(host: string, fail: (why: string) => Error): string {
  if (host.startsWith('[')) {
    try {
      return new URL(`http://${host}`).hostname
    } catch {
      throw fail('is not a valid IPv6 address in brackets')
    }
  }
  if (host.split('.').includes('')) throw fail('has an empty label')
  // The URL parser would accept `%`-escapes and symbols like `!` that no real host name contains.
  const notAllowed = fail('contains characters not allowed in a host name')
  if (/[^\w.\u0080-\u{10ffff}-]/u.test(host)) throw notAllowed
  let ascii: string
  try {
    ascii = new URL(`http://${host}`).hostname
  } catch {
    throw notAllowed
  }
  if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(ascii)) throw notAllowed
  // DNS limits (RFC 1035), on the punycode form: no browser sends an origin past them, and the URL
  // parser does not enforce them.
  if (ascii.length > MAX_HOST_CHARS) throw fail(`has a host longer than ${MAX_HOST_CHARS} characters`)
  if (ascii.split('.').some((label) => label.length > MAX_LABEL_CHARS)) {
    throw fail(`has a label longer than ${MAX_LABEL_CHARS} characters (after punycode)`)
  }
  return ascii
}

/** Compiled once per key: exact hosts, host:port pairs, wildcard suffixes; allows() only looks things up. */
export interface OriginPolicy {
  allows(origin: readonly string[] | undefined): boolean
}

/** Compiles already-normalised entries into set lookups; an empty list allows everything. */
export function compileOriginPolicy(entries: readonly string[]): OriginPolicy {
  if (entries.length === 0) return { allows: () => true }
  /** Bare hosts: `example.com`, `127.0.0.1`, `[::1]`; any port. */
  const hosts = new Set<string>()
  /** `host:port` with the port spelled out, so `https://a.com` is looked up as `a.com:443`. */
  const hostPorts = new Set<string>()
  /** Wildcard bases without the `*.`, each with or without a `:port`. */
  const suffixes = new Set<string>()
  for (const entry of entries) {
    const wildcard = entry.startsWith('*.')
    const body = wildcard ? entry.slice(2) : entry
    if (wildcard) suffixes.add(body)
    else if (/:\d+$/.test(body)) hostPorts.add(body)
    else hosts.add(body)
  }

  return {
    allows(origin) {
      if (origin?.length !== 1) return false
      const host = parseOrigin(origin[0]!)
      if (!host) return false
      const withPort = `${host.name}:${host.port}`
      if (hosts.has(host.name) || hostPorts.has(withPort)) return true
      // Walk up the labels: `a.b.example.com` checks `b.example.com`, then `example.com`, then `com`.
      for (let dot = host.name.indexOf('.'); dot > 0; dot = host.name.indexOf('.', dot + 1)) {
        const suffix = host.name.slice(dot + 1)
        if (suffixes.has(suffix) || suffixes.has(`${suffix}:${host.port}`)) return true
      }
      return false
    },
  }
}

/** The host (one trailing dot removed) and effective port of a browser-serialised http(s) origin, else undefined. */
function parseOrigin(value: string): { name: string; port: string } | undefined {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  // Round-tripping refuses `null`, lists, paths, credentials, upper case and spelled-out default ports.
  if (url.origin !== value || (url.protocol !== 'http:' && url.protocol !== 'https:')) return undefined
  const name = url.hostname.endsWith('.') ? url.hostname.slice(0, -1) : url.hostname
  if (name.split('.').includes('')) return undefined
  return { name, port: url.port || (url.protocol === 'https:' ? '443' : '80') }
}
