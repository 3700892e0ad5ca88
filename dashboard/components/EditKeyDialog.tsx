/** Edit an active key: its name, allowed domains, rate limit and instructions, in effect on the next request. */
import { h } from 'preact'
import { useState } from 'preact/hooks'
import { api, type Key } from '../api.ts'
import { Dialog } from './Dialog.tsx'
import { KeyForm, keyErrorsFrom, toKeyInput, type KeyErrors, type KeyFields } from './KeyForm.tsx'

export function EditKeyDialog({ original, onSaved, onClose }: { original: Key; onSaved: (key: Key) => void; onClose: () => void }) {
  const [fields, setFields] = useState<KeyFields>({
    name: original.name,
    domains: original.allowed_domains.join('\n'),
    rpm: String(original.rate_limit_rpm),
    instructions: original.instructions ?? '',
  })
  const [errors, setErrors] = useState<KeyErrors>({})
  const [busy, setBusy] = useState(false)

  const submit = async (event: Event) => {
    event.preventDefault()
    // Only what changed is sent: an untouched rate limit that follows the server's default keeps following it.
    const input = toKeyInput(fields)
    const changed = Object.fromEntries(
      Object.entries(input).filter(([name, value]) => JSON.stringify(value) !== JSON.stringify(original[name as keyof typeof input])),
    )
    if (Object.keys(changed).length === 0) return onClose()
    setBusy(true)
    try {
      onSaved(await api<Key>('PATCH', `/keys/${original.id}`, changed))
      onClose()
    } catch (err) {
      setErrors(keyErrorsFrom(err))
    } finally {
      setBusy(false)
    }
  }

  return (
    <Dialog title={`Edit ${original.name}`} onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <KeyForm fields={fields} onChange={setFields} errors={errors} idPrefix="edit" />
        {errors.form && (
          <p class="error" role="alert">
            {errors.form}
          </p>
        )}
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Saving…' : 'Save changes'}
          </button>
        </div>
      </form>
    </Dialog>
  )
}
