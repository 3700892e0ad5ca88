/**
 * Embed: the snippet for the primary key, with the widget's options, and the real widget in this
 * page's corner as a live preview of their look. The full key is known only right after its
 * creation; otherwise the snippet names the key by its prefix, to be replaced with the saved key.
 */
import { h } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { api, type Key } from '../api.ts'
import { CopyButton } from '../components/CopyButton.tsx'
import { Field, fieldAria } from '../components/Field.tsx'
import { embedSnippet, splitLines, startersProblem } from '../format.ts'
import { justCreated, keys, navigate } from '../state.ts'

interface Options {
  title: string
  color: string
  welcome: string
  starters: string
  position: 'bottom-right' | 'bottom-left'
}

interface AssistersApi {
  init(options: Record<string, unknown>): void
  open(): void
  destroy(): void
}
/** The widget's global, as the loader leaves it (typed here: the dashboard shares no code with the widget). */
const assisters = () => (window as unknown as { Assisters?: AssistersApi }).Assisters

/** Loads this server's widget once (script-src 'self' allows it). */
let loading: Promise<AssistersApi> | undefined
const loadWidget = () =>
  (loading ??= new Promise((resolve, reject) => {
    const script = document.createElement('script')
    script.src = '/widget.js'
    script.onload = () => {
      const widget = assisters()
      if (widget) resolve(widget)
      else reject(new Error('no widget'))
    }
    script.onerror = () => reject(new Error('the widget could not load'))
    document.head.append(script)
  }))

const PREVIEW_KEY = 'ask_preview'
/** Whether the preview widget is mounted (destroy() before init() would warn in the console). */
let previewing = false

export function Embed() {
  const [options, setOptions] = useState<Options>({ title: '', color: '#2563eb', welcome: '', starters: '', position: 'bottom-right' })
  const [previewError, setPreviewError] = useState('')

  useEffect(() => {
    api<{ data: Key[] }>('GET', '/keys').then(
      (answer) => (keys.value = answer.data),
      () => {},
    )
  }, [])

  // The preview follows each change a moment after typing stops; it goes with the page.
  useEffect(() => {
    const timer = setTimeout(() => {
      loadWidget().then(
        (widget) => {
          if (previewing) widget.destroy()
          previewing = true
          widget.init({
            key: PREVIEW_KEY,
            // The server's stand-in API for the preview: its key check passes, nothing else answers.
            api: `${location.origin}/dashboard/preview`,
            ...(options.title && { title: options.title }),
            ...(options.welcome && { welcome: options.welcome }),
            color: options.color,
            position: options.position,
            starters: splitLines(options.starters),
          })
          widget.open()
        },
        () => setPreviewError('The preview needs the widget built on this server (npm run build).'),
      )
    }, 300)
    return () => clearTimeout(timer)
  }, [options])
  useEffect(
    () => () => {
      if (previewing) assisters()?.destroy()
      previewing = false
    },
    [],
  )

  const starters = splitLines(options.starters)
  // The widget refuses the whole list for one bad starter (with a warning in the console, which owners do not read).
  const startersError = startersProblem(starters)
  const primary = keys.value.find((key) => key.is_primary && !key.revoked_at)
  const whole = primary && justCreated.value?.id === primary.id ? justCreated.value.key : undefined
  const snippet = embedSnippet(whole ?? `${primary?.prefix ?? 'ask_'}…`, {
    title: options.title,
    color: options.color === '#2563eb' ? '' : options.color,
    welcome: options.welcome,
    starters: starters.join('|'),
    position: options.position === 'bottom-right' ? '' : options.position,
  })
  const set = (name: keyof Options) => (event: Event) => setOptions({ ...options, [name]: (event.currentTarget as HTMLInputElement).value })

  return (
    <section aria-labelledby="embed-title">
      <h1 id="embed-title">Embed</h1>
      {!primary ? (
        <p>
          There is no primary key.{' '}
          <a href="/dashboard/keys" onClick={(event) => (event.preventDefault(), navigate('keys'))}>
            Create one, or set one as primary, on API Keys.
          </a>
        </p>
      ) : (
        <div class="embed">
          <form class="narrow-form" onSubmit={(event) => event.preventDefault()}>
            <Field id="embed-title-input" label="Title">
              <input id="embed-title-input" value={options.title} onInput={set('title')} maxLength={80} placeholder="Chat with us" />
            </Field>
            <Field id="embed-color" label="Colour">
              <input id="embed-color" type="color" value={options.color} onInput={set('color')} />
            </Field>
            <Field id="embed-welcome" label="Welcome message">
              <textarea
                id="embed-welcome"
                value={options.welcome}
                onInput={set('welcome')}
                rows={2}
                maxLength={1000}
                placeholder="Hi! How can I help you today?"
              />
            </Field>
            <Field id="embed-starters" label="Starter questions" hint="One per line, up to 6." error={startersError}>
              <textarea
                id="embed-starters"
                value={options.starters}
                onInput={set('starters')}
                rows={3}
                {...fieldAria('embed-starters', true, startersError)}
              />
            </Field>
            <Field id="embed-position" label="Position">
              <select id="embed-position" value={options.position} onChange={set('position')}>
                <option value="bottom-right">Bottom right</option>
                <option value="bottom-left">Bottom left</option>
              </select>
            </Field>
          </form>
          <div>
            <label for="embed-snippet">Snippet for {primary.name}, the primary key</label>
            <div class="copy-row">
              <textarea id="embed-snippet" class="mono" readOnly rows={5} value={snippet} spellcheck={false} />
              <CopyButton text={snippet} label="Copy snippet" target="embed-snippet" />
            </div>
            {!whole && (
              <p class="hint">
                Keys are shown only once, so replace <code>{primary.prefix}…</code> with the key you saved when you created it.
              </p>
            )}
            <p class="hint">The chat in this page's corner is a preview of the look: it does not answer.</p>
            {previewError && <p class="error">{previewError}</p>}
          </div>
        </div>
      )}
    </section>
  )
}
