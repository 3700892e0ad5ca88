import { effect } from '@preact/signals-core'
import { Component, type ComponentChild } from 'preact'

/**
 * A component drawn by `view()` that draws again when a signal its last view read changes, and,
 * like a memo, not when its parent draws again with the same props. @preact/signals' Preact binding
 * does both for every component through Preact's option hooks and brings preact/hooks with it,
 * about 1,400 of the panel's gzip bytes; signals-core's public effect() does it here for the five
 * components that read state. A subclass that overrides componentWillUnmount must call super's.
 */
export abstract class Watching<P extends object = object, S extends object = object> extends Component<P, S> {
  private unwatch?: () => void

  abstract view(props: P, state: S): ComponentChild

  /** Its own state or a prop changed (by identity); a signal's change draws through forceUpdate, which skips this. */
  override shouldComponentUpdate(props: P, state: S): boolean {
    return state !== this.state || changed(props, this.props) || changed(this.props, props)
  }

  override render(): ComponentChild {
    let drawn: ComponentChild
    let first = true
    // The first run draws and records what the view read; a change of any of it asks for a new render,
    // which replaces this effect with one that records afresh. The old one stops after the new one
    // starts, so a signal both read stays watched throughout.
    const unwatch = effect(() => {
      if (first) drawn = this.view(this.props, this.state)
      else this.forceUpdate()
      first = false
    })
    this.unwatch?.()
    this.unwatch = unwatch
    return drawn
  }

  override componentWillUnmount(): void {
    this.unwatch?.()
  }
}

const changed = (a: object, b: object) => {
  for (const name in a) if (a[name as keyof typeof a] !== b[name as keyof typeof b]) return true
  return false
}
