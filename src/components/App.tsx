import { h } from 'preact'
import type { Actions } from '../actions.ts'
import type { PanelSettings } from '../panel-config.ts'
import type { ChatState } from '../state.ts'
import { Panel } from './Panel.tsx'
import { Watching } from './Watching.ts'

interface AppProps {
  config: PanelSettings
  state: ChatState
  actions: Actions
  /** The loader's launcher button, which takes the focus back when the panel closes. */
  launcher: HTMLButtonElement
}

/**
 * The panel's part of the shadow root: the dialog, while open. The panel's components are classes,
 * not hooks: Preact's Component is in the bundle anyway, and preact/hooks was about 1,000 of its gzip
 * bytes. Those that read state are Watching, drawn again when what they read changes.
 */
export class App extends Watching<AppProps> {
  /** Set after the first render: a panel open from the first render (data-open) must not steal the page's focus on load. */
  mounted = false

  override componentDidMount(): void {
    this.mounted = true
  }

  view({ config, state, actions, launcher }: AppProps) {
    return state.isOpen.value ? (
      <Panel config={config} state={state} actions={actions} autoFocus={this.mounted} onLeave={() => launcher.focus()} />
    ) : null
  }
}
