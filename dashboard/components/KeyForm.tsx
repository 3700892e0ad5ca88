/**
 * A key's settings, for creating one and for editing one: the name, the allowed domains (each entry
 * checked by the server's own rules as it is typed, showing the form it will be stored in or why it
 * is refused), the rate limit and the instructions.
 */
import { h } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { api, ApiError, type DomainCheck } from '../api.ts'
import { splitEntries } from '../format.ts'
import { Field, describedBy } from './Field.tsx'

export interface KeyFields {
  name: string
  domains: string
  rpm: string
  instructions: string
}

export interface KeyInput {
  name: string
  allowed_domains: string[]
  rate_limit_rpm: number | null
  instructions: string | null
}

/** The form's text as the API takes it. */
export const toKeyInput = (fields: KeyFields): KeyInput => ({
  name: fields.name,
  allowed_domains: splitEntries(fields.domains),
  rate_limit_rpm: fields.rpm.trim() === '' ? null : Number(fields.rpm),
  instructions: fields.instructions.trim() === '' ? null : fields.instructions,
})

/** Errors by the API's field names, plus `form` for the rest. */
export type KeyErrors = Partial<Record<'name' | 'allowed_domains' | 'rate_limit_rpm' | 'instructions' | 'form', string>>

export const keyErrorsFrom = (err: unknown): KeyErrors => {
  if (!(err instanceof ApiError)) return { form: 'Something went wrong; please try again.' }
  const field = err.param as keyof KeyErrors | undefined
  return field && ['name', 'allowed_domains', 'rate_limit_rpm', 'instructions'].includes(field)
    ? { [field]: err.message }
    : { form: err.message }
}

export function KeyForm({
  fields,
  onChange,
  errors,
  idPrefix,
}: {
  fields: KeyFields
  onChange: (fields: KeyFields) => void
  errors: KeyErrors
  idPrefix: string
}) {
  const [checks, setChecks] = useState<DomainCheck[]>([])
  const id = (name: string) => `${idPrefix}-${name}`

  // Each entry checked by the server a moment after typing stops.
  useEffect(() => {
    const entries = splitEntries(fields.domains)
    if (entries.length === 0) return setChecks([])
    const timer = setTimeout(() => {
      api<{ data: DomainCheck[] }>('POST', '/domains/check', { allowed_domains: entries }).then(
        (answer) => setChecks(answer.data),
        () => {},
      )
    }, 250)
    return () => clearTimeout(timer)
  }, [fields.domains])

  const set = (name: keyof KeyFields) => (event: Event) => onChange({ ...fields, [name]: (event.currentTarget as HTMLInputElement).value })

  return (
    <div>
      <Field id={id('name')} label="Name" hint='Something that says where it is used, e.g. "Production site".' error={errors.name}>
        <input
          id={id('name')}
          value={fields.name}
          onInput={set('name')}
          required
          maxLength={100}
          autocomplete="off"
          aria-invalid={errors.name ? 'true' : undefined}
          aria-describedby={describedBy(id('name'), true, errors.name)}
        />
      </Field>
      <Field
        id={id('domains')}
        label="Allowed domains (optional)"
        hint="One per line: example.com, shop.example.com:8443 or *.example.com. None: any website may use the key."
        error={errors.allowed_domains}
      >
        <textarea
          id={id('domains')}
          value={fields.domains}
          onInput={set('domains')}
          rows={3}
          spellcheck={false}
          aria-invalid={errors.allowed_domains ? 'true' : undefined}
          aria-describedby={describedBy(id('domains'), true, errors.allowed_domains)}
        />
      </Field>
      {checks.length > 0 && (
        <ul class="checks" aria-label="How each domain will be stored" aria-live="polite">
          {checks.map((check, index) => (
            <li key={index} class={'error' in check ? 'refused' : 'accepted'}>
              <code>{check.entry}</code>{' '}
              {'error' in check ? (
                <span>refused: {check.error}</span>
              ) : (
                <span>
                  stored as <code>{check.stored}</code>
                </span>
              )}
            </li>
          ))}
        </ul>
      )}
      <Field
        id={id('rpm')}
        label="Rate limit, requests per minute (optional)"
        hint="Empty: the server's default."
        error={errors.rate_limit_rpm}
      >
        <input
          id={id('rpm')}
          value={fields.rpm}
          onInput={set('rpm')}
          inputMode="numeric"
          pattern="[0-9]*"
          aria-invalid={errors.rate_limit_rpm ? 'true' : undefined}
          aria-describedby={describedBy(id('rpm'), true, errors.rate_limit_rpm)}
        />
      </Field>
      <Field
        id={id('instructions')}
        label="Instructions (optional)"
        hint="A system prompt the server puts before every conversation with this key."
        error={errors.instructions}
      >
        <textarea
          id={id('instructions')}
          value={fields.instructions}
          onInput={set('instructions')}
          rows={3}
          maxLength={4000}
          aria-invalid={errors.instructions ? 'true' : undefined}
          aria-describedby={describedBy(id('instructions'), true, errors.instructions)}
        />
      </Field>
    </div>
  )
}
