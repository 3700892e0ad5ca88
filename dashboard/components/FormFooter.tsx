/** A dialog form's last lines: the error that belongs to no one field, then Cancel and the submit button. */
import { h } from 'preact'

export function FormFooter({
  error,
  busy,
  submit,
  working,
  onCancel,
}: {
  error: string | undefined
  busy: boolean
  /** The submit button's words, and what it says while the server answers. */
  submit: string
  working: string
  onCancel: () => void
}) {
  return (
    <div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? working : submit}
        </button>
      </div>
    </div>
  )
}
