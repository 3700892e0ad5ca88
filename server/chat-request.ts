/**
 * The server-side policy on chat requests: only the public model, only known fields, a bounded
 * conversation, capped output, and the key owner's instructions first. What leaves here is the
 * body sent upstream (less the model, which the upstream decides).
 */
import { invalidBody, modelNotFound } from './errors.ts'
import type { Config } from './config.ts'

export const PUBLIC_MODEL = 'assisters-chat-v1'

export interface ChatRequest {
  stream: boolean
  /** The client asked for a usage chunk at the end of the stream (we always ask the upstream). */
  clientWantsUsage: boolean
  /** The upstream body without `model`. */
  body: Record<string, unknown>
}

type Limits = Config['limits']

const ROLES = new Set(['system', 'user', 'assistant'])
const MESSAGE_FIELDS = new Set(['role', 'content', 'name'])

/** Checks a parsed JSON body against the policy; throws 400 with the offending `param`. */
export function toChatRequest(input: unknown, limits: Limits, instructions: string | null): ChatRequest {
  if (!isObject(input)) throw invalidBody('body', 'The request body must be a JSON object')
  const body: Record<string, unknown> = {}

  for (const [field, value] of Object.entries(input)) {
    // Own properties only: `__proto__` or `constructor` must not find something on Object.prototype.
    const check = Object.hasOwn(FIELDS, field) ? FIELDS[field] : undefined
    if (!check) throw invalidBody(field, `Unrecognized request argument supplied: ${field.slice(0, 64)}`)
    const accepted = check(value, limits)
    if (accepted !== undefined) body[field] = accepted
  }
  if (input.model === undefined) throw invalidBody('model', `model is required; use '${PUBLIC_MODEL}'`)
  if (input.messages === undefined) throw invalidBody('messages', 'messages is required')
  if (body.stream_options !== undefined && body.stream !== true) {
    throw invalidBody('stream_options', 'stream_options is only allowed when stream is true')
  }

  const stream = body.stream === true
  const clientWantsUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true
  delete body.model
  // max_completion_tokens is OpenAI's newer name; send the one name every compatible server knows.
  const asked = (body.max_completion_tokens ?? body.max_tokens) as number | undefined
  delete body.max_completion_tokens
  body.max_tokens = Math.min(asked ?? limits.maxOutputTokens, limits.maxOutputTokens)
  if (stream) body.stream_options = { include_usage: true }
  if (instructions) body.messages = [{ role: 'system', content: instructions }, ...(body.messages as unknown[])]
  return { stream, clientWantsUsage, body }
}

type FieldCheck = (value: unknown, limits: Limits) => unknown

const FIELDS: Record<string, FieldCheck> = {
  model: (value) => {
    if (typeof value !== 'string') throw invalidBody('model', `model must be the string '${PUBLIC_MODEL}'`)
    if (value !== PUBLIC_MODEL) throw modelNotFound(value, PUBLIC_MODEL)
    return value
  },
  messages: (value, limits) => messagesFrom(value, limits),
  stream: (value) => boolean('stream', value),
  stream_options: (value) => {
    if (!isObject(value) || Object.keys(value).some((k) => k !== 'include_usage')) {
      throw invalidBody('stream_options', 'stream_options may only hold include_usage')
    }
    if (value.include_usage !== undefined) boolean('stream_options.include_usage', value.include_usage)
    return value
  },
  max_tokens: (value) => count('max_tokens', value),
  max_completion_tokens: (value) => count('max_completion_tokens', value),
  temperature: (value) => number('temperature', value, 0, 2),
  top_p: (value) => number('top_p', value, 0, 1),
  presence_penalty: (value) => number('presence_penalty', value, -2, 2),
  frequency_penalty: (value) => number('frequency_penalty', value, -2, 2),
  seed: (value) => {
    if (!Number.isSafeInteger(value)) throw invalidBody('seed', 'seed must be a whole number')
    return value
  },
  n: (value) => {
    if (value !== 1) throw invalidBody('n', 'n must be 1')
    return undefined
  },
  stop: (value) => {
    const stops = typeof value === 'string' ? [value] : value
    if (!Array.isArray(stops) || stops.length > 4 || stops.some((s) => typeof s !== 'string' || s.length > 256)) {
      throw invalidBody('stop', 'stop must be a string or a list of at most 4 strings')
    }
    return value
  },
  user: (value) => {
    if (typeof value !== 'string' || value.length > 256) throw invalidBody('user', 'user must be text of at most 256 characters')
    return value
  },
}

function messagesFrom(value: unknown, limits: Limits) {
  if (!Array.isArray(value) || value.length === 0) {
    throw invalidBody('messages', 'messages must be a non-empty list of messages')
  }
  if (value.length > limits.maxMessages) {
    throw invalidBody('messages', `messages holds at most ${limits.maxMessages} messages`)
  }
  return value.map((message: unknown, index) => {
    const param = `messages[${index}]`
    if (!isObject(message)) throw invalidBody(param, `${param} must be an object with role and content`)
    for (const field of Object.keys(message)) {
      if (!MESSAGE_FIELDS.has(field)) throw invalidBody(`${param}.${field.slice(0, 40)}`, `${param} has an unsupported field '${field.slice(0, 40)}'`)
    }
    if (typeof message.role !== 'string' || !ROLES.has(message.role)) {
      throw invalidBody(`${param}.role`, `${param}.role must be one of ${[...ROLES].join(', ')}`)
    }
    const content = textOf(message.content, `${param}.content`)
    if (content.length > limits.maxMessageChars) {
      throw invalidBody(`${param}.content`, `${param}.content is longer than ${limits.maxMessageChars} characters`)
    }
    if (message.name !== undefined && (typeof message.name !== 'string' || !/^[\w-]{1,64}$/.test(message.name))) {
      throw invalidBody(`${param}.name`, `${param}.name must be 1 to 64 letters, digits, _ or -`)
    }
    return { role: message.role, content, ...(message.name === undefined ? {} : { name: message.name }) }
  })
}

/** A string, or OpenAI's list of text parts flattened to one string (every upstream reads that). */
function textOf(content: unknown, param: string): string {
  if (typeof content === 'string') return content
  if (Array.isArray(content) && content.every((part) => isObject(part) && part.type === 'text' && typeof part.text === 'string')) {
    return content.map((part) => (part as { text: string }).text).join('\n')
  }
  throw invalidBody(param, `${param} must be a string or a list of text parts`)
}

function boolean(param: string, value: unknown) {
  if (typeof value !== 'boolean') throw invalidBody(param, `${param} must be true or false`)
  return value
}

function count(param: string, value: unknown) {
  if (!Number.isSafeInteger(value) || (value as number) < 1) throw invalidBody(param, `${param} must be a whole number of at least 1`)
  return value
}

function number(param: string, value: unknown, min: number, max: number) {
  if (typeof value !== 'number' || !(value >= min && value <= max)) {
    throw invalidBody(param, `${param} must be a number from ${min} to ${max}`)
  }
  return value
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
