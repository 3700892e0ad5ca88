/** Sign in with email and password. */
import { h } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { api, ApiError, type Me } from '../api.ts'
import { me, navigate } from '../state.ts'

export function SignIn() {
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const [signup, setSignup] = useState(false)
  document.title = 'Sign in · Assisters dashboard'

  useEffect(() => {
    api<{ signup: boolean }>('GET', '/settings').then(
      (settings) => setSignup(settings.signup),
      () => {},
    )
  }, [])

  const submit = async (event: Event) => {
    event.preventDefault()
    const form = new FormData(event.currentTarget as HTMLFormElement)
    setBusy(true)
    setError('')
    try {
      me.value = await api<Me>('POST', '/sign-in', { email: form.get('email'), password: form.get('password') })
      navigate('keys', { replace: true })
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'Something went wrong; please try again.')
    } finally {
      setBusy(false)
    }
  }

  return (
    <main class="narrow">
      <h1>Sign in to your dashboard</h1>
      <form onSubmit={submit} noValidate>
        <div class="field">
          <label for="email">Email</label>
          <input id="email" name="email" type="email" autocomplete="username" required />
        </div>
        <div class="field">
          <label for="password">Password</label>
          <input id="password" name="password" type="password" autocomplete="current-password" required />
        </div>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p class="hint">No password yet, or forgot it? Ask your operator for a one-time link.</p>
      {signup && (
        <p>
          New here?{' '}
          <a href="/dashboard/sign-up" onClick={(event) => (event.preventDefault(), navigate('sign-up'))}>
            Create an account
          </a>
        </p>
      )}
    </main>
  )
}
