/** Usage: requests and tokens per day over the last 30 days, for all keys or one. */
import { h } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { api, ApiError, type Key } from '../api.ts'
import { BarChart } from '../components/BarChart.tsx'
import { keys } from '../state.ts'
import { formatDateTime } from '../format.ts'
import { DAYS, dailySeries, lastDays, type OriginRow, type RefusalReason, type RefusalRow, refusalSeries, type UsageRow } from '../usage.ts'

interface UsageAnswer {
  data: UsageRow[]
  refusals: RefusalRow[]
  origins: OriginRow[]
}

/** Each reason in the owner's words, in the order the page lists them. */
const REASONS: ReadonlyArray<readonly [RefusalReason, string]> = [
  ['origin_not_allowed', '403: a website the key does not allow'],
  ['rate_limited', '429: over the rate limit'],
  ['visitor_rate_limited', '429: visitor sending too fast'],
  ['daily_token_limit', '429: daily token budget reached'],
  ['too_many_streams', '429: too many answers in progress at once'],
  ['key_revoked', '401: a revoked key'],
]

export function Usage() {
  const [answer, setAnswer] = useState<UsageAnswer | undefined>()
  const [error, setError] = useState('')
  const [keyId, setKeyId] = useState('')

  useEffect(() => {
    api<UsageAnswer>('GET', '/usage').then(
      (found) => setAnswer(found),
      (err) => setError(err instanceof ApiError ? err.message : 'Usage could not be loaded.'),
    )
    api<{ data: Key[] }>('GET', '/keys').then(
      (answer) => (keys.value = answer.data),
      () => {},
    )
  }, [])

  const days = lastDays()
  const series = answer ? dailySeries(answer.data, days, keyId || undefined) : []
  const refusals = refusalSeries(answer?.refusals ?? [], days, keyId || undefined)
  const origins = (answer?.origins ?? []).filter((row) => !keyId || row.key_id === keyId)
  const keyName = (id: string) => keys.value.find((key) => key.id === id)?.name ?? id
  const total = (field: 'requests' | 'tokens') => series.reduce((sum, day) => sum + day[field], 0)

  return (
    <section aria-labelledby="usage-title">
      <div class="page-head">
        <h1 id="usage-title">Usage</h1>
        <div class="field inline">
          <label for="usage-key">Key</label>
          <select id="usage-key" value={keyId} onChange={(event) => setKeyId(event.currentTarget.value)}>
            <option value="">All keys</option>
            {keys.value.map((key) => (
              <option key={key.id} value={key.id}>
                {key.name}
                {key.revoked_at ? ' (revoked)' : ''}
              </option>
            ))}
          </select>
        </div>
      </div>
      <p class="muted">The last {DAYS} days, by UTC day. Figures arrive within a few seconds of each request.</p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {answer && (
        <div>
          <dl class="totals">
            <div>
              <dt>Requests</dt>
              <dd>{total('requests').toLocaleString()}</dd>
            </div>
            <div>
              <dt>Tokens</dt>
              <dd>{total('tokens').toLocaleString()}</dd>
            </div>
          </dl>
          <h2>Requests per day</h2>
          <BarChart label="Requests" points={series.map((day) => ({ day: day.day, value: day.requests }))} />
          <h2>Tokens per day</h2>
          <BarChart label="Tokens" points={series.map((day) => ({ day: day.day, value: day.tokens }))} />
          <h2>Refused requests per day</h2>
          {REASONS.some(([reason]) => refusals.byReason[reason] > 0) ? (
            <ul class="reasons">
              {REASONS.filter(([reason]) => refusals.byReason[reason] > 0).map(([reason, label]) => (
                <li key={reason}>
                  <strong>{refusals.byReason[reason].toLocaleString()}</strong> {label}
                </li>
              ))}
            </ul>
          ) : (
            <p>None refused.</p>
          )}
          <BarChart label="Refusals" points={refusals.perDay} />
          <h2>Where {keyId ? keyName(keyId) : 'your keys'} ran</h2>
          <p class="muted">
            The websites (Origins) that used each key, allowed or refused by its domains, and when last. Requests without an Origin come
            from servers and scripts, not browsers. Up to 50 per key are kept.
          </p>
          {origins.length === 0 ? (
            <p>No requests yet.</p>
          ) : (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Origin</th>
                    <th scope="col">Key</th>
                    <th scope="col">Result</th>
                    <th scope="col">Requests</th>
                    <th scope="col">Last seen</th>
                  </tr>
                </thead>
                <tbody>
                  {origins.map((row) => (
                    <tr key={`${row.key_id} ${row.allowed} ${row.origin}`} class={row.allowed ? '' : 'refused'}>
                      <th scope="row">{row.origin ? <code>{row.origin}</code> : <span class="muted">(no Origin)</span>}</th>
                      <td data-label="Key">{keyName(row.key_id)}</td>
                      <td data-label="Result">{row.allowed ? 'Allowed' : 'Refused (403)'}</td>
                      <td data-label="Requests">{row.requests.toLocaleString()}</td>
                      <td data-label="Last seen">{formatDateTime(row.last_seen_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      )}
    </section>
  )
}
