/**
 * PostgreSQL for tests, on the shared server (127.0.0.1:5432, database `test`, or TEST_POSTGRES_URL):
 * each caller gets a fresh database of its own, created through `test` and dropped afterwards, so
 * runs never see each other. When PostgreSQL is not running: with CI set, importing this fails with
 * how to start it; without, `describePostgres` skips with a warning.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { describe } from 'vitest'

/** The database the test databases are created through. */
export const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const HOW_TO_START = 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'

/** Runs one statement on the `test` database, on a connection of its own. */
async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query(sql)
  } finally {
    await client.end().catch(() => {})
  }
}

async function unreachableBecause(): Promise<string | undefined> {
  try {
    await admin('SELECT 1')
    return undefined
  } catch (err) {
    return (err as Error).message || (err as Error).name
  }
}

const unreachable = await unreachableBecause()
if (unreachable && process.env.CI) {
  throw new Error(`PostgreSQL is not reachable at ${ADMIN_URL} (${unreachable}); start it with: ${HOW_TO_START}`)
}
if (unreachable) {
  console.warn(`\n⚠ SKIPPING the PostgreSQL tests: nothing answers at ${ADMIN_URL} (${unreachable}).\n  Start it with: ${HOW_TO_START}\n`)
}

/** Whether PostgreSQL answered when this module loaded. */
export const hasPostgres = unreachable === undefined

/** `describe`, or `describe.skip` when PostgreSQL is not running (the warning above says so). */
export const describePostgres = hasPostgres ? describe : describe.skip

export interface TestDatabase {
  name: string
  /** postgres://… for this database alone. */
  url: string
  /** Drops it, ending any connection still open on it. */
  drop(): Promise<void>
}

/** Creates a fresh, empty database. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `assisters_test_${randomBytes(6).toString('hex')}`
  await admin(`CREATE DATABASE ${name}`)
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  return { name, url: url.href, drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) }
}
