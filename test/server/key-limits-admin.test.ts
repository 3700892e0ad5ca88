/**
 * Issue 16's settings through the admin API: a key's visitor limit, daily token budget and whether
 * it takes client system messages, and an account's daily token budget. Each is shown as it applies,
 * changed after creation, reset to its default with null, and every malformed value is refused with
 * 400 naming the field and nothing changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createUpstreamMock, startServer, type TestServer } from './harness.ts'

const upstream = createUpstreamMock()
let server: TestServer
let accountId: string

beforeAll(async () => {
  upstream.listen()
  server = await startServer({ VISITOR_RPM: '25' })
  accountId = (await server.admin('POST', '/admin/accounts', { name: 'Limits' })).body.id
})
afterAll(async () => {
  await server?.close()
  upstream.mock.close()
})

const createKey = async (fields: Record<string, unknown> = {}) => {
  const created = await server.admin('POST', `/admin/accounts/${accountId}/keys`, { name: 'k', ...fields })
  // Revoked straight away where the test needs only the answer, to stay under the 10-key limit.
  if (created.status === 201) await server.admin('POST', `/admin/keys/${created.body.id}/revoke`)
  return created
}

const activeKey = async (fields: Record<string, unknown> = {}) => {
  const created = await server.admin('POST', `/admin/accounts/${accountId}/keys`, { name: 'k', ...fields })
  expect(created.status).toBe(201)
  return created.body
}

describe("a key's limits", () => {
  it('defaults: the server VISITOR_RPM for a key with allowed domains, none for one without; no budget; system messages allowed', async () => {
    const widgetKey = (await createKey({ allowed_domains: ['shop.example'] })).body
    expect(widgetKey).toMatchObject({ visitor_rpm: 25, visitor_rpm_is_default: true, daily_token_limit: null, allow_system_messages: true })
    const serverKey = (await createKey()).body
    expect(serverKey).toMatchObject({ visitor_rpm: 0, visitor_rpm_is_default: true, daily_token_limit: null, allow_system_messages: true })
  })

  it('takes each at creation and shows it in the list', async () => {
    const key = await activeKey({ visitor_rpm: 5, daily_token_limit: 100_000, allow_system_messages: false })
    expect(key).toMatchObject({ visitor_rpm: 5, visitor_rpm_is_default: false, daily_token_limit: 100_000, allow_system_messages: false })
    const listed = (await server.admin('GET', `/admin/accounts/${accountId}/keys`)).body.data.find((k: { id: string }) => k.id === key.id)
    expect(listed).toMatchObject({ visitor_rpm: 5, daily_token_limit: 100_000, allow_system_messages: false })
    await server.admin('POST', `/admin/keys/${key.id}/revoke`)
  })

  it('accepts visitor_rpm 0 (no limit per visitor) even on a key with allowed domains', async () => {
    expect((await createKey({ visitor_rpm: 0, allowed_domains: ['shop.example'] })).body).toMatchObject({
      visitor_rpm: 0,
      visitor_rpm_is_default: false,
    })
  })

  it('changes each after creation, and null puts the default back', async () => {
    const key = await activeKey({ allowed_domains: ['shop.example'] })
    const changed = await server.admin('PATCH', `/admin/keys/${key.id}`, {
      visitor_rpm: 3,
      daily_token_limit: 5000,
      allow_system_messages: false,
    })
    expect(changed.status).toBe(200)
    expect(changed.body).toMatchObject({ visitor_rpm: 3, daily_token_limit: 5000, allow_system_messages: false, name: 'k' })

    const reset = await server.admin('PATCH', `/admin/keys/${key.id}`, { visitor_rpm: null, daily_token_limit: null })
    expect(reset.body).toMatchObject({
      visitor_rpm: 25,
      visitor_rpm_is_default: true,
      daily_token_limit: null,
      allow_system_messages: false,
    })
    // A field left out stays as it is.
    expect((await server.admin('PATCH', `/admin/keys/${key.id}`, { allow_system_messages: true })).body).toMatchObject({
      visitor_rpm: 25,
      allow_system_messages: true,
    })
    await server.admin('POST', `/admin/keys/${key.id}/revoke`)
  })

  it.each<[string, unknown]>([
    ['visitor_rpm', -1],
    ['visitor_rpm', 1.5],
    ['visitor_rpm', '10'],
    ['visitor_rpm', 100_001],
    ['visitor_rpm', true],
    ['daily_token_limit', 0],
    ['daily_token_limit', -5],
    ['daily_token_limit', 2.5],
    ['daily_token_limit', '1000'],
    ['daily_token_limit', 1_000_000_001],
    ['daily_token_limit', {}],
    ['allow_system_messages', 'false'],
    ['allow_system_messages', 0],
    ['allow_system_messages', null],
  ])('refuses %s = %j with 400 naming it, at creation and on change, changing nothing', async (field, value) => {
    const created = await createKey({ [field]: value })
    expect(created.status).toBe(400)
    expect(created.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_body', param: field })

    const key = await activeKey({ visitor_rpm: 7, daily_token_limit: 70, allow_system_messages: true })
    const changed = await server.admin('PATCH', `/admin/keys/${key.id}`, { [field]: value, name: 'renamed' })
    expect(changed.status).toBe(400)
    expect(changed.body.error).toMatchObject({ code: 'invalid_body', param: field })
    const listed = (await server.admin('GET', `/admin/accounts/${accountId}/keys`)).body.data.find((k: { id: string }) => k.id === key.id)
    expect(listed).toMatchObject({ name: 'k', visitor_rpm: 7, daily_token_limit: 70, allow_system_messages: true })
    await server.admin('POST', `/admin/keys/${key.id}/revoke`)
  })
})

describe("an account's daily token budget", () => {
  it('has none at first, takes one, shows it in the account list, and null removes it', async () => {
    const created = await server.admin('POST', '/admin/accounts', { name: 'Budget' })
    expect(created.body.daily_token_limit).toBeNull()
    const id = created.body.id

    const set = await server.admin('PATCH', `/admin/accounts/${id}`, { daily_token_limit: 250_000 })
    expect(set.status).toBe(200)
    expect(set.body).toMatchObject({ id, name: 'Budget', daily_token_limit: 250_000 })
    const listed = (await server.admin('GET', '/admin/accounts')).body.data.find((a: { id: string }) => a.id === id)
    expect(listed.daily_token_limit).toBe(250_000)

    const renamed = await server.admin('PATCH', `/admin/accounts/${id}`, { name: 'Budget two' })
    expect(renamed.body).toMatchObject({ name: 'Budget two', daily_token_limit: 250_000 })
    expect((await server.admin('PATCH', `/admin/accounts/${id}`, { daily_token_limit: null })).body.daily_token_limit).toBeNull()
  })

  it.each<[string, unknown, string]>([
    ['a zero budget', { daily_token_limit: 0 }, 'daily_token_limit'],
    ['a negative budget', { daily_token_limit: -1 }, 'daily_token_limit'],
    ['a budget in text', { daily_token_limit: '100' }, 'daily_token_limit'],
    ['a fractional budget', { daily_token_limit: 1.5 }, 'daily_token_limit'],
    ['an empty name', { name: ' ' }, 'name'],
    ['an unknown field', { rate_limit_rpm: 5 }, 'rate_limit_rpm'],
    ['an empty body', {}, 'body'],
    ['a body that is not an object', [1], 'body'],
  ])('refuses %s with 400 naming the field', async (_what, body, param) => {
    const id = (await server.admin('POST', '/admin/accounts', { name: 'Refused' })).body.id
    const answer = await server.admin('PATCH', `/admin/accounts/${id}`, body)
    expect(answer.status).toBe(400)
    expect(answer.body.error).toMatchObject({ code: 'invalid_body', param })
    const listed = (await server.admin('GET', '/admin/accounts')).body.data.find((a: { id: string }) => a.id === id)
    expect(listed).toMatchObject({ name: 'Refused', daily_token_limit: null })
  })

  it('answers 404 for an unknown account', async () => {
    const answer = await server.admin('PATCH', '/admin/accounts/acct_nope', { daily_token_limit: 10 })
    expect(answer.status).toBe(404)
    expect(answer.body.error.code).toBe('not_found')
  })
})
