/** The response's `Vary` header, which several parts add to: each adds its field, none replaces it. */
import type { ServerResponse } from 'node:http'

/**
 * Adds `field` to `Vary` (RFC 9110 §12.5.5), keeping the fields already named, so a cache never
 * hands one site's answer, with its `Access-Control-Allow-Origin`, to another site.
 */
export function addVary(res: ServerResponse, field: string): void {
  const named = String(res.getHeader('vary') ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean)
  if (named.some((name) => name === '*' || name.toLowerCase() === field.toLowerCase())) return
  res.setHeader('vary', [...named, field].join(', '))
}
