/**
 * The client's address through proxies (TRUST_PROXY) and the visitor it stands for. The request is
 * the two things clientAddress reads, the socket's peer and the headers as Node hands them over
 * (headersDistinct: one entry per header line); the real server's reading is in visitor-limit.test.ts.
 */
import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { clientAddress, parseTrustProxy, visitorOf } from '../../server/client-address.ts'

const request = (remoteAddress: string, headers: Record<string, string | string[]> = {}) =>
  ({
    socket: { remoteAddress },
    headersDistinct: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value].flat()])),
  }) as unknown as IncomingMessage

const PROXY = '10.0.0.5'

describe('clientAddress without TRUST_PROXY', () => {
  it.each([
    ['X-Forwarded-For', { 'x-forwarded-for': '203.0.113.9' }],
    ['Forwarded', { forwarded: 'for=203.0.113.9' }],
    ['both', { 'x-forwarded-for': '203.0.113.9', forwarded: 'for=198.51.100.7' }],
  ])('ignores a spoofed %s entirely and answers the socket address', (_case, headers) => {
    expect(clientAddress(request('192.0.2.1', headers), undefined)).toBe('192.0.2.1')
  })

  it.each([
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::FFFF:c000:0201', '192.0.2.1'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['::1', '::1'],
  ])('writes the socket address %s as %s', (socket, address) => {
    expect(clientAddress(request(socket), undefined)).toBe(address)
  })
})

describe('clientAddress with a hop count', () => {
  it.each<[string, number, Record<string, string | string[]>, string]>([
    ['one proxy: the entry it appended', 1, { 'x-forwarded-for': '198.51.100.1, 203.0.113.9' }, '203.0.113.9'],
    ['two proxies: the second entry from the right', 2, { 'x-forwarded-for': '198.51.100.1, 203.0.113.9, 10.1.1.1' }, '203.0.113.9'],
    ['several header lines, combined in order', 2, { 'x-forwarded-for': ['198.51.100.1, 203.0.113.9', '10.1.1.1'] }, '203.0.113.9'],
    ['IPv6 entries', 1, { 'x-forwarded-for': '2001:DB8::7' }, '2001:db8::7'],
    ['an IPv4-mapped entry', 1, { 'x-forwarded-for': '::ffff:203.0.113.9' }, '203.0.113.9'],
    ['an IPv4 entry with a port', 1, { 'x-forwarded-for': '203.0.113.9:51234' }, '203.0.113.9'],
    ['a bracketed IPv6 entry with a port', 1, { 'x-forwarded-for': '[2001:db8::7]:443' }, '2001:db8::7'],
    ['fewer entries than hops: the farthest one', 3, { 'x-forwarded-for': '203.0.113.9' }, '203.0.113.9'],
    ['no header: the socket', 1, {}, PROXY],
    ['a malformed entry where the client should be: the proxy that wrote it', 1, { 'x-forwarded-for': '1.2.3.4, evil' }, PROXY],
    ['a malformed entry between proxies: the last address before it', 2, { 'x-forwarded-for': '203.0.113.9, ?, 10.1.1.1' }, '10.1.1.1'],
    ['an empty entry', 1, { 'x-forwarded-for': '203.0.113.9,' }, PROXY],
    ['a zone id', 1, { 'x-forwarded-for': 'fe80::1%eth0' }, PROXY],
    ['an address with leading zeros', 1, { 'x-forwarded-for': '010.0.0.1' }, PROXY],
    ['garbage left of the trusted entries, never read', 1, { 'x-forwarded-for': 'not an address, 203.0.113.9' }, '203.0.113.9'],
  ])('%s', (_case, hops, headers, client) => {
    expect(clientAddress(request(PROXY, headers), { hops })).toBe(client)
  })
})

describe('clientAddress with trusted addresses and CIDRs', () => {
  const trust = parseTrustProxy('10.0.0.0/8, 192.0.2.10, fd00::/8')

  it.each<[string, string, Record<string, string | string[]>, string]>([
    ['the first untrusted address from the right', PROXY, { 'x-forwarded-for': '198.51.100.1, 203.0.113.9, 10.9.9.9' }, '203.0.113.9'],
    ['IPv6 proxies in a trusted range', 'fd00::2', { 'x-forwarded-for': '2001:db8:1:2::99, fd12::1' }, '2001:db8:1:2::99'],
    ['an IPv4-mapped socket address of a trusted proxy', '::ffff:10.0.0.5', { 'x-forwarded-for': '203.0.113.9' }, '203.0.113.9'],
    ['a single trusted address', '192.0.2.10', { 'x-forwarded-for': '203.0.113.9' }, '203.0.113.9'],
    ['an untrusted socket: no header read', '198.51.100.50', { 'x-forwarded-for': '203.0.113.9' }, '198.51.100.50'],
    ['an untrusted IPv6 socket: no header read', '2001:db8::50', { forwarded: 'for=203.0.113.9' }, '2001:db8::50'],
    ['every entry trusted: the farthest', PROXY, { 'x-forwarded-for': '10.2.2.2, 10.1.1.1' }, '10.2.2.2'],
    ['a malformed entry after trusted ones: the last trusted address', PROXY, { 'x-forwarded-for': 'x, 10.1.1.1' }, '10.1.1.1'],
    ['an untrusted address left of a malformed one is never reached', PROXY, { 'x-forwarded-for': '203.0.113.9, bogus' }, PROXY],
  ])('%s', (_case, socket, headers, client) => {
    expect(clientAddress(request(socket, headers), trust)).toBe(client)
  })
})

describe('clientAddress reading RFC 7239 Forwarded', () => {
  const one = { hops: 1 }

  it.each<[string, Record<string, string | string[]>, string]>([
    ['a plain IPv4 node', { forwarded: 'for=203.0.113.9;proto=https;by=10.0.0.5' }, '203.0.113.9'],
    ['a quoted IPv6 node with a port', { forwarded: 'for="[2001:db8:cafe::17]:4711"' }, '2001:db8:cafe::17'],
    ['a quoted IPv6 node without a port', { forwarded: 'For="[2001:db8::1]"' }, '2001:db8::1'],
    ['a quoted IPv4 node with a port', { forwarded: 'for="203.0.113.9:8080"' }, '203.0.113.9'],
    ['the rightmost element of several', { forwarded: 'for=198.51.100.1, for=203.0.113.9' }, '203.0.113.9'],
    ['elements over several header lines', { forwarded: ['for=198.51.100.1', 'for=203.0.113.9;proto=http'] }, '203.0.113.9'],
    ['a quoted comma or semicolon inside another parameter', { forwarded: 'by="a,b;c";for=203.0.113.9' }, '203.0.113.9'],
    ['unknown: the proxy that could not tell', { forwarded: 'for=unknown' }, PROXY],
    ['an obfuscated node: the proxy', { forwarded: 'for=_hidden' }, PROXY],
    ['an element without for: the proxy', { forwarded: 'proto=https' }, PROXY],
    ['an unquoted IPv6 node', { forwarded: 'for=2001:db8::1' }, '2001:db8::1'],
    ['an unclosed quote', { forwarded: 'for="[2001:db8::1]' }, PROXY],
    ['a host name', { forwarded: 'for=example.com' }, PROXY],
  ])('%s', (_case, headers, client) => {
    expect(clientAddress(request(PROXY, headers), one)).toBe(client)
  })

  it('prefers X-Forwarded-For when both are present, the header proxies commonly write', () => {
    const headers = { 'x-forwarded-for': '203.0.113.9', forwarded: 'for=198.51.100.7' }
    expect(clientAddress(request(PROXY, headers), one)).toBe('203.0.113.9')
  })
})

describe('visitorOf', () => {
  it.each([
    ['203.0.113.9', '203.0.113.9'],
    ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8::/64'],
    ['::1', '::/64'],
    ['2001:0:0:1:ffff::', '2001:0:0:1::/64'],
    ['fd00:0:0:0:1::', 'fd00::/64'],
  ])('is %s for %s', (address, visitor) => {
    expect(visitorOf(address)).toBe(visitor)
  })

  it('is one visitor for every address of a /64, and another for the next /64', () => {
    const addresses = ['2001:db8:5:6::1', '2001:db8:5:6:ffff:ffff:ffff:ffff', '2001:db8:5:6:1234::abcd']
    expect(new Set(addresses.map(visitorOf))).toEqual(new Set(['2001:db8:5:6::/64']))
    expect(visitorOf('2001:db8:5:7::1')).toBe('2001:db8:5:7::/64')
  })
})

describe('parseTrustProxy', () => {
  it.each([
    ['1', { hops: 1 }],
    ['10', { hops: 10 }],
  ])('reads %s as a hop count', (raw, trust) => {
    expect(parseTrustProxy(raw)).toEqual(trust)
  })

  it.each([
    ['0', /from 1 to 10/],
    ['11', /from 1 to 10/],
    ['1.5', /neither an IP address nor a CIDR/],
    ['-1', /neither/],
    ['loopback', /'loopback' is neither/],
    ['10.0.0.0/33', /prefix length that is not from 0 to 32/],
    ['2001:db8::/129', /from 0 to 128/],
    ['10.0.0.0/', /prefix length/],
    ['10.0.0.0/x', /prefix length/],
    ['10.0.0.0/8/8', /neither/],
    ['/8', /neither/],
    ['10.0.0.0/8,,192.0.2.1', /empty entry/],
    ['10.0.0.0/8,', /empty entry/],
    ['fe80::1%eth0', /neither/],
    ['[::1]', /neither/],
    ['10.0.0.256', /neither/],
  ])('refuses %s', (raw, why) => {
    expect(() => parseTrustProxy(raw)).toThrow(why)
  })
})
