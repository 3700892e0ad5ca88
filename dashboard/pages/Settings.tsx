/** Settings: the account's daily token budget, the password, the sessions, and who else owns the account. */
import { h } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { type Account, api, ApiError } from '../api.ts'
import { Field, fieldAria } from '../components/Field.tsx'
import { SessionList } from '../components/SessionList.tsx'
import { formatDate, wholeFrom } from '../format.ts'
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
  const [budget, setBudget] = useState('')
  const [budgetError, setBudgetError] = useState('')
  const [budgetSaved, setBudgetSaved] = useState('')

  useEffect(() => {
    api<Account>('GET', '/account').then(
      (account) => setBudget(account.daily_token_limit === null ? '' : String(account.daily_token_limit)),
      () => {},
    )
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

  const saveBudget = async (event: Event) => {
    event.preventDefault()
    setBudgetError('')
    setBudgetSaved('')
    try {
      const account = await api<Account>('PATCH', '/account', { daily_token_limit: wholeFrom(budget) })
      if (me.value) me.value = { ...me.value, account }
      setBudget(account.daily_token_limit === null ? '' : String(account.daily_token_limit))
      setBudgetSaved(
        account.daily_token_limit === null
          ? 'Saved: no daily budget for the account.'
          : `Saved: at most ${account.daily_token_limit.toLocaleString()} tokens a day across all keys.`,
      )
    } catch (err) {
      setBudgetError(err instanceof ApiError ? err.message : 'Something went wrong; please try again.')
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

      <h2>Daily token budget</h2>
      <form onSubmit={saveBudget} class="narrow-form" noValidate>
        <Field
          id="account-tokens"
          label="Tokens per UTC day, across all keys (optional)"
          hint="Empty: none. Once reached, every key answers 429 until 00:00 UTC; each key can also have its own budget."
          error={budgetError}
        >
          <input
            id="account-tokens"
            value={budget}
            onInput={(event) => setBudget(event.currentTarget.value)}
            inputMode="numeric"
            {...fieldAria('account-tokens', true, budgetError)}
          />
        </Field>
        <button type="submit" class="primary">
          Save budget
        </button>
        {budgetSaved && (
          <p class="ok" role="status">
            {budgetSaved}
          </p>
        )}
      </form>

      <h2>Password</h2>
      <form onSubmit={changePassword} class="narrow-form" noValidate>
        <Field id="current" label="Current password" error={errors.current}>
          <input
            id="current"
            name="current"
            type="password"
            autocomplete="current-password"
            required
            {...fieldAria('current', false, errors.current)}
          />
        </Field>
        <Field id="next" label="New password" hint="At least 10 characters." error={errors.next}>
          <input id="next" name="next" type="password" autocomplete="new-password" required {...fieldAria('next', true, errors.next)} />
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
