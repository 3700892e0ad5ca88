/**
 * API Keys, as the public documentation describes the page: Create New Key at the top right; each
 * active key with its name and creation date, prefix, primary status, domain restrictions and last
 * use (and, beyond the documentation, its limits); Set as Primary, Edit, and Revoke with a
 * confirmation. Revoked keys are listed apart.
 */
import { h } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { api, ApiError, type Key } from '../api.ts'
import { CreateKeyDialog } from '../components/CreateKeyDialog.tsx'
import { Dialog } from '../components/Dialog.tsx'
import { EditKeyDialog } from '../components/EditKeyDialog.tsx'
import { formatDate, formatDateTime } from '../format.ts'
import { keys } from '../state.ts'

const MAX_ACTIVE = 10

type Open = { kind: 'create' } | { kind: 'edit'; key: Key } | { kind: 'revoke'; key: Key } | undefined

export function Keys() {
  const [open, setOpen] = useState<Open>()
  const [error, setError] = useState('')
  const [loaded, setLoaded] = useState(false)

  const reload = () =>
    api<{ data: Key[] }>('GET', '/keys').then(
      (answer) => {
        keys.value = answer.data
        setLoaded(true)
      },
      (err) => setError(err instanceof ApiError ? err.message : 'The keys could not be loaded.'),
    )

  useEffect(() => void reload(), [])

  // The button that did something may go with what it did (Set as Primary, a revoked key's row): where
  // the focus goes instead, once the list is drawn again, unless the owner has moved it meanwhile.
  const [refocus, setRefocus] = useState<string>()
  useEffect(() => {
    if (!refocus) return
    if (document.activeElement === document.body) document.querySelector<HTMLElement>(refocus)?.focus()
    setRefocus(undefined)
  }, [refocus])

  const act = async (work: () => Promise<unknown>, focusAfter?: string) => {
    setError('')
    try {
      await work()
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'Something went wrong; please try again.')
    }
    await reload()
    setRefocus(focusAfter)
  }

  const active = keys.value.filter((key) => !key.revoked_at)
  const revoked = keys.value.filter((key) => key.revoked_at)
  const close = () => setOpen(undefined)

  return (
    <section aria-labelledby="keys-title">
      <div class="page-head">
        <h1 id="keys-title">API Keys</h1>
        <button type="button" class="primary" onClick={() => setOpen({ kind: 'create' })} disabled={active.length >= MAX_ACTIVE}>
          Create New Key
        </button>
      </div>
      <p class="muted">
        Up to {MAX_ACTIVE} active keys. The <strong>primary</strong> key is the one the dashboard's embed snippet uses; the server accepts
        any active key of your account.
      </p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {loaded && active.length === 0 && <p>No active keys yet. Create one to put the chat on your site.</p>}
      {active.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Active keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key</th>
                <th scope="col">Allowed domains</th>
                <th scope="col">Limits</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {active.map((key) => (
                <tr key={key.id} data-key-id={key.id}>
                  <th scope="row">
                    <span class="key-name">{key.name}</span>
                    {key.is_primary && <span class="badge">Primary</span>}
                    <span class="muted block">Created {formatDate(key.created_at)}</span>
                  </th>
                  <td data-label="Key">
                    <code>{key.prefix}…</code>
                  </td>
                  <td data-label="Allowed domains">
                    {key.allowed_domains.length ? (
                      key.allowed_domains.map((domain) => (
                        <code class="domain" key={domain}>
                          {domain}
                        </code>
                      ))
                    ) : (
                      <span class="muted">Any website</span>
                    )}
                  </td>
                  <td data-label="Limits">
                    <Limits keyRecord={key} />
                  </td>
                  <td data-label="Last used">{formatDateTime(key.last_used_at)}</td>
                  <td class="row-actions">
                    {!key.is_primary && (
                      <button
                        type="button"
                        onClick={() => act(() => api('POST', `/keys/${key.id}/primary`), `[data-key-id="${key.id}"] button`)}
                        aria-label={`Set ${key.name} as primary`}
                      >
                        Set as Primary
                      </button>
                    )}
                    <button type="button" onClick={() => setOpen({ kind: 'edit', key })} aria-label={`Edit ${key.name}`}>
                      Edit
                    </button>
                    <button type="button" class="danger" onClick={() => setOpen({ kind: 'revoke', key })} aria-label={`Revoke ${key.name}`}>
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {revoked.length > 0 && (
        <details class="revoked">
          <summary>Revoked keys ({revoked.length})</summary>
          <ul>
            {revoked.map((key) => (
              <li key={key.id}>
                {key.name} <code>{key.prefix}…</code> <span class="muted">revoked {formatDateTime(key.revoked_at)}</span>
              </li>
            ))}
          </ul>
        </details>
      )}

      {open?.kind === 'create' && <CreateKeyDialog onCreated={() => void reload()} onClose={close} />}
      {open?.kind === 'edit' && <EditKeyDialog original={open.key} onSaved={() => void reload()} onClose={close} />}
      {open?.kind === 'revoke' && (
        <Dialog title={`Revoke ${open.key.name}?`} onClose={close}>
          <p>
            Every site and app using <code>{open.key.prefix}…</code> stops working on its next request. This cannot be undone.
          </p>
          <div class="actions">
            <button type="button" onClick={close}>
              Cancel
            </button>
            <button
              type="button"
              class="danger"
              onClick={() => {
                const key = open.key
                close()
                void act(() => api('POST', `/keys/${key.id}/revoke`), '.revoked summary')
              }}
            >
              Revoke key
            </button>
          </div>
        </Dialog>
      )}
    </section>
  )
}

/** A key's limits in a few words: the key's rate, one visitor's, the daily budget, and system messages refused. */
function Limits({ keyRecord: key }: { keyRecord: Key }) {
  return (
    <ul class="limit-list">
      <li>{key.rate_limit_rpm}/min</li>
      {key.visitor_rpm > 0 && <li>{key.visitor_rpm}/min a visitor</li>}
      {key.daily_token_limit !== null && <li>{key.daily_token_limit.toLocaleString()} tokens a day</li>}
      {!key.allow_system_messages && <li>Only your instructions</li>}
    </ul>
  )
}
