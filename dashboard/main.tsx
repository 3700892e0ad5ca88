/** The dashboard's entry: who is signed in, then the page for the address. */
import { h, render } from 'preact'
import { api, whenSignedOut, type Me } from './api.ts'
import { App } from './components/App.tsx'
import { me, navigate, page } from './state.ts'

const OPEN_PAGES = new Set(['sign-in', 'sign-up', 'set-password'])

whenSignedOut(() => {
  me.value = null
  if (!OPEN_PAGES.has(page.value)) navigate('sign-in', { replace: true })
})

render(<App />, document.getElementById('app')!)

if (page.value !== 'set-password') {
  api<Me>('GET', '/me').then(
    (found) => {
      me.value = found
      if (page.value === '' || OPEN_PAGES.has(page.value)) navigate('keys', { replace: true })
    },
    () => {
      me.value = null
    },
  )
} else {
  me.value = null
}
