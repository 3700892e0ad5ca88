/**
 * The one-time link's page: the token arrives in the URL's fragment (never sent to a server, so
 * never in a log), is taken out of the address bar at once, and goes to the server in the body.
 */
import { h } from 'preact'
import { useState } from 'preact/hooks'
import { api, ApiError, type Me } from '../api.ts'
import { Field, fieldAria } from '../components/Field.tsx'
import { me, navigate } from '../state.ts'

// Read once, before anything renders, and dropped from the address bar and the history.
const token = location.pathname.endsWith('/set-password') ? location.hash.slice(1) : ''
if (location.hash) history.replaceState(null, '', location.pathname)

const MIN_CHARS = 10

export function SetPassword() {
  const [errors, setErrors] = useState<{ password?: string; confirm?: string; form?: string }>({})
  const [busy, setBusy] = useState(false)
  document.title = 'Choose your password · Assisters dashboard'

  if (!token) {
    return (
      <main class="narrow">
        <h1>This link is incomplete</h1>
        <p>Open the whole link you were sent, or ask your operator for a new one.</p>
      </main>
    )
  }

  const submit = async (event: Event) => {
    event.preventDefault()
    const form = new FormData(event.currentTarget as HTMLFormElement)
    const password = String(form.get('password'))
    if ([...password].length < MIN_CHARS) return setErrors({ password: `Use at least ${MIN_CHARS} characters.` })
    if (password !== form.get('confirm')) return setErrors({ confirm: 'The two passwords differ.' })
    setBusy(true)
    setErrors({})
    try {
      me.value = await api<Me>('POST', '/set-password', { token, password })
      navigate('keys', { replace: true })
    } catch (err) {
      const message = err instanceof ApiError ? err.message : 'Something went wrong; please try again.'
      setErrors(err instanceof ApiError && err.param === 'password' ? { password: message } : { form: message })
    } finally {
      setBusy(false)
    }
  }

  return (
    <main class="narrow">
      <h1>Choose your password</h1>
      <form onSubmit={submit} noValidate>
        <Field
          id="password"
          label="New password"
          hint={`At least ${MIN_CHARS} characters. A few unrelated words make a good one.`}
          error={errors.password}
        >
          <input
            id="password"
            name="password"
            type="password"
            autocomplete="new-password"
            required
            {...fieldAria('password', true, errors.password)}
          />
        </Field>
        <Field id="confirm" label="The same password again" error={errors.confirm}>
          <input
            id="confirm"
            name="confirm"
            type="password"
            autocomplete="new-password"
            required
            {...fieldAria('confirm', false, errors.confirm)}
          />
        </Field>
        {errors.form && (
          <p class="error" role="alert">
            {errors.form}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save and sign in'}
        </button>
      </form>
    </main>
  )
}
