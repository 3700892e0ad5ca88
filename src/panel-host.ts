/**
 * What the loader (dist/widget.js) and the panel (dist/panel-<hash>.js) hand each other. Types only:
 * the two files are built apart and share no code at run time.
 */
import type { checkOptions } from './check-options.ts'
import type { WidgetConfig } from './config.ts'
import type { Emit } from './events.ts'

/** The loader's side: what it already put in the page, for the panel to build on. */
export interface PanelHost {
  config: WidgetConfig
  emit: Emit
  /** The loader's option checker, for the options only the panel uses. */
  checkOptions: typeof checkOptions
  shadow: ShadowRoot
  /** The `.root` element inside the shadow root; the panel renders into a child of it. */
  root: HTMLElement
  /** The launcher button, which stays the loader's; the focus returns to it when the panel closes. */
  button: HTMLButtonElement
  /** Shows on the launcher whether the panel is open and whether an answer is unread, and names the button for that. */
  show(open: boolean, unread: boolean, label: string): void
}

/** The panel's side: the calls behind `window.Assisters`, once the panel runs. */
export interface Panel {
  open(): void
  close(): void
  toggle(): void
  /** Opens the chat and sends `text` as the visitor; false when it cannot be sent now. */
  send(text: string): boolean
  reset(): void
  destroy(): void
}

/**
 * What the panel file hands over: it mounts into the loader's shadow root (opening at once if
 * config.open) once it has the visitor's words, which may take a request of their own.
 */
export type MountPanel = (host: PanelHost) => Promise<Panel>
