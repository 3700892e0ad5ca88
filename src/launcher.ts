import type { WidgetConfig } from './config.ts'
import { chat, close } from './icons.ts'
import css from './launcher.css?inline'
import { onColor } from './theme.ts'

/** The widget's element in the host page. */
export const HOST_TAG = 'assisters-widget'

/**
 * Puts the widget's element into the page with the launcher inside its open shadow root: all that a
 * page whose visitor never opens the chat ever runs. Plain DOM, so the loader carries no Preact.
 */
export function createLauncher(config: WidgetConfig) {
  const host = document.createElement(HOST_TAG)
  const shadow = host.attachShadow({ mode: 'open' })
  // A constructed stylesheet, not a <style> element: a page whose CSP has no 'unsafe-inline' in style-src
  // applies it all the same. A page's own --assisters-* custom properties (they inherit into the shadow
  // root) override data-color.
  const sheet = new CSSStyleSheet()
  sheet.replaceSync(
    `${css}.root{--accent:var(--assisters-accent,${config.color});--on-accent:var(--assisters-accent-text,${onColor(config.color)})}`,
  )
  shadow.adoptedStyleSheets = [sheet]

  const root = element('div', `root ${config.position}`, shadow)
  const button = element('button', 'launcher', root)
  button.setAttribute('aria-haspopup', 'dialog')
  // Built node by node, never from an HTML string, which a Trusted Types policy would refuse.
  const svg = button.appendChild(document.createElementNS(SVG, 'svg'))
  const path = svg.appendChild(document.createElementNS(SVG, 'path'))
  svg.setAttribute('viewBox', '0 0 24 24')
  svg.setAttribute('aria-hidden', 'true')
  const badge = element('i', 'badge', button)
  const note = element('p', 'note', root)
  note.setAttribute('role', 'status')

  /** Shows whether the panel is open and whether an answer is unread (the dot), with the button's name for that. */
  const show = (open: boolean, unread: boolean, label: string): void => {
    button.setAttribute('aria-label', label)
    button.setAttribute('aria-expanded', String(open))
    path.setAttribute('d', open ? close : chat)
    badge.hidden = !unread
  }
  // The panel names the button in the visitor's language; until it comes, the loader's one English name.
  show(false, false, 'Open chat')
  // Into <html>, after <body>: a single-page app that replaces the body (Turbo, htmx) keeps the chat,
  // and a body with a transform or filter, which would hold anything fixed inside it, cannot move it.
  document.documentElement.append(host)

  return {
    shadow,
    root,
    button,
    show,
    /** Says in words, beside the launcher, that the chat could not load (empty: says nothing). */
    say(words: string): void {
      note.textContent = words
    },
    remove: () => host.remove(),
  }
}

export type Launcher = ReturnType<typeof createLauncher>

const SVG = 'http://www.w3.org/2000/svg'

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, parent: Node): HTMLElementTagNameMap[K] {
  const made = parent.appendChild(document.createElement(tag))
  made.className = className
  return made
}
