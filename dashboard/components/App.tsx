/** The frame: the header with the account and the navigation, and the page for the address. */
import { type ComponentType, h } from 'preact'
import { api } from '../api.ts'
import { Embed } from '../pages/Embed.tsx'
import { Keys } from '../pages/Keys.tsx'
import { SetPassword } from '../pages/SetPassword.tsx'
import { Settings } from '../pages/Settings.tsx'
import { SignIn } from '../pages/SignIn.tsx'
import { SignUp } from '../pages/SignUp.tsx'
import { Usage } from '../pages/Usage.tsx'
import { me, navigate, notice, page } from '../state.ts'

const SIGNED_IN_PAGES: Record<string, { title: string; view: ComponentType }> = {
  keys: { title: 'API Keys', view: Keys },
  embed: { title: 'Embed', view: Embed },
  usage: { title: 'Usage', view: Usage },
  settings: { title: 'Settings', view: Settings },
}

export function App() {
  const current = page.value
  if (current === 'set-password') return <SetPassword />
  if (me.value === undefined)
    return (
      <p class="loading" role="status">
        Loading…
      </p>
    )
  if (current === 'sign-up' && !me.value) return <SignUp />
  if (me.value === null || current === 'sign-in') return <SignIn />

  const shown = SIGNED_IN_PAGES[current] ?? SIGNED_IN_PAGES.keys!
  document.title = `${shown.title} · Assisters dashboard`
  const signOut = async () => {
    await api('POST', '/sign-out').catch(() => {})
    me.value = null
    navigate('sign-in')
  }
  const link = (to: string, label: string) => (
    <a
      href={`/dashboard/${to}`}
      aria-current={current === to || (to === 'keys' && !(current in SIGNED_IN_PAGES)) ? 'page' : undefined}
      onClick={(event) => {
        event.preventDefault()
        navigate(to)
      }}
    >
      {label}
    </a>
  )
  return (
    <div class="frame">
      <header class="top">
        <span class="brand">Assisters</span>
        <nav aria-label="Dashboard">
          {link('keys', 'API Keys')}
          {link('embed', 'Embed')}
          {link('usage', 'Usage')}
          {link('settings', 'Settings')}
        </nav>
        <span class="who">
          <span class="account">{me.value.account.name}</span>
          <span class="email">{me.value.owner.email}</span>
        </span>
        <button type="button" class="quiet" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main>
        {notice.value && (
          <p class="notice" role="status">
            {notice.value}
          </p>
        )}
        <shown.view />
      </main>
    </div>
  )
}
