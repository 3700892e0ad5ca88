/**
 * The origin and refusal recorder (activity.ts) over a real SQLite store: what one key's flood of
 * made-up Origins can and cannot push out before a flush.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { createActivityRecorder, MAX_ORIGINS_PER_KEY } from '../../server/activity.ts'
import { generateKey, hashKey, keyPrefix } from '../../server/keys.ts'
import { createLogger } from '../../server/log.ts'
import { openSqliteStore } from '../../server/store/sqlite.ts'
import type { Store } from '../../server/store/store.ts'

const dirs: string[] = []
const stores: Store[] = []
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

async function storeWithKeys(count: number) {
  const dir = mkdtempSync(join(tmpdir(), 'assisters-activity-'))
  dirs.push(dir)
  const store = openSqliteStore(join(dir, 'test.db'))
  stores.push(store)
  await store.createAccount('acct_1', 'A')
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    const key = generateKey()
    const record = await store.createKey(
      `key_${i}`,
      {
        accountId: 'acct_1',
        name: `key ${i}`,
        hash: hashKey(key),
        prefix: keyPrefix(key),
        allowedDomains: [],
        rateLimitRpm: null,
        visitorRpm: null,
        dailyTokenLimit: null,
        allowSystemMessages: true,
        instructions: null,
      },
      10,
    )
    ids.push(record.id)
  }
  return { store, ids }
}

it("keeps at most the bound of one key's origins until the flush, the most recently seen, so a flood cannot crowd out another key's", async () => {
  const { store, ids } = await storeWithKeys(2)
  const [flooded, quiet] = ids as [string, string]
  const recorder = createActivityRecorder(store, createLogger({ write: () => {} }), { flushMs: 3_600_000 })
  recorder.origin(flooded, ['https://real.example'], true)
  for (let i = 0; i < 20_000; i++) recorder.origin(flooded, [`https://made-up-${i}.example`], false)
  recorder.origin(flooded, ['https://real.example'], true)
  recorder.origin(quiet, ['https://quiet.example'], true)
  await recorder.close()
  const { origins } = await store.activity('acct_1')
  const ofFlooded = origins.filter((row) => row.key_id === flooded)
  expect(ofFlooded).toHaveLength(MAX_ORIGINS_PER_KEY)
  expect(ofFlooded.find((row) => row.origin === 'https://real.example')).toMatchObject({ allowed: true, requests: 1 })
  expect(origins.filter((row) => row.key_id === quiet).map((row) => row.origin)).toEqual(['https://quiet.example'])
}, 30_000)
