/**
 * A key's settings, for creating one and for editing one: the name, the allowed domains (each entry
 * checked by the server's own rules as it is typed, showing the form it will be stored in or why it
 * is refused), the limits (requests per minute for the key and for one visitor, a daily token
 * budget, whether the page's system messages are accepted) and the instructions.
 */
import { h } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { api, ApiError, type DomainCheck, type Key } from '../api.ts'
import { splitEntries, wholeFrom } from '../format.ts'
import { me } from '../state.ts'
import { Field, describedBy, fieldAria } from './Field.tsx'

/** The visitor limit: the server's default (VISITOR_RPM for keys with allowed domains, else none), none, or a number. */
export type VisitorMode = 'default' | 'none' | 'custom'

export interface KeyFields {
  name: string
  domains: string
  rpm: string
  visitorMode: VisitorMode
  visitorRpm: string
  dailyTokens: string
  systemMessages: boolean
  instructions: string
}

/** A new key's form: every limit at the server's default, system messages accepted. */
export const NEW_KEY_FIELDS: KeyFields = {
  name: '',
  domains: '',
  rpm: '',
  visitorMode: 'default',
  visitorRpm: '',
  dailyTokens: '',
  systemMessages: true,
  instructions: '',
}

/** An existing key's settings as the form shows them. */
export const fieldsOf = (key: Key): KeyFields => ({
  name: key.name,
  domains: key.allowed_domains.join('\n'),
  rpm: String(key.rate_limit_rpm),
  visitorMode: key.visitor_rpm_is_default ? 'default' : key.visitor_rpm === 0 ? 'none' : 'custom',
  visitorRpm: key.visitor_rpm_is_default || key.visitor_rpm === 0 ? '' : String(key.visitor_rpm),
  dailyTokens: key.daily_token_limit === null ? '' : String(key.daily_token_limit),
  systemMessages: key.allow_system_messages,
  instructions: key.instructions ?? '',
})

/** What the API takes; a number that is not one goes as typed, for the server to refuse by name. */
export interface KeyInput {
  name: string
  allowed_domains: string[]
  rate_limit_rpm: number | string | null
  visitor_rpm: number | string | null
  daily_token_limit: number | string | null
  allow_system_messages: boolean
  instructions: string | null
}

const VISITOR_RPM: Record<VisitorMode, (typed: string) => number | string | null> = {
  default: () => null,
  none: () => 0,
  // Left empty, it is an error to show, not "no limit".
  custom: (typed) => wholeFrom(typed) ?? typed,
}

/** The form's text as the API takes it. */
export const toKeyInput = (fields: KeyFields): KeyInput => ({
  name: fields.name,
  allowed_domains: splitEntries(fields.domains),
  rate_limit_rpm: wholeFrom(fields.rpm),
  visitor_rpm: VISITOR_RPM[fields.visitorMode](fields.visitorRpm),
  daily_token_limit: wholeFrom(fields.dailyTokens),
  allow_system_messages: fields.systemMessages,
  instructions: fields.instructions.trim() === '' ? null : fields.instructions,
})

const FIELD_ERRORS = [
  'name',
  'allowed_domains',
  'rate_limit_rpm',
  'visitor_rpm',
  'daily_token_limit',
  'allow_system_messages',
  'instructions',
] as const

/** Errors by the API's field names, plus `form` for the rest. */
export type KeyErrors = Partial<Record<(typeof FIELD_ERRORS)[number] | 'form', string>>

export const keyErrorsFrom = (err: unknown): KeyErrors => {
  if (!(err instanceof ApiError)) return { form: 'Something went wrong; please try again.' }
  const field = FIELD_ERRORS.find((name) => name === err.param)
  return field ? { [field]: err.message } : { form: err.message }
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
          {...fieldAria(id('name'), true, errors.name)}
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
          {...fieldAria(id('domains'), true, errors.allowed_domains)}
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
      <fieldset class="limits">
        <legend>Limits</legend>
        <Field
          id={id('rpm')}
          label="Rate limit, requests per minute (optional)"
          hint={`Empty: the server's default (${me.value?.defaults.rate_limit_rpm}).`}
          error={errors.rate_limit_rpm}
        >
          <input
            id={id('rpm')}
            value={fields.rpm}
            onInput={set('rpm')}
            inputMode="numeric"
            {...fieldAria(id('rpm'), true, errors.rate_limit_rpm)}
          />
        </Field>
        <Field
          id={id('tokens')}
          label="Daily token budget (optional)"
          hint="Tokens per UTC day; empty: none."
          error={errors.daily_token_limit}
        >
          <input
            id={id('tokens')}
            value={fields.dailyTokens}
            onInput={set('dailyTokens')}
            inputMode="numeric"
            {...fieldAria(id('tokens'), true, errors.daily_token_limit)}
          />
        </Field>
        <Field
          wide
          id={id('visitor')}
          label="Requests per minute from one visitor"
          hint="A visitor is one address; one script cannot use up the key's limit."
          error={errors.visitor_rpm}
        >
          <div class="pair">
            <select
              id={id('visitor')}
              value={fields.visitorMode}
              onChange={(event) => onChange({ ...fields, visitorMode: event.currentTarget.value as VisitorMode })}
              aria-describedby={describedBy(id('visitor'), true, errors.visitor_rpm)}
            >
              <option value="default">
                Server default ({splitEntries(fields.domains).length > 0 ? me.value?.defaults.visitor_rpm : 'none without allowed domains'})
              </option>
              <option value="none">No limit</option>
              <option value="custom">A number</option>
            </select>
            {fields.visitorMode === 'custom' && (
              <input
                id={id('visitor-rpm')}
                class="grow"
                aria-label="Visitor requests per minute"
                value={fields.visitorRpm}
                onInput={set('visitorRpm')}
                inputMode="numeric"
                {...fieldAria(id('visitor'), true, errors.visitor_rpm)}
              />
            )}
          </div>
        </Field>
        <div class={errors.allow_system_messages ? 'field check wide invalid' : 'field check wide'}>
          <input
            id={id('system')}
            type="checkbox"
            checked={fields.systemMessages}
            onChange={(event) => onChange({ ...fields, systemMessages: event.currentTarget.checked })}
            aria-describedby={describedBy(id('system'), true, errors.allow_system_messages)}
          />
          <label for={id('system')}>Accept system messages from the page</label>
          <p class="hint" id={`${id('system')}-hint`}>
            Off: only your instructions steer the assistant.
          </p>
          {errors.allow_system_messages && (
            <p class="error" id={`${id('system')}-error`} role="alert">
              {errors.allow_system_messages}
            </p>
          )}
        </div>
      </fieldset>
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
          {...fieldAria(id('instructions'), true, errors.instructions)}
        />
      </Field>
    </div>
  )
}
