import { h } from 'preact'
import { useEffect, useRef } from 'preact/hooks'
import type { Actions } from '../actions.ts'
import type { PanelSettings } from '../panel-config.ts'
import type { ChatState } from '../state.ts'
import { Panel } from './Panel.tsx'

interface AppProps {
  config: PanelSettings
  state: ChatState
  actions: Actions
  /** The loader's launcher button, which takes the focus back when the panel closes. */
  launcher: HTMLButtonElement
}

/** The panel's part of the shadow root: the dialog, while open. */
export function App({ config, state, actions, launcher }: AppProps) {
  // A panel open from the first render (data-open) must not steal the page's focus on load.
  const mounted = useRef(false)
  useEffect(() => {
    mounted.current = true
  }, [])

  return state.isOpen.value ? (
    <Panel config={config} state={state} actions={actions} autoFocus={mounted.current} onLeave={() => launcher.focus()} />
  ) : null
}
