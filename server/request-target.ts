/**
 * RFC 9112 §3.2.2: a server MUST accept a request target in absolute form
 * (`GET http://host:port/v1/models HTTP/1.1`). This server is no proxy, so the scheme and authority
 * are dropped and the request goes by its path and query, as the origin-form one would; what the
 * Host header must say is checked as for any request. Any other target is left as it came.
 */
const ABSOLUTE_FORM = /^https?:\/\/[^/?#]*/i

/** The origin form (`/path?query`) of a request target; an absolute one with no path gets `/`. */
export function originForm(target: string): string {
  const authority = ABSOLUTE_FORM.exec(target)
  if (!authority) return target
  const rest = target.slice(authority[0].length)
  return rest.startsWith('/') ? rest : `/${rest}`
}
