import fc from 'fast-check'
import { parse } from 'tldts'
import { describe, expect, it } from 'vitest'
import { compileOriginPolicy, DomainEntryError, normalizeDomainEntry } from '../../server/origin.ts'

const policy = (...entries: string[]) => compileOriginPolicy(entries.map(normalizeDomainEntry))

describe('compileOriginPolicy().allows', () => {
  it.each<[string, string[], string[] | undefined, boolean]>([
    // The empty list
    ['allows any origin when the list is empty', [], ['https://anything.example'], true],
    ['allows a request without Origin when the list is empty', [], undefined, true],
    ['allows even a null Origin when the list is empty', [], ['null'], true],
    // Exact hosts
    ['allows the exact host over https', ['example.com'], ['https://example.com'], true],
    ['allows the exact host over http', ['example.com'], ['http://example.com'], true],
    ['allows the exact host on any explicit port', ['example.com'], ['https://example.com:8443'], true],
    ['allows an origin whose host ends in one trailing dot', ['example.com'], ['https://example.com.'], true],
    ['refuses a subdomain of an exact host', ['example.com'], ['https://www.example.com'], false],
    ['refuses a look-alike with a prefix glued on', ['example.com'], ['https://badexample.com'], false],
    ['refuses the host used as a subdomain of another site', ['example.com'], ['https://example.com.evil.com'], false],
    ['refuses a look-alike with a hyphenated prefix', ['example.com'], ['https://evil-example.com'], false],
    ['refuses the same name under another TLD', ['example.com'], ['https://example.co'], false],
    ['refuses a host with a suffix glued onto the TLD', ['example.com'], ['https://example.comm'], false],
    ['refuses a host whose credentials spoof the allowed host', ['example.com'], ['https://example.com@evil.com'], false],
    // Refused shapes of the header
    ['refuses a missing Origin', ['example.com'], undefined, false],
    ['refuses an empty header list', ['example.com'], [], false],
    ['refuses the opaque origin null', ['example.com'], ['null'], false],
    ['refuses two Origin headers even when both are allowed', ['example.com'], ['https://example.com', 'https://example.com'], false],
    ['refuses a comma list in one header', ['example.com'], ['https://example.com, https://example.com'], false],
    ['refuses a comma list without spaces', ['example.com'], ['https://example.com,https://example.com'], false],
    ['refuses a trailing slash', ['example.com'], ['https://example.com/'], false],
    ['refuses a path', ['example.com'], ['https://example.com/app'], false],
    ['refuses a query', ['example.com'], ['https://example.com?x=1'], false],
    ['refuses credentials', ['example.com'], ['https://user:pw@example.com'], false],
    ['refuses an upper-case host', ['example.com'], ['https://EXAMPLE.com'], false],
    ['refuses an upper-case scheme', ['example.com'], ['HTTPS://example.com'], false],
    ['refuses a spelled-out https default port', ['example.com'], ['https://example.com:443'], false],
    ['refuses a spelled-out http default port', ['example.com'], ['http://example.com:80'], false],
    ['refuses a file origin', ['example.com'], ['file://example.com'], false],
    ['refuses a browser extension origin', ['example.com'], ['chrome-extension://example.com'], false],
    ['refuses a ws origin', ['example.com'], ['ws://example.com'], false],
    ['refuses an empty string', ['example.com'], [''], false],
    ['refuses surrounding whitespace', ['example.com'], [' https://example.com'], false],
    ['refuses a trailing newline', ['example.com'], ['https://example.com\n'], false],
    ['refuses a bare host without a scheme', ['example.com'], ['example.com'], false],
    ['refuses two trailing dots', ['example.com'], ['https://example.com..'], false],
    // Ports
    ['allows host:port on that port', ['example.com:8080'], ['http://example.com:8080'], true],
    ['refuses host:port on another port', ['example.com:8080'], ['http://example.com:8081'], false],
    ['refuses host:port when the origin has the default port', ['example.com:8080'], ['https://example.com'], false],
    ['allows host:443 for an https origin without a port', ['example.com:443'], ['https://example.com'], true],
    ['refuses host:443 for an http origin without a port', ['example.com:443'], ['http://example.com'], false],
    ['allows host:80 for an http origin without a port', ['example.com:80'], ['http://example.com'], true],
    ['allows host:port over either scheme', ['example.com:8080'], ['https://example.com:8080'], true],
    ['allows localhost on any dev port', ['localhost'], ['http://localhost:5173'], true],
    ['keeps a pasted URL port', ['http://localhost:8080'], ['http://localhost:3000'], false],
    // Wildcards
    ['allows a direct subdomain of a wildcard', ['*.example.com'], ['https://a.example.com'], true],
    ['allows a deep subdomain of a wildcard', ['*.example.com'], ['https://a.b.c.example.com'], true],
    ['refuses the wildcard base itself', ['*.example.com'], ['https://example.com'], false],
    ['refuses a glued look-alike of a wildcard base', ['*.example.com'], ['https://badexample.com'], false],
    ['refuses the wildcard base used under another site', ['*.example.com'], ['https://a.example.com.evil.com'], false],
    ['allows a wildcard subdomain with a trailing dot', ['*.example.com'], ['https://a.example.com.'], true],
    ['allows the base and subdomains with both entries', ['example.com', '*.example.com'], ['https://example.com'], true],
    ['allows a wildcard with a port on that port', ['*.example.com:8443'], ['https://a.example.com:8443'], true],
    ['refuses a wildcard with a port on another port', ['*.example.com:8443'], ['https://a.example.com'], false],
    ['refuses an empty label in front of a wildcard base', ['*.example.com'], ['https://.example.com'], false],
    // Internationalised names
    ['allows the punycode origin a browser sends for an IDN entry', ['bücher.de'], ['http://xn--bcher-kva.de'], true],
    ['allows a punycode subdomain of a wildcard IDN entry', ['*.bücher.de'], ['https://xn--caf-dma.xn--bcher-kva.de'], true],
    ['refuses a Unicode origin, which browsers never send', ['bücher.de'], ['http://bücher.de'], false],
    ['refuses the ASCII look-alike of an IDN entry', ['bücher.de'], ['http://bucher.de'], false],
    // IP literals
    ['allows an IPv4 literal exactly', ['127.0.0.1'], ['http://127.0.0.1:5173'], true],
    ['refuses a neighbouring IPv4 address', ['127.0.0.1'], ['http://127.0.0.2'], false],
    ['refuses an IPv4 literal glued into a domain', ['127.0.0.1'], ['http://127.0.0.1.evil.com'], false],
    ['refuses an IPv4 shorthand, which is not serialised', ['127.0.0.1'], ['http://127.1'], false],
    ['allows an IPv6 literal exactly', ['[::1]'], ['http://[::1]:3000'], true],
    ['allows an IPv6 literal with a port on that port', ['[::1]:3000'], ['http://[::1]:3000'], true],
    ['refuses an IPv6 literal with a port on another port', ['[::1]:3000'], ['http://[::1]:3001'], false],
    ['refuses an IPv6 literal that is not compressed as a browser does', ['[::1]'], ['http://[0:0:0:0:0:0:0:1]'], false],
    ['refuses another IPv6 address', ['[::1]'], ['http://[::2]'], false],
    ['allows a matching entry among several', ['a.com', 'b.com:8080', '*.c.com'], ['https://x.c.com'], true],
  ])('%s', (_name, entries, origin, expected) => {
    expect(policy(...entries).allows(origin)).toBe(expected)
  })
})

/** 253 characters, each label at most 63: the longest host name DNS allows. */
const LONGEST_HOST = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`
/** The punycode of `'bücher'.repeat(9)`: 61 characters with its `xn--`. */
const PUNY_61 = 'xn--bcherbcherbcherbcherbcherbcherbcherbcherbcher-9weffffffff'

describe('normalizeDomainEntry', () => {
  it.each<[string, string, string]>([
    ['keeps a plain host', 'example.com', 'example.com'],
    ['trims surrounding whitespace', '  example.com\t', 'example.com'],
    ['lower-cases the host', 'Example.COM', 'example.com'],
    ['removes one trailing dot', 'example.com.', 'example.com'],
    ['converts an IDN to punycode', 'bücher.de', 'xn--bcher-kva.de'],
    ['converts an upper-case IDN to punycode', 'BÜCHER.de', 'xn--bcher-kva.de'],
    ['keeps a bare port, even the http default', 'example.com:80', 'example.com:80'],
    ['keeps a bare https default port', 'example.com:443', 'example.com:443'],
    ['removes leading zeros from a port', 'example.com:08080', 'example.com:8080'],
    ['keeps a wildcard', '*.Example.com', '*.example.com'],
    ['keeps a wildcard with a port', '*.example.com:8443', '*.example.com:8443'],
    ['keeps a wildcard over a private domain under a public suffix', '*.me.github.io', '*.me.github.io'],
    ['converts a wildcard IDN base to punycode', '*.bücher.de', '*.xn--bcher-kva.de'],
    ['reduces a pasted https URL to its host', 'https://Example.com/', 'example.com'],
    ['reduces a pasted URL without a slash', 'http://example.com', 'example.com'],
    ['keeps the port of a pasted URL', 'http://localhost:8080', 'localhost:8080'],
    ['drops the default port of a pasted https URL', 'https://example.com:443/', 'example.com'],
    ['drops the default port of a pasted http URL', 'http://example.com:80', 'example.com'],
    ['keeps a non-default port of a pasted URL', 'http://example.com:443/', 'example.com:443'],
    ['accepts an upper-case pasted scheme', 'HTTPS://example.com', 'example.com'],
    ['accepts a bare host with a trailing slash', 'example.com/', 'example.com'],
    ['keeps an IPv4 literal', '127.0.0.1', '127.0.0.1'],
    ['keeps an IPv4 literal with a port', '127.0.0.1:5173', '127.0.0.1:5173'],
    ['canonicalises an IPv4 shorthand as URL does', '127.1', '127.0.0.1'],
    ['keeps an IPv6 literal in brackets', '[::1]', '[::1]'],
    ['compresses and lower-cases an IPv6 literal', '[0:0:0:0:0:0:0:1]:3000', '[::1]:3000'],
    ['reduces a pasted IPv6 URL', 'http://[::1]:3000/', '[::1]:3000'],
    ['keeps localhost', 'localhost', 'localhost'],
    ['keeps an underscore, which browsers accept in hosts', 'my_host.example.com', 'my_host.example.com'],
    ['keeps the longest host DNS allows: 253 characters in labels of 63', LONGEST_HOST, LONGEST_HOST],
    ['keeps the longest host with a trailing dot, a wildcard and a port', `*.${LONGEST_HOST}.:8443`, `*.${LONGEST_HOST}:8443`],
    ['keeps the longest host pasted as a URL', `https://${LONGEST_HOST.toUpperCase()}/`, LONGEST_HOST],
    ['keeps an international label of 63 characters after punycode', `${'bücher'.repeat(9)}.de`, `${PUNY_61}.de`],
  ])('%s', (_name, entry, normalised) => {
    expect(normalizeDomainEntry(entry)).toBe(normalised)
  })

  it.each<[string, string, RegExp]>([
    ['refuses an empty entry', '', /empty/],
    ['refuses a whitespace-only entry', '   ', /empty/],
    ['refuses a path', 'example.com/app', /path/],
    ['refuses a path in a pasted URL', 'https://example.com/app/', /path/],
    ['refuses a query', 'example.com?x=1', /query/],
    ['refuses an empty query in a pasted URL', 'https://example.com/?', /query/],
    ['refuses a fragment', 'https://example.com#top', /fragment/],
    ['refuses credentials in a pasted URL', 'https://user:pw@example.com', /credentials/],
    ['refuses credentials in a bare entry', 'user@example.com', /credentials/],
    ['refuses another pasted scheme', 'ftp://example.com', /scheme/],
    ['refuses a browser extension URL', 'chrome-extension://abcdef', /scheme/],
    ['refuses a ws URL', 'ws://example.com', /scheme/],
    ['refuses a wildcard alone', '*', /only a wildcard/],
    ['refuses a wildcard alone with a port', '*:8080', /only a wildcard/],
    ['refuses a wildcard glued to a label', '*example.com', /leftmost label/],
    ['refuses a wildcard in a middle label', 'a.*.com', /leftmost label/],
    ['refuses a double star', '**.example.com', /leftmost label/],
    ['refuses two wildcard labels', '*.*.example.com', /leftmost label/],
    ['refuses a wildcard in the last label', 'example.*', /leftmost label/],
    ['refuses a wildcard over a TLD', '*.com', /public suffix com/],
    ['refuses a wildcard over a two-level public suffix', '*.co.uk', /public suffix co\.uk/],
    ['refuses a wildcard over a private-section suffix', '*.github.io', /public suffix github\.io/],
    ['refuses a wildcard over a punycode TLD', '*.рф', /public suffix xn--p1ai/],
    ['refuses a wildcard with no base', '*.', /no host/],
    ['refuses a wildcard over an IPv4 address', '*.127.0.0.1', /IP address/],
    ['refuses a wildcard over an IPv6 address', '*.[::1]', /IP address/],
    ['refuses port 0', 'example.com:0', /port/],
    ['refuses a port above 65535', 'example.com:65536', /port/],
    ['refuses a non-numeric port', 'example.com:http', /port/],
    ['refuses an empty port', 'example.com:', /port/],
    ['refuses a negative port', 'example.com:-1', /port/],
    ['refuses an IPv6 address without brackets', '::1', /without brackets/],
    ['refuses a full IPv6 address without brackets', '2001:db8::1', /without brackets/],
    ['refuses an unclosed IPv6 bracket', '[::1', /IPv6/],
    ['refuses a malformed IPv6 literal', '[::g]', /IPv6/],
    ['refuses an empty label', 'a..com', /empty label/],
    ['refuses a leading dot', '.example.com', /empty label/],
    ['refuses two trailing dots', 'example.com..', /empty label/],
    ['refuses a space inside', 'exa mple.com', /characters not allowed/],
    ['refuses a percent escape', 'exa%6dple.com', /characters not allowed/],
    ['refuses a symbol a URL would accept', 'a!b.com', /characters not allowed/],
    ['refuses a backslash', 'example.com\\evil.com', /characters not allowed/],
    ['refuses an invalid IPv4 literal', '999.1.1.1', /characters not allowed/],
    ['refuses a protocol-relative URL', '//example.com', /path/],
    ['refuses a host of 254 characters', `a${LONGEST_HOST}`, /host longer than 253 characters/],
    ['refuses a wildcard over a host of 254 characters', `*.a${LONGEST_HOST}`, /host longer than 253 characters/],
    ['refuses a label of 64 characters', `${'a'.repeat(64)}.example.com`, /label longer than 63 characters/],
    ['refuses a label of 64 characters in a pasted URL', `https://www.${'a'.repeat(64)}.com:8443/`, /label longer than 63/],
    ['refuses a 60-character international label 67 long after punycode', `${'bücher'.repeat(10)}.de`, /label longer than 63/],
    ['refuses a host 253 long in Unicode, longer in punycode', `${'ü'.repeat(20)}.${LONGEST_HOST.slice(21)}`, /host longer than 253/],
  ])('%s', (_name, entry, reason) => {
    const attempt = () => normalizeDomainEntry(entry)
    expect(attempt).toThrow(DomainEntryError)
    expect(attempt).toThrow(reason)
  })

  it('names the entry in its message', () => {
    expect(() => normalizeDomainEntry(' example.com/app ')).toThrow('Allowed domain "example.com/app" has a path')
  })
})

describe('origin matching properties', () => {
  const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/)
  const tld = fc.constantFrom('com', 'org', 'co.uk', 'de', 'io')
  const base = fc.tuple(label, tld).map(([name, suffix]) => `${name}.${suffix}`)
  const scheme = fc.constantFrom('http', 'https')
  const port = fc.option(
    fc.integer({ min: 1, max: 65535 }).filter((p) => p !== 80 && p !== 443),
    { nil: undefined },
  )
  const origin = (s: string, host: string, p: number | undefined) => `${s}://${host}${p === undefined ? '' : `:${p}`}`

  it('never allows a look-alike under host or *.host policies', () => {
    const lookAlike = fc
      .tuple(base, label, tld, fc.integer({ min: 0, max: 4 }))
      .map(([host, evil, evilTld, how]) => {
        const [name, ...rest] = host.split('.')
        return [
          host,
          [
            `${evil}${host}`, // glued prefix: badhost.com
            `${evil}-${host}`, // hyphenated prefix
            `${host}.${evil}.${evilTld}`, // host.com.evil.com
            `${name}${evil}.${rest.join('.')}`, // suffix glued to the first label
            `${host}${evil}.${evilTld}`, // host.comevil.com
          ][how]!,
        ] as const
      })
      // A tampered name can still land under the host by chance (9.com + .9.com): that one is no fake.
      .filter(([host, fake]) => !fake.endsWith(`.${host}`))
    fc.assert(
      fc.property(lookAlike, scheme, port, ([host, fake], s, p) => {
        const value = origin(s, fake, p)
        expect(new URL(value).origin).toBe(value) // a real, browser-shaped origin: refused on its host alone
        expect(compileOriginPolicy([host]).allows([value])).toBe(false)
        expect(compileOriginPolicy([`*.${host}`]).allows([value])).toBe(false)
        expect(compileOriginPolicy([`*.${host}`]).allows([origin(s, host, p)])).toBe(false)
      }),
    )
  })

  it('allows every subdomain under *.host and none under host', () => {
    fc.assert(
      fc.property(base, fc.array(label, { minLength: 1, maxLength: 4 }), scheme, port, (host, labels, s, p) => {
        const value = origin(s, `${labels.join('.')}.${host}`, p)
        expect(compileOriginPolicy([`*.${host}`]).allows([value])).toBe(true)
        expect(compileOriginPolicy([host]).allows([value])).toBe(false)
      }),
    )
  })
})

// Host names as site owners type them: ASCII or international labels, under real public suffixes.
const asciiLabel = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/)
// No ß or σ: their upper case does not lower back to them, a property of Unicode rather than of hosts.
const idnLabel = fc.string({ unit: fc.constantFrom(...'abcdeéüöçñаеорсхαο中文日本'), minLength: 1, maxLength: 8 })
const toAscii = (host: string) => new URL(`http://${host}`).hostname
/** A registrable name: a valid host that is not itself a public suffix (`cn.com` is one), so `*.host` may be stored. */
const isSiteHost = (host: string) => {
  try {
    return parse(toAscii(host), { allowPrivateDomains: true }).domain !== null
  } catch {
    return false
  }
}
const hostName = fc
  .tuple(fc.array(fc.oneof(asciiLabel, idnLabel), { minLength: 1, maxLength: 3 }), fc.constantFrom('com', 'de', 'co.uk', 'io', 'рф'))
  .map(([labels, suffix]) => [...labels, suffix].join('.'))
  // Not every label is a host label (`xn--ab` claims to be punycode and is not), nor every name a site.
  .filter(isSiteHost)
const dedicatedPort = fc.integer({ min: 1, max: 65535 }).filter((p) => p !== 80 && p !== 443)

describe('domain entry normalisation properties', () => {
  it('normalises every spelling of the same entry alike: case, spaces, trailing dot, pasted URL, Unicode or punycode', () => {
    fc.assert(
      fc.property(hostName, fc.option(dedicatedPort, { nil: undefined }), fc.boolean(), (host, port, wildcard) => {
        const star = wildcard ? '*.' : ''
        const withPort = (h: string) => `${h}${port === undefined ? '' : `:${port}`}`
        const canonical = normalizeDomainEntry(star + withPort(host))
        expect(canonical).toBe(star + withPort(toAscii(host)))
        const spellings = [
          star + withPort(host.toUpperCase()),
          `  ${star}${withPort(host)}\t`,
          star + withPort(`${host}.`),
          star + withPort(toAscii(host)),
          `https://${star}${withPort(host)}/`,
          `HTTP://${star}${withPort(host.toUpperCase())}`,
          ...(port === undefined
            ? [`https://${star}${host}:443`, `http://${star}${host}:80/`]
            : port < 10_000
              ? [`${star}${host}:0${port}`]
              : []), // a port is at most five digits, zeros included
        ]
        for (const spelling of spellings) expect(normalizeDomainEntry(spelling), spelling).toBe(canonical)
      }),
    )
  })

  // Pieces that matter to the parser: schemes, separators, wildcards, ports, brackets, escapes, IDN.
  const piece = fc.constantFrom(
    'a',
    'B',
    'ü',
    'е',
    '中',
    'xn--',
    '-',
    '_',
    '.',
    '..',
    '*',
    '*.',
    ':',
    ':8080',
    ':0',
    ':99999',
    '[',
    ']',
    '::1',
    '[::1]',
    '127.0.0.1',
    '0x7f',
    '/',
    '?',
    '#',
    '@',
    '%41',
    '\\',
    ' ',
    '\t',
    'http://',
    'https://',
    'ftp://',
    'com',
    'co.uk',
    'github.io',
    'localhost',
    'example',
    'рф',
  )
  const entryLike = fc.oneof(
    fc.array(piece, { maxLength: 10 }).map((pieces) => pieces.join('')),
    fc.string({ maxLength: 30 }),
  )
  const SHAPE = /^(\*\.)?([a-z0-9_-]+(\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\])(:\d{1,5})?$/

  it('either refuses an entry with a DomainEntryError or returns a stored form that normalises to itself', () => {
    fc.assert(
      fc.property(entryLike, (entry) => {
        let normalised: string
        try {
          normalised = normalizeDomainEntry(entry)
        } catch (err) {
          expect(err).toBeInstanceOf(DomainEntryError)
          return
        }
        expect(normalised).toMatch(SHAPE)
        expect(normalizeDomainEntry(normalised)).toBe(normalised)
      }),
      { numRuns: 2000 },
    )
  })

  it('stores entries that allow exactly the origins browsers send for them, international names included', () => {
    fc.assert(
      fc.property(hostName, dedicatedPort, asciiLabel, fc.constantFrom('http', 'https'), (host, port, sub, scheme) => {
        // What a browser sends: the host in punycode and lower case, the default port left out.
        const sent = (h: string, p?: number) => new URL(`${scheme}://${h}${p === undefined ? '' : `:${p}`}`).origin
        const allows = (entry: string, origin: string) => compileOriginPolicy([normalizeDomainEntry(entry)]).allows([origin])
        expect(allows(host, sent(host))).toBe(true)
        expect(allows(host, sent(host, port))).toBe(true)
        expect(allows(`${host}:${port}`, sent(host, port))).toBe(true)
        expect(allows(`${host}:${port}`, sent(host, port === 65535 ? 1 : port + 1))).toBe(false)
        expect(allows(`*.${host}`, sent(`${sub}.${host}`))).toBe(true)
        expect(allows(`*.${host}`, sent(host))).toBe(false)
      }),
    )
  })
})

describe('origin look-alike properties', () => {
  // Latin letters and the Cyrillic letters drawn the same.
  const TWINS: Record<string, string> = { a: 'а', e: 'е', o: 'о', p: 'р', c: 'с', x: 'х', i: 'і', y: 'у' }
  const homoglyph = (host: string, at: number) => {
    const spots = [...host].flatMap((char, i) => (char in TWINS ? [i] : []))
    if (spots.length === 0) return `${TWINS.a}${host}`
    const chars = [...host]
    const spot = spots[at % spots.length]!
    chars[spot] = TWINS[chars[spot]!]!
    return chars.join('')
  }
  const browserForm = (scheme: string, host: string) => {
    try {
      return new URL(`${scheme}://${host}`).origin
    } catch {
      return `${scheme}://${host}`
    }
  }

  interface Fake {
    /** The entry's host as typed (maybe Unicode), and as browsers send it. */
    host: string
    ascii: string
    evil: string
    scheme: string
    port: number
    at: number
  }
  // Each makes one Origin header value meant to pass for the host, or for its dedicated port.
  const tricks: [string, (f: Fake) => string][] = [
    ['a glued prefix', (f) => `${f.scheme}://${f.evil}${f.ascii}`],
    ['a hyphenated prefix', (f) => `${f.scheme}://${f.evil}-${f.ascii}`],
    ['a suffix glued to the first label', (f) => `${f.scheme}://${f.ascii.replace('.', `${f.evil}.`)}`],
    ['a suffix glued to the TLD', (f) => `${f.scheme}://${f.ascii}${f.evil}`],
    ['the host as a subdomain of another site', (f) => `${f.scheme}://${f.ascii}.${f.evil}.com`],
    ['the host as a subdomain, with a trailing dot', (f) => `${f.scheme}://${f.ascii}.${f.evil}.com.`],
    ['two trailing dots', (f) => `${f.scheme}://${f.ascii}..`],
    ['a leading dot', (f) => `${f.scheme}://.${f.ascii}`],
    ['a first label dropped', (f) => `${f.scheme}://${f.ascii.slice(f.ascii.indexOf('.') + 1)}`],
    ['a Cyrillic look-alike letter, in punycode as a browser sends it', (f) => browserForm(f.scheme, homoglyph(f.host, f.at))],
    ['a Cyrillic look-alike letter, raw', (f) => `${f.scheme}://${homoglyph(f.host, f.at)}`],
    ['the Unicode host, raw, which browsers never send', (f) => `${f.scheme}://${f.host === f.ascii ? `${f.host}é` : f.host}`],
    ['an xn-- prefix', (f) => `${f.scheme}://xn--${f.ascii}`],
    [
      'an upper-case punycode prefix',
      (f) => `${f.scheme}://${f.ascii.includes('xn--') ? f.ascii.replace('xn--', 'XN--') : f.ascii.toUpperCase()}`,
    ],
    ['an upper-case host', (f) => `${f.scheme}://${f.ascii.toUpperCase()}`],
    ['an upper-case scheme', (f) => `${f.scheme.toUpperCase()}://${f.ascii}`],
    ['the host as credentials of another', (f) => `${f.scheme}://${f.ascii}@${f.evil}.com`],
    ['the host and port as credentials of another', (f) => `${f.scheme}://${f.ascii}:${f.port}@${f.evil}.com`],
    ['credentials in front of the host', (f) => `${f.scheme}://${f.evil}@${f.ascii}`],
    ['the host after a fragment @', (f) => `${f.scheme}://${f.evil}.com#@${f.ascii}`],
    ['the host after a backslash @', (f) => `${f.scheme}://${f.evil}.com\\@${f.ascii}`],
    ['the host in the path', (f) => `${f.scheme}://${f.evil}.com/${f.ascii}`],
    ['the host in the query', (f) => `${f.scheme}://${f.evil}.com?${f.ascii}`],
    ['a trailing slash', (f) => `${f.scheme}://${f.ascii}/`],
    ['a leading zero on the port', (f) => `${f.scheme}://${f.ascii}:0${f.port}`],
    ['the default port spelled out', (f) => `${f.scheme}://${f.ascii}:${f.scheme === 'https' ? 443 : 80}`],
    ['the next port', (f) => `${f.scheme}://${f.ascii}:${f.port === 65535 ? 1 : f.port + 1}`],
    ['no port at all', (f) => `${f.scheme}://${f.ascii}`],
    ['another scheme', (f) => `wss://${f.ascii}:${f.port}`],
    ['no scheme', (f) => `//${f.ascii}:${f.port}`],
    ['surrounding space', (f) => ` ${f.scheme}://${f.ascii}:${f.port}`],
    ['a list of two', (f) => `${f.scheme}://${f.evil}.com, ${f.scheme}://${f.ascii}`],
  ]

  /** The contract's own reading (section 5), kept naive: the origin a browser would send for a matching page. */
  function genuine(value: string, ascii: string, rule: 'host' | 'subdomain' | 'port', port: number) {
    let url: URL
    try {
      url = new URL(value)
    } catch {
      return false
    }
    if (url.origin !== value || !['http:', 'https:'].includes(url.protocol)) return false
    const name = url.hostname.replace(/\.$/, '')
    if (name.split('.').includes('')) return false
    const effectivePort = Number(url.port || (url.protocol === 'https:' ? 443 : 80))
    if (rule === 'subdomain') return name.endsWith(`.${ascii}`)
    return name === ascii && (rule === 'host' || effectivePort === port)
  }

  const fake = fc
    .record({
      host: hostName,
      evil: asciiLabel,
      scheme: fc.constantFrom('http', 'https'),
      port: dedicatedPort,
      at: fc.nat(),
    })
    .map((f): Fake => ({ ...f, ascii: toAscii(f.host) }))

  it('never allows a generated look-alike under host, *.host or host:port, however the entry was typed', () => {
    fc.assert(
      fc.property(fake, fc.constantFrom(...tricks), (f, [trick, make]) => {
        const value = make(f)
        const policies = [
          ['host', f.host],
          ['subdomain', `*.${f.host}`],
          ['port', `${f.host}:${f.port}`],
        ] as const
        for (const [rule, entry] of policies) {
          if (genuine(value, f.ascii, rule, f.port)) continue // a trick that happened to make the real thing
          const allowed = compileOriginPolicy([normalizeDomainEntry(entry)]).allows([value])
          expect(allowed, `${trick}: ${JSON.stringify(value)} under ${entry}`).toBe(false)
        }
      }),
      { numRuns: 3000 },
    )
  })

  it('allows the genuine origins the look-alikes imitate (so the property above is not vacuous)', () => {
    fc.assert(
      fc.property(fake, asciiLabel, (f, sub) => {
        const exact = compileOriginPolicy([normalizeDomainEntry(f.host)])
        const dedicated = compileOriginPolicy([normalizeDomainEntry(`${f.host}:${f.port}`)])
        const wildcard = compileOriginPolicy([normalizeDomainEntry(`*.${f.host}`)])
        for (const value of [`${f.scheme}://${f.ascii}`, `${f.scheme}://${f.ascii}.`, `${f.scheme}://${f.ascii}:${f.port}`]) {
          expect(genuine(value, f.ascii, 'host', f.port)).toBe(true)
          expect(exact.allows([value]), value).toBe(true)
        }
        expect(dedicated.allows([`${f.scheme}://${f.ascii}:${f.port}`])).toBe(true)
        expect(dedicated.allows([`${f.scheme}://${f.ascii}.:${f.port}`])).toBe(true)
        expect(wildcard.allows([`${f.scheme}://${sub}.${f.ascii}`])).toBe(true)
        expect(wildcard.allows([`${f.scheme}://${sub}.${f.ascii}.`])).toBe(true)
      }),
    )
  })
})
