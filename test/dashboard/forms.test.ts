/**
 * The dashboard's form logic without a browser: typed numbers into what the API takes, a key's
 * settings into the form and back (so Edit sends only what changed), and refusals counted by reason.
 */
import { describe, expect, it } from 'vitest'
import type { Key } from '../../dashboard/api.ts'
import { fieldsOf, keyErrorsFrom, NEW_KEY_FIELDS, toKeyInput } from '../../dashboard/components/KeyForm.tsx'
import { ApiError } from '../../dashboard/api.ts'
import { splitLines, startersProblem, wholeFrom } from '../../dashboard/format.ts'
import { refusalSeries, type RefusalRow } from '../../dashboard/usage.ts'

const key = (fields: Partial<Key> = {}): Key => ({
  id: 'key_1',
  name: 'Shop',
  prefix: 'ask_abcdefgh',
  is_primary: true,
  allowed_domains: ['shop.example'],
  rate_limit_rpm: 60,
  visitor_rpm: 20,
  visitor_rpm_is_default: true,
  daily_token_limit: null,
  allow_system_messages: true,
  instructions: null,
  created_at: '2026-12-01T00:00:00.000Z',
  last_used_at: null,
  revoked_at: null,
  ...fields,
})

describe('a whole number typed into a form', () => {
  it.each([
    ['', null],
    ['  ', null],
    ['0', 0],
    ['250000', 250_000],
    [' 100,000 ', 100_000],
    ['1_000', 1000],
    ['1 000', 1000],
    // Not a whole number: sent as typed, for the server to refuse naming the field.
    ['lots', 'lots'],
    ['1.5', '1.5'],
    ['-3', '-3'],
    ['1e3', '1e3'],
  ])('reads %j as %j', (typed, expected) => {
    expect(wholeFrom(typed)).toBe(expected)
  })
})

describe('starter questions on the Embed page', () => {
  it('takes one per line, commas and all', () => {
    expect(splitLines(' Pricing, roughly? \n\nOpening hours?\n')).toEqual(['Pricing, roughly?', 'Opening hours?'])
  })

  it.each([
    [['A', 'B', 'C', 'D', 'E', 'F', 'G'], 'Up to 6 starter questions (here 7).'],
    [['x'.repeat(201)], /up to 200 characters/],
    [['Tea|coffee?'], /no "\|" \("Tea\|coffee\?…" does not\)/],
  ])('says why the widget would show none of %j', (starters, problem) => {
    expect(startersProblem(starters)).toMatch(problem)
  })

  it('has nothing to say of what the widget shows', () => {
    expect(startersProblem(['A', 'B', 'C', 'D', 'E', 'x'.repeat(200)])).toBe('')
    expect(startersProblem([])).toBe('')
  })
})

describe("a key's limits in the form", () => {
  it('creates a key at every default: the server decides, system messages accepted', () => {
    expect(toKeyInput({ ...NEW_KEY_FIELDS, name: 'Shop' })).toEqual({
      name: 'Shop',
      allowed_domains: [],
      rate_limit_rpm: null,
      visitor_rpm: null,
      daily_token_limit: null,
      allow_system_messages: true,
      instructions: null,
    })
  })

  it.each([
    ['the server default', 'default', '7', null],
    ['no limit', 'none', '7', 0],
    ['a number', 'custom', '7', 7],
    // Left empty, "a number" is an error to show, never "no limit".
    ['a number left empty', 'custom', '', ''],
  ] as const)('sends %s per visitor as %j', (_case, visitorMode, visitorRpm, expected) => {
    expect(toKeyInput({ ...NEW_KEY_FIELDS, visitorMode, visitorRpm }).visitor_rpm).toBe(expected)
  })

  it.each([
    ['following the default', key(), { visitor_rpm: null, daily_token_limit: null, allow_system_messages: true }],
    ['with no visitor limit', key({ visitor_rpm: 0, visitor_rpm_is_default: false }), { visitor_rpm: 0 }],
    [
      'with its own limits',
      key({ visitor_rpm: 5, visitor_rpm_is_default: false, daily_token_limit: 9000 }),
      { visitor_rpm: 5, daily_token_limit: 9000 },
    ],
    ['refusing system messages', key({ allow_system_messages: false }), { allow_system_messages: false }],
    // A key without domains follows a default of none: still the default, not an explicit 0.
    ['without domains, following the default', key({ allowed_domains: [], visitor_rpm: 0 }), { visitor_rpm: null }],
  ])('shows a key %s as it is stored, so an untouched form changes nothing', (_case, record, stored) => {
    expect(toKeyInput(fieldsOf(record))).toMatchObject(stored)
  })

  it('puts an error under the field the server names, or under the form', () => {
    expect(keyErrorsFrom(new ApiError(400, 'invalid_body', 'too many', 'daily_token_limit'))).toEqual({ daily_token_limit: 'too many' })
    expect(keyErrorsFrom(new ApiError(400, 'invalid_body', 'no', 'visitor_rpm'))).toEqual({ visitor_rpm: 'no' })
    expect(keyErrorsFrom(new ApiError(409, 'key_limit_reached', 'full'))).toEqual({ form: 'full' })
    expect(keyErrorsFrom(new Error('x'))).toEqual({ form: expect.any(String) })
  })
})

describe('refusals by reason', () => {
  const days = ['2026-12-02', '2026-12-03']
  const rows: RefusalRow[] = [
    { key_id: 'key_1', day: '2026-12-02', reason: 'visitor_rate_limited', count: 3 },
    { key_id: 'key_1', day: '2026-12-03', reason: 'daily_token_limit', count: 2 },
    { key_id: 'key_2', day: '2026-12-03', reason: 'too_many_streams', count: 1 },
    { key_id: 'key_2', day: '2026-12-03', reason: 'rate_limited', count: 4 },
    // Older than the window: counted nowhere.
    { key_id: 'key_1', day: '2026-11-01', reason: 'origin_not_allowed', count: 9 },
  ]

  it('counts issue 16 refusals per day and per reason, for all keys or one', () => {
    expect(refusalSeries(rows, days)).toEqual({
      perDay: [
        { day: '2026-12-02', value: 3 },
        { day: '2026-12-03', value: 7 },
      ],
      byReason: {
        origin_not_allowed: 0,
        rate_limited: 4,
        key_revoked: 0,
        visitor_rate_limited: 3,
        daily_token_limit: 2,
        too_many_streams: 1,
      },
    })
    expect(refusalSeries(rows, days, 'key_1').byReason).toMatchObject({
      visitor_rate_limited: 3,
      daily_token_limit: 2,
      too_many_streams: 0,
    })
  })

  it("counts a reason this page does not know in the day's total only", () => {
    const unknown = [{ key_id: 'key_1', day: '2026-12-03', reason: 'something_new', count: 5 }] as unknown as RefusalRow[]
    const series = refusalSeries(unknown, days)
    expect(series.perDay[1]).toEqual({ day: '2026-12-03', value: 5 })
    expect(Object.keys(series.byReason)).not.toContain('something_new')
  })
})
