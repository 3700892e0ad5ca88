/** Sign-up (only when the server runs with SIGNUP=open): a new account and its first owner. */
import { h } from 'preact'
import { useState } from 'preact/hooks'
import { ApiError, api, type Me } from '../api.ts'
import { fieldAria, Field } from '../components/Field.tsx'
import { me, navigate } from '../state.ts'

type Errors = Partial<Record<'account_name' | 'email' | 'password' | 'confirm' | 'form', string>>

export function SignUp() {
  const [errors, setErrors] = useState<Errors>({})
  const [busy, setBusy] = useState(false)
  document.title = 'Create an account · Assisters dashboard'

  const submit = async (event: Event) => {
    event.preventDefault()
    const form = new FormData(event.currentTarget as HTMLFormElement)
    if (form.get('password') !== form.get('confirm')) return setErrors({ confirm: 'The two passwords differ.' })
    setBusy(true)
    setErrors({})
    try {
      me.value = await api<Me>('POST', '/sign-up', {
        account_name: form.get('account_name'),
        email: form.get('email'),
        password: form.get('password'),
      })
      navigate('keys', { replace: true })
    } catch (err) {
      const message = err instanceof ApiError ? err.message : 'Something went wrong; please try again.'
      const field = err instanceof ApiError && ['account_name', 'email', 'password'].includes(err.param ?? '') ? err.param! : 'form'
      setErrors({ [field]: message })
    } finally {
      setBusy(false)
    }
  }

  const input = (id: keyof Errors, type: string, autocomplete: string, hint = false) => (
    <input id={id} name={id} type={type} autocomplete={autocomplete} required {...fieldAria(id, hint, errors[id])} />
  )

  return (
    <main class="narrow">
      <h1>Create an account</h1>
      <form onSubmit={submit} noValidate>
        <Field id="account_name" label="Your site or company" error={errors.account_name}>
          {input('account_name', 'text', 'organization')}
        </Field>
        <Field id="email" label="Email" error={errors.email}>
          {input('email', 'email', 'username')}
        </Field>
        <Field id="password" label="Password" hint="At least 10 characters." error={errors.password}>
          {input('password', 'password', 'new-password', true)}
        </Field>
        <Field id="confirm" label="The same password again" error={errors.confirm}>
          {input('confirm', 'password', 'new-password')}
        </Field>
        {errors.form && (
          <p class="error" role="alert">
            {errors.form}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create account'}
        </button>
      </form>
      <p>
        Have an account?{' '}
        <a href="/dashboard/sign-in" onClick={(event) => (event.preventDefault(), navigate('sign-in'))}>
          Sign in
        </a>
      </p>
    </main>
  )
}
