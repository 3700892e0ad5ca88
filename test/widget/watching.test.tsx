import { type Signal, signal } from '@preact/signals-core'
import { h, render } from 'preact'
import { afterEach, describe, expect, it } from 'vitest'
import { Watching } from '../../src/components/Watching.ts'

/** Preact draws a re-render in a microtask; a macrotask later it is in the DOM. */
const drawn = () => new Promise((resolve) => setTimeout(resolve))

let root: HTMLElement
afterEach(() => {
  render(null, root)
  root.remove()
})
const mount = (vnode: preact.VNode) => {
  root = document.body.appendChild(document.createElement('div'))
  render(vnode, root)
}

/** Mounts a Watching component showing `shown`, and counts its views. */
function mountLabel(shown: Signal<string>) {
  const counted = { views: 0 }
  class Label extends Watching {
    view() {
      counted.views++
      return <p>{shown.value}</p>
    }
  }
  mount(<Label />)
  return counted
}

describe('Watching', () => {
  it('draws again when a signal its view read changes', async () => {
    const shown = signal('a')
    const label = mountLabel(shown)
    expect(root.textContent).toBe('a')
    shown.value = 'b'
    await drawn()
    expect(root.textContent).toBe('b')
    expect(label.views).toBe(2)
  })

  it('follows what its last view read: a signal of a branch no longer shown stops drawing it', async () => {
    const showDetail = signal(true)
    const detail = signal('x')
    let views = 0
    class Maybe extends Watching {
      view() {
        views++
        return <p>{showDetail.value ? detail.value : 'none'}</p>
      }
    }
    mount(<Maybe />)
    showDetail.value = false
    await drawn()
    expect(root.textContent).toBe('none')
    const before = views
    detail.value = 'y'
    await drawn()
    expect(views).toBe(before)
    showDetail.value = true
    await drawn()
    expect(root.textContent).toBe('y')
  })

  it('draws a child alone when only what the child read changes, and the parent alone when only its own (same props: the child is not drawn)', async () => {
    const title = signal('T')
    const body = signal('B')
    const views = { parent: 0, child: 0 }
    class Child extends Watching {
      view() {
        views.child++
        return <span>{body.value}</span>
      }
    }
    class Parent extends Watching {
      view() {
        views.parent++
        return (
          <div>
            {title.value}
            <Child />
          </div>
        )
      }
    }
    mount(<Parent />)
    body.value = 'B2'
    await drawn()
    expect(root.textContent).toBe('TB2')
    expect(views).toEqual({ parent: 1, child: 2 })
    title.value = 'T2'
    await drawn()
    expect(root.textContent).toBe('T2B2')
    expect(views).toEqual({ parent: 2, child: 2 })
  })

  it('stops watching once unmounted: nothing watches its signals any more', () => {
    let watching = false
    const shown = signal('a', { watched: () => (watching = true), unwatched: () => (watching = false) })
    mountLabel(shown)
    expect(watching).toBe(true)
    render(null, root)
    expect(watching).toBe(false)
  })

  it('keeps watching across its own renders: a signal every view reads is never let go of in between', async () => {
    let letGo = 0
    const shown = signal('a', { unwatched: () => letGo++ })
    const other = signal(0)
    class Both extends Watching<{ n: number }> {
      view({ n }: { n: number }) {
        return <p>{`${shown.value} ${other.value} ${n}`}</p>
      }
    }
    mount(<Both n={1} />)
    // Drawn again for a new prop, not a signal: the effect is replaced, and the signal never let go of.
    render(<Both n={2} />, root)
    await drawn()
    expect(root.textContent).toBe('a 0 2')
    expect(letGo).toBe(0)
  })

  it('drawn again for new props, watches what the new view reads, no longer what the old one did', async () => {
    const mode = signal<'a' | 'b'>('a')
    let watchingA = false
    const a = signal('A', { watched: () => (watchingA = true), unwatched: () => (watchingA = false) })
    const b = signal('B')
    let views = 0
    class Pick extends Watching<{ which: 'a' | 'b' }> {
      view({ which }: { which: 'a' | 'b' }) {
        views++
        return <p>{which === 'a' ? a.value : b.value}</p>
      }
    }
    class Picker extends Watching {
      view() {
        return <Pick which={mode.value} />
      }
    }
    mount(<Picker />)
    mode.value = 'b'
    await drawn()
    expect(root.textContent).toBe('B')
    expect(watchingA).toBe(false)
    const before = views
    a.value = 'A2'
    await drawn()
    expect(views).toBe(before)
    b.value = 'B2'
    await drawn()
    expect(root.textContent).toBe('B2')
  })

  it('passes its props and state to view, and draws again on setState as any component does', async () => {
    const count = signal(1)
    class Counter extends Watching<{ label: string }, { clicks: number }> {
      override state = { clicks: 0 }
      view({ label }: { label: string }, { clicks }: { clicks: number }) {
        return (
          <button type="button" onClick={() => this.setState({ clicks: clicks + 1 })}>
            {`${label} ${count.value} ${clicks}`}
          </button>
        )
      }
    }
    mount(<Counter label="n" />)
    expect(root.textContent).toBe('n 1 0')
    root.querySelector('button')!.click()
    await drawn()
    expect(root.textContent).toBe('n 1 1')
    count.value = 2
    await drawn()
    expect(root.textContent).toBe('n 2 1')
  })
})
