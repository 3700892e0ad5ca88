/**
 * Who is asking: the client's address, read through the proxies TRUST_PROXY names and no others,
 * and the visitor it stands for. Without TRUST_PROXY the socket's address is the answer and
 * X-Forwarded-For / Forwarded are never read, since anyone can send them. With it, the chain of
 * addresses (the header's entries, then the socket's) is walked from the right, the end the server's
 * own proxies wrote, and the walk stops at the first address they cannot vouch for; an entry that is
 * not an address (garbage, RFC 7239's `unknown` or an obfuscated name) ends it too, and the last
 * address reached stands. So a visitor can make themselves anonymous among their proxy's clients, at
 * worst, but can never pick an address of their choosing.
 */
import type { IncomingMessage } from 'node:http'
import { BlockList, isIP } from 'node:net'

/** Which proxies in front of the server are believed about the address they forward for. */
export type TrustProxy =
  /** This many proxies, the socket's peer the first: the client is the `hops`-th address from the right of the header's chain. */
  | { hops: number }
  /** Any proxy whose address is in the list, at any depth: the client is the first address from the right outside it. */
  | { trusted: BlockList }

const MAX_HOPS = 10

/**
 * TRUST_PROXY's value: a hop count from 1 to 10, or a comma-separated list of IPv4/IPv6 addresses
 * and CIDRs. Throws an Error saying what is wrong (config.ts names the variable).
 */
export function parseTrustProxy(raw: string): TrustProxy {
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw)
    if (hops < 1 || hops > MAX_HOPS) throw new Error(`a hop count must be from 1 to ${MAX_HOPS} (leave it unset to trust no proxy)`)
    return { hops }
  }
  const trusted = new BlockList()
  for (const entry of raw.split(',').map((part) => part.trim())) {
    const shown = `'${entry.slice(0, 60)}'`
    if (entry === '') throw new Error('the list has an empty entry')
    const [base = '', prefix, extra] = entry.split('/')
    const address = canonical(base)
    if (address === undefined || extra !== undefined)
      throw new Error(`${shown} is neither an IP address nor a CIDR such as 10.0.0.0/8 or fd00::/8`)
    const family = isIP(address) === 4 ? 'ipv4' : 'ipv6'
    const bits = family === 'ipv4' ? 32 : 128
    if (prefix === undefined) {
      trusted.addAddress(address, family)
    } else if (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits) {
      trusted.addSubnet(address, Number(prefix), family)
    } else {
      throw new Error(`${shown} has a prefix length that is not from 0 to ${bits}`)
    }
  }
  return { trusted }
}

/**
 * The client's address, canonical (IPv4 dotted, IPv4-mapped IPv6 as IPv4, IPv6 in RFC 5952 form).
 * X-Forwarded-For is read when present, else Forwarded: nearly every proxy and load balancer
 * (nginx, HAProxy, Caddy, Traefik, Envoy, cloud load balancers) writes X-Forwarded-For, few write
 * only Forwarded, and the header a proxy does not write reaches us as the visitor sent it. Reading the
 * commonly written one first means a visitor behind such a proxy cannot choose an address through
 * Forwarded. (A proxy that writes only Forwarded must drop a client's X-Forwarded-For.)
 */
export function clientAddress(req: IncomingMessage, trust: TrustProxy | undefined): string {
  const socket = canonical((req.socket.remoteAddress ?? '').replace(/%.*$/, '')) ?? ''
  if (trust === undefined) return socket
  if ('trusted' in trust && !isTrusted(trust.trusted, socket)) return socket
  const xff = req.headersDistinct['x-forwarded-for']
  const forwarded = req.headersDistinct.forwarded
  const chain = xff ? forwardedForChain(xff) : forwarded ? forwardedChain(forwarded) : []
  // Walks from the right: each step is the address the proxy one step nearer wrote down.
  let client = socket
  for (let step = 1; step <= chain.length; step++) {
    const next = chain[chain.length - step]
    if (next === undefined) return client
    client = next
    if ('hops' in trust ? step >= trust.hops : !isTrusted(trust.trusted, next)) return client
  }
  // Every address was a trusted proxy's (or there were fewer than the hops): the farthest one known.
  return client
}

/**
 * The visitor an address stands for, which per-visitor limits count: an IPv4 address as it is, an
 * IPv6 address by its /64 (`2001:db8:1:2::/64`), since one home or phone is usually given a whole
 * /64 and could otherwise be a new visitor on every request.
 */
export function visitorOf(address: string): string {
  const groups = isIP(address) === 6 ? hextets(address) : undefined
  if (!groups) return address
  return `${formatV6([...groups.slice(0, 4), 0, 0, 0, 0])}/64`
}

const isTrusted = (list: BlockList, address: string) => {
  const family = isIP(address)
  return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6')
}

/** X-Forwarded-For over all its header lines, leftmost first: an address, or undefined for an entry that is not one. */
const forwardedForChain = (lines: string[]) =>
  lines
    .join(',')
    .split(',')
    .map((entry) => nodeAddress(entry.trim()))

/** RFC 7239: each element's `for=` node, leftmost first; undefined for `unknown`, an obfuscated name, garbage or no `for`. */
function forwardedChain(lines: string[]) {
  return splitOutsideQuotes(lines.join(','), ',').map((element) => {
    for (const pair of splitOutsideQuotes(element, ';')) {
      const equals = pair.indexOf('=')
      if (equals === -1 || pair.slice(0, equals).trim().toLowerCase() !== 'for') continue
      return nodeAddress(unquote(pair.slice(equals + 1).trim()))
    }
    return undefined
  })
}

/** Splits on `separator` where it is not inside a quoted string (which may hold it, and backslash escapes). */
function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = []
  let quoted = false
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted && c === '\\') i++
    else if (c === '"') quoted = !quoted
    else if (!quoted && c === separator) {
      parts.push(text.slice(start, i))
      start = i + 1
    }
  }
  parts.push(text.slice(start))
  return parts
}

const unquote = (value: string) =>
  value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value

/**
 * A forwarded node as proxies write it, with or without a port: `192.0.2.1`, `192.0.2.1:4711`,
 * `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:4711`. Anything else (a zone id, a name) is not an address.
 */
function nodeAddress(node: string): string | undefined {
  const bracketed = /^\[([^\]]+)\](?::(?:\d{1,5}|_[\w.-]+))?$/.exec(node)
  if (bracketed) return isIP(bracketed[1]!) === 6 ? canonical(bracketed[1]!) : undefined
  const withPort = /^([\d.]+):(?:\d{1,5}|_[\w.-]+)$/.exec(node)
  return canonical(withPort ? withPort[1]! : node)
}

/** The address in canonical form, or undefined for anything that is not a plain IPv4 or IPv6 address. */
function canonical(text: string): string | undefined {
  if (text.includes('%')) return undefined
  const family = isIP(text)
  if (family === 4) return text
  const groups = family === 6 ? hextets(text) : undefined
  if (!groups) return undefined
  // ::ffff:a.b.c.d, what a dual-stack socket reports for an IPv4 client, is that IPv4 client.
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.')
  }
  return formatV6(groups)
}

/** The eight 16-bit groups of an IPv6 address that isIP accepted (an IPv4 tail counts as two). */
function hextets(text: string): number[] | undefined {
  const [head, tail] = text.toLowerCase().split('::') as [string, string | undefined]
  const parse = (part: string | undefined) =>
    !part
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [Number.parseInt(group, 16)]
          const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number]
          return [(a << 8) | b, (c << 8) | d]
        })
  const left = parse(head)
  const right = parse(tail)
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill(0), ...right]
  return groups.length === 8 && groups.every((group) => group >= 0 && group <= 0xffff) ? groups : undefined
}

/** RFC 5952: lower case, no leading zeros, the first longest run of two or more zero groups as `::`. */
function formatV6(groups: number[]): string {
  let best = -1
  let bestLength = 1
  for (let i = 0; i < 8; i++) {
    let length = 0
    while (i + length < 8 && groups[i + length] === 0) length++
    if (length > bestLength) [best, bestLength] = [i, length]
  }
  const text = groups.map((group) => group.toString(16))
  if (best === -1) return text.join(':')
  return `${text.slice(0, best).join(':')}::${text.slice(best + bestLength).join(':')}`
}
