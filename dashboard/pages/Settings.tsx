/** Settings: the password, the sessions, and who else owns the account. */
import { h } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { api, ApiError } from '../api.ts'
import { Field, describedBy } from '../components/Field.tsx'
import { SessionList } from '../components/SessionList.tsx'
import { formatDate } from '../format.ts'
import { me, navigate, notice } from '../state.ts'

interface Owner {
  id: string
  email: string
  created_at: string
  password_set: boolean
}

export function Settings() {
  const [owners, setOwners] = useState<Owner[]>([])
  const [errors, setErrors] = useState<{ current?: string; next?: string }>({})
  const [saved, setSaved] = useState('')

  useEffect(() => {
    api<{ data: Owner[] }>('GET', '/owners').then(
      (answer) => setOwners(answer.data),
      () => {},
    )
  }, [])

  const changePassword = async (event: Event) => {
    event.preventDefault()
    const formElement = event.currentTarget as HTMLFormElement
    const form = new FormData(formElement)
    setErrors({})
    setSaved('')
    try {
      await api('POST', '/password', { current_password: form.get('current'), new_password: form.get('next') })
      formElement.reset()
      setSaved('Password changed. Every other browser signed in as you has been signed out.')
    } catch (err) {
      const message = err instanceof ApiError ? err.message : 'Something went wrong; please try again.'
      setErrors(err instanceof ApiError && err.param === 'new_password' ? { next: message } : { current: message })
    }
  }

  const signOutEverywhere = async () => {
    await api('POST', '/sign-out-everywhere').catch(() => {})
    me.value = null
    notice.value = ''
    navigate('sign-in')
  }

  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Settings</h1>

      <h2>Password</h2>
      <form onSubmit={changePassword} class="narrow-form" noValidate>
        <Field id="current" label="Current password" error={errors.current}>
          <input
            id="current"
            name="current"
            type="password"
            autocomplete="current-password"
            required
            aria-invalid={errors.current ? 'true' : undefined}
            aria-describedby={describedBy('current', false, errors.current)}
          />
        </Field>
        <Field id="next" label="New password" hint="At least 10 characters." error={errors.next}>
          <input
            id="next"
            name="next"
            type="password"
            autocomplete="new-password"
            required
            aria-invalid={errors.next ? 'true' : undefined}
            aria-describedby={describedBy('next', true, errors.next)}
          />
        </Field>
        <button type="submit" class="primary">
          Change password
        </button>
        {saved && (
          <p class="ok" role="status">
            {saved}
          </p>
        )}
      </form>

      <h2>Sessions</h2>
      <SessionList />
      <p>Signed in on a computer you no longer use? End its session above, or every session, this one included.</p>
      <button type="button" onClick={signOutEverywhere}>
        Sign out everywhere
      </button>

      <h2>Owners of {me.value?.account.name}</h2>
      <ul class="owners">
        {owners.map((owner) => (
          <li key={owner.id}>
            {owner.email}{' '}
            <span class="muted">
              since {formatDate(owner.created_at)}
              {owner.password_set ? '' : ', has not set a password yet'}
            </span>
          </li>
        ))}
      </ul>
      <p class="hint">Your operator adds owners.</p>
    </section>
  )
}
