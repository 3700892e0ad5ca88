/** A labelled form field with its error underneath, tied together for screen readers. */
import { h, type ComponentChildren } from 'preact'

export function Field({
  id,
  label,
  hint,
  error,
  wide,
  children,
}: {
  id: string
  label: string
  hint?: string
  error?: string | undefined
  /** Across the whole row of a grid of fields. */
  wide?: boolean
  children: ComponentChildren
}) {
  return (
    <div class={['field', wide && 'wide', error && 'invalid'].filter(Boolean).join(' ')}>
      <label for={id}>{label}</label>
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {children}
      {error && (
        <p class="error" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
    </div>
  )
}

/** The aria-describedby for a field's input. */
export const describedBy = (id: string, hint: boolean, error: string | undefined) =>
  [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(' ') || undefined

/** A field's input's aria-invalid and aria-describedby, together: spread onto the input. */
export const fieldAria = (id: string, hint: boolean, error: string | undefined) => ({
  'aria-invalid': error ? ('true' as const) : undefined,
  'aria-describedby': describedBy(id, hint, error),
})
