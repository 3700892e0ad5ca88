/** Usage: requests and tokens per day over the last 30 days, for all keys or one. */
import { h } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { api, ApiError, type Key } from '../api.ts'
import { BarChart } from '../components/BarChart.tsx'
import { keys } from '../state.ts'
import { DAYS, dailySeries, lastDays, type UsageRow } from '../usage.ts'

export function Usage() {
  const [rows, setRows] = useState<UsageRow[] | undefined>()
  const [error, setError] = useState('')
  const [keyId, setKeyId] = useState('')

  useEffect(() => {
    api<{ data: UsageRow[] }>('GET', '/usage').then(
      (answer) => setRows(answer.data),
      (err) => setError(err instanceof ApiError ? err.message : 'Usage could not be loaded.'),
    )
    api<{ data: Key[] }>('GET', '/keys').then(
      (answer) => (keys.value = answer.data),
      () => {},
    )
  }, [])

  const series = rows ? dailySeries(rows, lastDays(), keyId || undefined) : []
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
      {rows && (
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
        </div>
      )}
    </section>
  )
}
