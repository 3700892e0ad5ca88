/** The dashboard's state: signals only, written by the pages through the API. */
import { signal } from '@preact/signals'
import type { Key, Me } from './api.ts'

/** undefined while the first /me is on its way; null when signed out. */
export const me = signal<Me | null | undefined>(undefined)
export const keys = signal<Key[]>([])
/** The last key created in this tab, whole: the one time the Embed page may show it (never stored). */
export const justCreated = signal<{ id: string; key: string } | undefined>(undefined)
/** The path under /dashboard/ the app shows: '', 'sign-in', 'set-password', 'keys', 'settings'. */
export const page = signal(pageOf(location.pathname))
/** A short message for the whole page (after sign-out everywhere, say), read by screen readers. */
export const notice = signal('')

export function pageOf(pathname: string) {
  return pathname.replace(/^\/dashboard\/?/, '').replace(/\/$/, '')
}

export function navigate(to: string, options: { replace?: boolean } = {}) {
  const url = `/dashboard/${to}`
  if (options.replace) history.replaceState(null, '', url)
  else history.pushState(null, '', url)
  page.value = to
}

addEventListener('popstate', () => (page.value = pageOf(location.pathname)))
