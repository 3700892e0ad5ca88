/** Edit an active key: its name, allowed domains, limits and instructions, in effect on the next request. */
import { h } from 'preact'
import { useState } from 'preact/hooks'
import { api, type Key } from '../api.ts'
import { Dialog } from './Dialog.tsx'
import { FormFooter } from './FormFooter.tsx'
import { fieldsOf, KeyForm, keyErrorsFrom, toKeyInput, type KeyErrors, type KeyFields } from './KeyForm.tsx'

export function EditKeyDialog({ original, onSaved, onClose }: { original: Key; onSaved: (key: Key) => void; onClose: () => void }) {
  const [fields, setFields] = useState<KeyFields>(() => fieldsOf(original))
  const [errors, setErrors] = useState<KeyErrors>({})
  const [busy, setBusy] = useState(false)

  const submit = async (event: Event) => {
    event.preventDefault()
    // Only what changed is sent: an untouched limit that follows the server's default keeps following it.
    const before = toKeyInput(fieldsOf(original))
    const changed = Object.fromEntries(
      Object.entries(toKeyInput(fields)).filter(
        ([name, value]) => JSON.stringify(value) !== JSON.stringify(before[name as keyof typeof before]),
      ),
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
        <FormFooter error={errors.form} busy={busy} submit="Save changes" working="Saving…" onCancel={onClose} />
      </form>
    </Dialog>
  )
}
