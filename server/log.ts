/**
 * Structured logs: one JSON object per line. Callers pass ids and prefixes, never keys; `redact`
 * is the last guard for text that came from elsewhere (an upstream error, an exception message).
 */
import { bufferedStdout } from './log-buffer.ts'

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
}

type Level = 'info' | 'warn' | 'error'

// Assisters keys and Bearer tokens of any kind; an upstream key may have any shape, so it is also
// redacted by its exact value. `ask_…` counts when no letter or digit comes before it (`key=ask_…`,
// `"ask_…`, `my_ask_…`), so words such as Node's `task_queues` stay readable, and whatever its
// neighbours when it is as long as a key (`ask_` and 32 or more: a real key glued after `%3D`, say).
// A token stops at a quote or backslash: redact() runs over JSON text, where `\S+` ran on through
// the string's closing quote to the end of the line, leaving a log line that was no longer JSON.
const SECRET = /(?<![0-9A-Za-z])ask_[0-9A-Za-z]+|ask_[0-9A-Za-z]{32,}|\b(Bearer\s+)[^\s"\\]+/g

/** Hides anything that looks like a key, and each exact secret given (such as the upstream key). */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(SECRET, (_match, bearer?: string) => (bearer ? `${bearer}[redacted]` : 'ask_[redacted]'))
  for (const secret of secrets) if (secret) out = out.split(secret).join('[redacted]')
  return out
}

/**
 * A logger writing JSON lines to `write`, redacting the given secrets. By default lines go to stdout
 * in batches (log-buffer.ts), a warning or an error at once; `write` gets every line as it comes.
 */
export function createLogger(options: { write?: (line: string, urgent: boolean) => void; secrets?: readonly string[] } = {}): Logger {
  const stdout = options.write ? undefined : bufferedStdout()
  const write = options.write ?? ((line: string, urgent: boolean) => stdout!.write(line, urgent))
  const secrets = options.secrets ?? []
  const emit = (level: Level, msg: string, fields: Record<string, unknown> = {}) => {
    const entry: Record<string, unknown> = { time: new Date().toISOString(), level, msg }
    for (const [name, value] of Object.entries(fields)) entry[name] = toLoggable(value)
    write(`${redact(JSON.stringify(entry), secrets)}\n`, level !== 'info')
  }
  return {
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
  }
}

// Errors do not serialise by themselves; keep the name, message and stack (logs are server-side).
const toLoggable = (value: unknown) => (value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value)
