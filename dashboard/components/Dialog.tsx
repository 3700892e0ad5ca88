/**
 * A modal dialog on the native <dialog>: showModal() keeps the focus inside and Escape closes it;
 * the focus returns to what opened it.
 */
import { h, type ComponentChildren } from 'preact'
import { useEffect, useRef } from 'preact/hooks'

export function Dialog({
  title,
  onClose,
  children,
  labelledBy = 'dialog-title',
}: {
  title: string
  onClose: () => void
  children: ComponentChildren
  labelledBy?: string
}) {
  const ref = useRef<HTMLDialogElement>(null)
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null
    const dialog = ref.current!
    dialog.showModal()
    // Closed before the focus moves: nothing outside an open modal dialog can take the focus.
    return () => {
      dialog.close()
      opener?.focus()
    }
  }, [])
  return (
    <dialog ref={ref} aria-labelledby={labelledBy} onCancel={(event) => (event.preventDefault(), onClose())}>
      <h2 id={labelledBy}>{title}</h2>
      {children}
    </dialog>
  )
}
