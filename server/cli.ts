/**
 * The key-management CLI (`npm run --silent assisters -- <args>`): the same management code as the
 * admin API, on the database at DATABASE_URL. `--json` prints only JSON (errors included, on
 * stderr); the exit status is 0 on success, 1 when the request is refused, 2 for a usage mistake.
 */
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from './config.ts'
import { withUrl } from './admin.ts'
import { HttpError } from './errors.ts'
import { createManagement, type KeyView, type Management } from './management.ts'
import { copyDatabase, CopyRefused, type CopyReport } from './store/copy.ts'
import { openStore } from './store/open.ts'
import { StoreUnavailable } from './store/store.ts'

const USAGE = `Usage: assisters <command> [options]

  accounts create --name NAME
  accounts list
  accounts update ACCOUNT_ID [--name NAME] [--daily-tokens N|none]
  keys create --account ID --name NAME [--domains a.com,*.b.com] [--rpm N] [--instructions TEXT] [LIMITS]
  keys list --account ID
  keys update KEY_ID [--name NAME] [--domains a.com,*.b.com] [--rpm N|default] [--instructions TEXT] [LIMITS]
                      (--domains "" allows every origin; --instructions "" removes them)
      LIMITS: [--visitor-rpm N|default] (0: none)  [--daily-tokens N|none]  [--system-messages allow|refuse]
  keys revoke KEY_ID
  keys primary KEY_ID
  usage --account ID
  owners create --account ID --email EMAIL    prints a one-time link to set the password (24 h)
  owners list --account ID
  owners link --email EMAIL                   a new one-time link for an owner (a forgotten password)
  owners remove OWNER_ID                      the owner can no longer sign in; their sessions end
  db copy --from sqlite:PATH    copy everything into the empty PostgreSQL database at DATABASE_URL

Every command takes --json for machine-readable output.
The database is DATABASE_URL (default sqlite:data/assisters.db).`

class UsageError extends Error {}

interface Output {
  json: unknown
  text: string
}

const OPTIONS = {
  name: { type: 'string' },
  account: { type: 'string' },
  domains: { type: 'string' },
  rpm: { type: 'string' },
  'visitor-rpm': { type: 'string' },
  'daily-tokens': { type: 'string' },
  'system-messages': { type: 'string' },
  from: { type: 'string' },
  instructions: { type: 'string' },
  email: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values']

/** Runs one command line; returns the exit status. */
export async function runCli(
  argv: string[],
  env: Record<string, string | undefined>,
  io: { out: (text: string) => void; err: (text: string) => void },
): Promise<number> {
  let json = argv.includes('--json')
  try {
    const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true })
    json = values.json
    if (values.help) {
      io.out(USAGE + '\n')
      return 0
    }
    // A mistake like any other: on stderr (as JSON with --json), so stdout stays clean for scripts.
    if (positionals.length === 0) throw new UsageError('No command given')
    // Only what the CLI uses: a server-only setting (say a short ADMIN_TOKEN) must not stop it.
    const config = loadConfig({
      PUBLIC_URL: env.PUBLIC_URL,
      DATABASE_URL: env.DATABASE_URL,
      DATABASE_POOL_SIZE: env.DATABASE_POOL_SIZE,
      DATABASE_STATEMENT_TIMEOUT_MS: env.DATABASE_STATEMENT_TIMEOUT_MS,
      RATE_LIMIT_RPM: env.RATE_LIMIT_RPM,
    })
    if (`${positionals[0]} ${positionals[1]}` === 'db copy') {
      if (positionals.length > 2) throw new UsageError(`Unexpected argument '${positionals[2]}'`)
      const from = loadConfig({ DATABASE_URL: required(values.from, '--from') }).database
      const report = await copyDatabase(from, config.database)
      io.out(json ? JSON.stringify(report, null, 2) + '\n' : describeCopy(report) + '\n')
      return 0
    }
    const store = await openStore(config.database)
    try {
      const management = createManagement({ store, defaultRpm: config.rateLimitRpm, defaultVisitorRpm: config.visitorRpm })
      // Links start where browsers reach the server: PUBLIC_URL, or this machine's PORT.
      const port = env.PORT?.trim() ?? ''
      const linkBase = config.publicUrl ?? `http://localhost:${/^\d{1,5}$/.test(port) ? port : 8787}`
      const result = await dispatch(management, positionals, values, linkBase)
      io.out(json ? JSON.stringify(result.json, null, 2) + '\n' : result.text + '\n')
      return 0
    } finally {
      await store.close()
    }
  } catch (err) {
    const [status, error] =
      err instanceof HttpError
        ? [1, err.toJSON()]
        : err instanceof ConfigError
          ? [1, { error: { message: err.message, type: 'config_error', code: 'invalid_config' } }]
          : err instanceof StoreUnavailable
            ? [1, { error: { message: err.message, type: 'api_error', code: 'store_unavailable' } }]
            : err instanceof CopyRefused
              ? [1, { error: { message: err.message, type: 'invalid_request_error', code: err.code } }]
              : err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
                ? [2, { error: { message: (err as Error).message, type: 'usage_error', code: 'invalid_arguments' } }]
                : [1, { error: { message: (err as Error).message, type: 'api_error', code: 'internal_error' } }]
    const { message, param } = error.error as { message: string; param?: string }
    io.err(
      json ? JSON.stringify(error) + '\n' : `assisters: ${message}${param ? ` (${param})` : ''}\n${status === 2 ? `\n${USAGE}\n` : ''}`,
    )
    return status
  }
}

async function dispatch(management: Management, positionals: string[], values: Values, linkBase: string): Promise<Output> {
  const [noun, verb, id, ...extra] = positionals
  const command = `${noun} ${verb ?? ''}`.trim()
  const takesId = ['keys revoke', 'keys primary', 'keys update', 'accounts update', 'owners remove'].includes(command)
  if (extra.length > 0 || (id !== undefined && !takesId)) throw new UsageError(`Unexpected argument '${extra[0] ?? id}'`)

  switch (command) {
    case 'accounts create': {
      const account = await management.createAccount({ name: values.name })
      return { json: account, text: `Created account ${account.id} (${account.name})` }
    }
    case 'keys create': {
      const key = await management.createKey(required(values.account, '--account'), {
        name: values.name,
        // Empty entries are passed on, so `--domains ""` is refused rather than read as "any origin".
        allowed_domains: values.domains?.split(','),
        rate_limit_rpm: values.rpm === undefined ? undefined : rpm(values.rpm),
        instructions: values.instructions,
        ...limitsFrom(values),
      })
      return {
        json: key,
        text: `${describe(key)}\n\n  ${key.key}\n\nThis is the only time the full key is shown: store it now.`,
      }
    }
    case 'accounts list': {
      const accounts = await management.listAccounts()
      return {
        json: { data: accounts },
        text: accounts.length ? accounts.map((a) => `${a.id}  ${a.name}  created ${a.created_at}`).join('\n') : 'No accounts yet.',
      }
    }
    case 'keys update': {
      // Only the options given are changed; an empty --domains or --instructions clears them.
      const changes = {
        ...(values.name !== undefined && { name: values.name }),
        ...(values.domains !== undefined && { allowed_domains: values.domains === '' ? [] : values.domains.split(',') }),
        ...(values.rpm !== undefined && { rate_limit_rpm: values.rpm === 'default' ? null : rpm(values.rpm) }),
        ...(values.instructions !== undefined && { instructions: values.instructions }),
        ...limitsFrom(values),
      }
      if (Object.keys(changes).length === 0) {
        throw new UsageError(
          'keys update needs at least one of --name, --domains, --rpm, --instructions, --visitor-rpm, --daily-tokens, --system-messages',
        )
      }
      const key = await management.updateKey(required(id, 'KEY_ID'), changes)
      return { json: key, text: `Updated ${describe(key)}` }
    }
    case 'accounts update': {
      const changes = {
        ...(values.name !== undefined && { name: values.name }),
        ...(values['daily-tokens'] !== undefined && { daily_token_limit: wholeOr(values['daily-tokens'], '--daily-tokens', 'none') }),
      }
      if (Object.keys(changes).length === 0) throw new UsageError('accounts update needs at least one of --name, --daily-tokens')
      const account = await management.updateAccount(required(id, 'ACCOUNT_ID'), changes)
      const budget = account.daily_token_limit === null ? 'no daily token budget' : `${account.daily_token_limit} tokens a day`
      return { json: account, text: `Updated ${account.id}  ${account.name}  ${budget}` }
    }
    case 'owners create': {
      const link = withUrl(await management.createOwner(required(values.account, '--account'), { email: values.email }), linkBase)
      return { json: link, text: describeLink(`Created owner ${link.owner.email} (${link.owner.id}).`, link) }
    }
    case 'owners link': {
      const link = withUrl(await management.newPasswordLink({ email: values.email }), linkBase)
      return { json: link, text: describeLink(`A new link for ${link.owner.email}.`, link) }
    }
    case 'owners list': {
      const owners = await management.listOwners(required(values.account, '--account'))
      const text = owners.map((o) => `${o.id}  ${o.email}  ${o.password_set ? 'password set' : 'waiting for the set-password link'}`)
      return { json: { data: owners }, text: text.length ? text.join('\n') : 'No owners yet.' }
    }
    case 'owners remove': {
      const owner = await management.removeOwner(required(id, 'OWNER_ID'))
      return { json: owner, text: `Removed owner ${owner.email} (${owner.id}): their sessions have ended.` }
    }
    case 'keys list': {
      const keys = await management.listKeys(required(values.account, '--account'))
      return { json: { data: keys }, text: keys.length ? keys.map(describe).join('\n') : 'No keys yet.' }
    }
    case 'keys revoke': {
      const key = await management.revokeKey(required(id, 'KEY_ID'))
      return { json: key, text: `Revoked ${describe(key)}` }
    }
    case 'keys primary': {
      const key = await management.makePrimary(required(id, 'KEY_ID'))
      return { json: key, text: `Primary is now ${describe(key)}` }
    }
    case 'usage': {
      const rows = await management.usage(required(values.account, '--account'))
      const text = rows.map(
        (row) =>
          `${row.day}  ${row.key_id}  ${row.requests} request${row.requests === 1 ? '' : 's'}  ` +
          `${row.prompt_tokens} prompt + ${row.completion_tokens} completion tokens`,
      )
      return { json: { data: rows }, text: text.length ? text.join('\n') : 'No usage yet.' }
    }
    default:
      throw new UsageError(`Unknown command '${command}'`)
  }
}

function required(value: string | undefined, name: string): string {
  if (!value) throw new UsageError(`${name} is required`)
  return value
}

function rpm(text: string): number {
  // Passed on as a number so the management layer's own check (and message) applies.
  if (!/^\d+$/.test(text)) throw new UsageError(`--rpm must be a whole number, got '${text.slice(0, 20)}'`)
  return Number(text)
}

/** A whole number, or the `word` (default, none) that stands for null; checked for range by the management layer. */
function wholeOr(text: string, option: string, word: string): number | null {
  if (text === word) return null
  if (!/^\d+$/.test(text)) throw new UsageError(`${option} must be a whole number or '${word}', got '${text.slice(0, 20)}'`)
  return Number(text)
}

/** The limit options as management fields; only those given. */
function limitsFrom(values: Values) {
  const system = values['system-messages']
  if (system !== undefined && system !== 'allow' && system !== 'refuse') {
    throw new UsageError(`--system-messages must be 'allow' or 'refuse', got '${system.slice(0, 20)}'`)
  }
  return {
    ...(values['visitor-rpm'] !== undefined && { visitor_rpm: wholeOr(values['visitor-rpm'], '--visitor-rpm', 'default') }),
    ...(values['daily-tokens'] !== undefined && { daily_token_limit: wholeOr(values['daily-tokens'], '--daily-tokens', 'none') }),
    ...(system !== undefined && { allow_system_messages: system === 'allow' }),
  }
}

function describeLink(headline: string, link: ReturnType<typeof withUrl>): string {
  return `${headline} Send them this link to set their password and sign in; it works once, until ${link.expires_at}:\n\n  ${link.set_password_url}`
}

function describeCopy(report: CopyReport): string {
  return [
    `Copied ${report.from} into ${report.to}:`,
    `  ${report.accounts} accounts`,
    `  ${report.keys} keys`,
    `  ${report.usage_rows} usage rows (${report.requests} requests, ${report.prompt_tokens} prompt + ` +
      `${report.completion_tokens} completion tokens)`,
    `  ${report.owners} dashboard owners`,
  ].join('\n')
}

function describe(key: KeyView): string {
  const flags = [key.is_primary && 'primary', key.revoked_at && `revoked ${key.revoked_at}`].filter(Boolean).join(', ')
  const domains = key.allowed_domains.length ? key.allowed_domains.join(' ') : 'any origin'
  const limits = [
    `${key.rate_limit_rpm}/min`,
    key.visitor_rpm ? `${key.visitor_rpm}/min per visitor` : 'no visitor limit',
    key.daily_token_limit !== null && `${key.daily_token_limit} tokens/day`,
    !key.allow_system_messages && 'system messages refused',
  ]
  return `${key.id}  ${key.prefix}…  ${key.name}${flags ? `  [${flags}]` : ''}  ${domains}  ${limits.filter(Boolean).join(', ')}`
}

// Run only when executed, not when imported by tests.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runCli(process.argv.slice(2), process.env, {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  })
}
