/** scrypt passwords (passwords.ts): the stored form, verification, the NIST length rule. */
import { describe, expect, it } from 'vitest'
import { hashPassword, passwordProblem, verifyPassword } from '../../server/passwords.ts'

describe('passwords', () => {
  it('stores scrypt with its parameters and a fresh salt, and verifies only the same password', async () => {
    const [first, second] = await Promise.all([hashPassword('correct horse battery'), hashPassword('correct horse battery')])
    expect(first).toMatch(/^scrypt\$32768\$8\$3\$[\w-]{22}\$[\w-]{43}$/)
    expect(first).not.toBe(second)
    expect(first).not.toContain('correct horse')
    expect(await verifyPassword('correct horse battery', first)).toBe(true)
    expect(await verifyPassword('correct horse batter', first)).toBe(false)
    expect(await verifyPassword('Correct horse battery', first)).toBe(false)
  })

  it('checks two at a time with 20 waiting, and refuses more at once with 503 and Retry-After rather than queueing', async () => {
    const stored = await hashPassword('correct horse battery')
    const checks = await Promise.allSettled(Array.from({ length: 40 }, () => verifyPassword('wrong horse battery', stored)))
    const refused = checks.filter((check) => check.status === 'rejected')
    expect(checks.filter((check) => check.status === 'fulfilled' && check.value === false)).toHaveLength(22)
    expect(refused).toHaveLength(18)
    for (const check of refused)
      expect(check.reason).toMatchObject({ status: 503, code: 'password_check_busy', headers: { 'retry-after': '2' } })
    // The queue drained: a check now runs.
    expect(await verifyPassword('correct horse battery', stored)).toBe(true)
    // Making a hash waits its turn however long the line (it follows a spent link or a new account).
    const made = await Promise.all(Array.from({ length: 30 }, () => hashPassword('correct horse battery')))
    expect(made.every((hash) => hash.startsWith('scrypt$'))).toBe(true)
  }, 30_000)

  it('treats the same text in another Unicode normal form as the same password', async () => {
    const composed = 'café café café'
    expect(await verifyPassword(composed.normalize('NFD'), await hashPassword(composed))).toBe(true)
  })

  it.each(['', 'plain', 'bcrypt$x$y', 'scrypt$32768$8$3$$', 'scrypt$32768$8$3$c2FsdA$'])(
    'matches nothing against a malformed hash %j',
    async (stored) => {
      expect(await verifyPassword('anything at all', stored)).toBe(false)
    },
  )

  it.each<[unknown, string | undefined]>([
    ['123456789', 'The password must have at least 10 characters'],
    ['1234567890', undefined],
    ['😀'.repeat(10), undefined],
    ['x'.repeat(1025), 'The password must have at most 1024 characters'],
    [1234567890, 'The password must be text'],
    [undefined, 'The password must be text'],
  ])('judges %j: %s', (password, problem) => {
    expect(passwordProblem(password)).toBe(problem)
  })
})
