/**
 * The one place that picks the store from DATABASE_URL: the server, the CLI and the demo all open
 * theirs here.
 */
import type { Config } from '../config.ts'
import type { Logger } from '../log.ts'
import { describePostgresUrl, openPostgresStore, postgresSecrets } from './postgres.ts'
import { openSqliteStore } from './sqlite.ts'
import type { Store } from './store.ts'

/** Opens and migrates the configured store; a PostgreSQL one that cannot be reached rejects with StoreUnavailable. */
export async function openStore(database: Config['database'], options: { log?: Logger } = {}): Promise<Store> {
  return database.kind === 'sqlite' ? openSqliteStore(database.path) : openPostgresStore({ ...database, log: options.log })
}

/** The database as logs and the console may name it: the SQLite file's path, or the PostgreSQL URL without its password. */
export const describeDatabase = (database: Config['database']) =>
  database.kind === 'sqlite' ? database.path : describePostgresUrl(database.url)

/** What a logger must redact for this database: the password in a PostgreSQL URL. */
export const databaseSecrets = (database: Config['database']) => (database.kind === 'sqlite' ? [] : postgresSecrets(database.url))
