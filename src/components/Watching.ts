import { effect } from '@preact/signals-core'
import { Component, type ComponentChild } from 'preact'

/**
 * A component drawn by `view()` that draws again when a signal its last view read changes.
 * @preact/signals' Preact binding does this for every component through Preact's option hooks and
 * brings preact/hooks with it, about 1,500 of the panel's gzip bytes; signals-core's public effect()
 * does it here for the five components that read state.
 */
export abstract class Watching<P = object, S = object> extends Component<P, S> {
  stop?: () => void

  abstract view(props: P, state: S): ComponentChild

  override render(): ComponentChild {
    this.stop?.()
    let drawn: ComponentChild
    let first = true
    // The first run draws and records what the view read; a change of any of it asks for a new render,
    // which replaces this effect with one that records afresh.
    this.stop = effect(() => {
      if (first) drawn = this.view(this.props, this.state)
      else this.forceUpdate()
      first = false
    })
    return drawn
  }

  override componentWillUnmount(): void {
    this.stop?.()
  }
}
