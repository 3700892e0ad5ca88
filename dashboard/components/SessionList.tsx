/** The owner's signed-in browsers, each with its own End button; ending this one signs out. */
import { h } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import { api, ApiError } from '../api.ts'
import { formatDateTime } from '../format.ts'
import { me, navigate, notice } from '../state.ts'

interface Session {
  id: string
  created_at: string
  last_seen_at: string
  current: boolean
}

export function SessionList() {
  const [sessions, setSessions] = useState<Session[]>([])
  const [problem, setProblem] = useState('')
  const list = useRef<HTMLUListElement>(null)

  const load = () =>
    api<{ data: Session[] }>('GET', '/sessions').then(
      (answer) => setSessions(answer.data),
      () => setProblem('The sessions could not be loaded; reload the page to try again.'),
    )
  useEffect(() => void load(), [])

  const end = async (session: Session) => {
    setProblem('')
    try {
      const answer = await api<{ signed_out: boolean }>('POST', `/sessions/${session.id}/end`)
      if (answer.signed_out) {
        me.value = null
        notice.value = ''
        return navigate('sign-in')
      }
    } catch (err) {
      // Already ended elsewhere (404): the fresh list below shows it gone.
      if (!(err instanceof ApiError && err.status === 404)) setProblem(err instanceof ApiError ? err.message : 'Something went wrong.')
    }
    await load()
    // The ended session's button went with it: the list takes the focus rather than the page's body.
    if (document.activeElement === document.body) list.current?.focus()
  }

  return (
    <div>
      <ul ref={list} class="sessions" aria-label="Signed-in browsers" tabIndex={-1}>
        {sessions.map((session) => (
          <li key={session.id}>
            <span>
              {session.current ? <strong>This browser</strong> : 'Another browser'}{' '}
              <span class="muted">
                signed in {formatDateTime(session.created_at)}, last used {formatDateTime(session.last_seen_at)}
              </span>
            </span>{' '}
            <button type="button" onClick={() => end(session)}>
              {session.current ? 'Sign out' : 'End session'}
            </button>
          </li>
        ))}
      </ul>
      {problem && <p role="alert">{problem}</p>}
    </div>
  )
}
