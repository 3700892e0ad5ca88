/**
 * The one place that picks the store from DATABASE_URL: the server, the CLI and the demo all open
 * theirs here.
 */
import { ConfigError, type Config } from '../config.ts'
import type { Logger } from '../log.ts'
import { describePostgresUrl, openPostgresStore, postgresSecrets } from './postgres.ts'
import { openSqliteStore } from './sqlite.ts'
import type { Store } from './store.ts'

/**
 * Opens and migrates the configured store; a PostgreSQL one that cannot be reached rejects with
 * StoreUnavailable, an SQLite file that cannot be used with a ConfigError naming DATABASE_URL.
 */
export async function openStore(database: Config['database'], options: { log?: Logger } = {}): Promise<Store> {
  if (database.kind === 'postgres') return openPostgresStore({ ...database, log: options.log })
  try {
    return openSqliteStore(database.path)
  } catch (err) {
    // SQLite's words ("file is not a database", "unable to open database file") name neither file nor variable.
    throw new ConfigError(`DATABASE_URL sqlite:${database.path} cannot be used: ${(err as Error).message}`)
  }
}

/** The database as logs and the console may name it: the SQLite file's path, or the PostgreSQL URL without its password. */
export const describeDatabase = (database: Config['database']) =>
  database.kind === 'sqlite' ? database.path : describePostgresUrl(database.url)

/** What a logger must redact for this database: the password in a PostgreSQL URL. */
export const databaseSecrets = (database: Config['database']) => (database.kind === 'sqlite' ? [] : postgresSecrets(database.url))
