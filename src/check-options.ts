/** Each option's rule for its trimmed text form (an empty value means the default), and what it expects. */
export type Rules<O> = Record<keyof O, [RegExp, string]>

/**
 * Checks each option against its rule and returns the good ones as trimmed text; a bad one is reported
 * to `bad` (with the message naming it) and left out, so its default applies. Shared by the loader and
 * the panel, each with its own rules.
 */
export function checkOptions<O extends object>(options: O, rules: Rules<O>, bad: (name: keyof O, message: string) => void) {
  const value: Partial<Record<keyof O, string>> = {}
  for (const [name, given] of Object.entries(options) as [keyof O, unknown][]) {
    if (given == null) continue
    let raw: unknown = given
    // `data-open` with no value means true, as HTML boolean attributes do; init() may pass booleans.
    if (name === 'open') raw = raw === '' ? 'true' : String(raw)
    // false: not text at all.
    const text = typeof raw === 'string' && raw.trim()
    if (text === false || (text && !rules[name][0].test(text))) {
      bad(name, `${problem(String(name), text === false ? 'a string' : rules[name][1], given)}; using the default`)
    } else if (text) value[name] = text
  }
  return value
}

/** The message that names a bad option, what it must be, and what it got (cut short). */
export function problem(name: string, rule: string, value: unknown): string {
  const shown = typeof value === 'string' && value.length > 40 ? `${value.slice(0, 40)}…` : value
  return `"${name}" must be ${rule} (got ${JSON.stringify(shown) ?? String(shown)})`
}
