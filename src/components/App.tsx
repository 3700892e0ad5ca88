import { h } from 'preact'
import { useEffect, useRef } from 'preact/hooks'
import type { Actions } from '../actions.ts'
import type { WidgetConfig } from '../config.ts'
import type { ChatState } from '../state.ts'
import { Launcher } from './Launcher.tsx'
import { Panel } from './Panel.tsx'

/** Everything inside the shadow root: the stylesheet, the launcher and, while open, the panel. */
export function App({ config, state, actions, css }: { config: WidgetConfig; state: ChatState; actions: Actions; css: string }) {
  const launcher = useRef<HTMLButtonElement>(null)
  // A panel open from the first render (data-open) must not steal the page's focus on load.
  const mounted = useRef(false)
  useEffect(() => {
    mounted.current = true
  }, [])

  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: Escape from any control inside closes the panel; the keys reach real controls first
    <div
      class={`root ${config.position}`}
      onKeyDown={(e) => {
        if (e.key === 'Escape' && state.isOpen.value) {
          e.stopPropagation()
          actions.close()
        }
      }}
    >
      <style>{css}</style>
      <Launcher state={state} actions={actions} buttonRef={launcher} />
      {state.isOpen.value && (
        <Panel config={config} state={state} actions={actions} autoFocus={mounted.current} onLeave={() => launcher.current?.focus()} />
      )}
    </div>
  )
}
