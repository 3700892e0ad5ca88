/** Create New Key: the settings, then the full key exactly once, with Copy and its embed snippet. */
import { h } from 'preact'
import { useState } from 'preact/hooks'
import { api, type Key } from '../api.ts'
import { embedSnippet } from '../format.ts'
import { justCreated } from '../state.ts'
import { CopyButton } from './CopyButton.tsx'
import { Dialog } from './Dialog.tsx'
import { FormFooter } from './FormFooter.tsx'
import { KeyForm, keyErrorsFrom, NEW_KEY_FIELDS, toKeyInput, type KeyErrors, type KeyFields } from './KeyForm.tsx'

export function CreateKeyDialog({ onCreated, onClose }: { onCreated: (key: Key) => void; onClose: () => void }) {
  const [fields, setFields] = useState<KeyFields>(NEW_KEY_FIELDS)
  const [errors, setErrors] = useState<KeyErrors>({})
  const [busy, setBusy] = useState(false)
  const [created, setCreated] = useState<(Key & { key: string }) | undefined>()

  const submit = async (event: Event) => {
    event.preventDefault()
    setBusy(true)
    try {
      const key = await api<Key & { key: string }>('POST', '/keys', toKeyInput(fields))
      setCreated(key)
      justCreated.value = { id: key.id, key: key.key }
      onCreated(key)
    } catch (err) {
      setErrors(keyErrorsFrom(err))
    } finally {
      setBusy(false)
    }
  }

  if (created) {
    return (
      <Dialog title={`Your new key: ${created.name}`} onClose={onClose}>
        <p class="warning">
          <strong>Copy it now: it won't be shown again.</strong> Only its first characters are kept.
        </p>
        <label for="new-key">API key</label>
        <div class="copy-row">
          <input
            id="new-key"
            class="mono"
            readOnly
            value={created.key}
            spellcheck={false}
            onFocus={(event) => event.currentTarget.select()}
          />
          <CopyButton text={created.key} label="Copy key" target="new-key" />
        </div>
        <label for="new-snippet">
          Embed snippet: paste it before <code>&lt;/body&gt;</code> on your site
        </label>
        <div class="copy-row">
          <textarea id="new-snippet" class="mono" readOnly rows={3} value={embedSnippet(created.key)} spellcheck={false} />
          <CopyButton text={embedSnippet(created.key)} label="Copy snippet" target="new-snippet" />
        </div>
        <div class="actions">
          <button type="button" class="primary" onClick={onClose}>
            Done
          </button>
        </div>
      </Dialog>
    )
  }

  return (
    <Dialog title="Create New Key" onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <KeyForm fields={fields} onChange={setFields} errors={errors} idPrefix="create" />
        <FormFooter error={errors.form} busy={busy} submit="Create key" working="Creating…" onCancel={onClose} />
      </form>
    </Dialog>
  )
}
