import { h, render } from 'preact'
import type { Actions } from './actions.ts'
import { App } from './components/App.tsx'
import type { WidgetConfig } from './config.ts'
import type { ChatState } from './state.ts'
import styles from './styles.css?inline'
import { onColor } from './theme.ts'

/** The widget's element in the host page. */
export const HOST_TAG = 'assisters-widget'

/** Puts the widget into the page inside an open shadow root; returns the function that takes it all out. */
export function mount(config: WidgetConfig, state: ChatState, actions: Actions): () => void {
  const host = document.createElement(HOST_TAG)
  const shadow = host.attachShadow({ mode: 'open' })
  // A page's own --assisters-* custom properties (they inherit into the shadow root) override data-color.
  const css = `${styles}.root{--accent:var(--assisters-accent,${config.color});--on-accent:var(--assisters-accent-text,${onColor(config.color)})}`
  // Attached before the first render: layout effects (scrolling to the last message) need real sizes.
  // An async script in <head> may run before <body> exists; <html> takes the element until then.
  ;(document.body ?? document.documentElement).append(host)
  render(h(App, { config, state, actions, css }), shadow)
  return () => {
    render(null, shadow)
    host.remove()
  }
}
