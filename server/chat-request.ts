/**
 * The server-side policy on chat requests: only the public model, only known fields, a bounded
 * conversation, capped output, the key owner's instructions first (and, if the owner says so, the
 * only system text), and the server's own visitor id as `user`. What leaves here is the body sent
 * upstream (less the model, which the upstream decides).
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

/** What the key's owner and the server decide for every request, whatever the client sends. */
export interface RequestPolicy {
  /** The owner's instructions, sent first as a system message. */
  instructions: string | null
  /** false: a client's system or developer message is refused, so the owner's instructions are the only system text. */
  allowSystemMessages: boolean
  /** The server's pseudonymous visitor id (visitor-id.ts), sent upstream as `user` in place of the client's. */
  user: string
}

/** The fields each role may carry besides `role` and `content`. */
const MESSAGE_FIELDS: Record<string, string[]> = {
  system: ['name'],
  // OpenAI's newer name for instructions; forwarded as `system`, which every compatible upstream knows.
  developer: ['name'],
  user: ['name'],
  assistant: ['name', 'tool_calls', 'refusal'],
  tool: ['tool_call_id'],
}
const ROLES = Object.keys(MESSAGE_FIELDS).join(', ')
// What official clients keep on an answer they hand back as an assistant message (openai-node's
// `finalMessage()` adds `parsed`): taken, and not sent on, since no upstream reads them.
const ECHOED_FIELDS = ['parsed', 'annotations', 'audio', 'function_call']
const NAME = /^[\w-]{1,64}$/
const MAX_TOOLS = 128
// A JSON schema the upstream reads; deeper than this, sending it on would overflow JSON.stringify's stack.
const MAX_SCHEMA_DEPTH = 64

/** Checks a parsed JSON body against the policy; throws 400 with the offending `param`. */
export function toChatRequest(input: unknown, limits: Limits, policy: RequestPolicy): ChatRequest {
  if (!isObject(input)) throw invalidBody('body', 'The request body must be a JSON object')
  const body: Record<string, unknown> = {}

  for (const [field, value] of Object.entries(input)) {
    // Own properties only: `__proto__` or `constructor` must not find something on Object.prototype.
    const check = Object.hasOwn(FIELDS, field) ? FIELDS[field] : undefined
    if (!check) throw invalidBody(field, `Unrecognized request argument supplied: ${field.slice(0, 64)}`)
    // As OpenAI takes it: an optional parameter sent as null is not sent (SDKs send `max_tokens=None` so).
    if (value === null && field !== 'model' && field !== 'messages') continue
    const accepted = check(value, limits)
    if (accepted !== undefined) body[field] = accepted
  }
  if (input.model === undefined) throw invalidBody('model', `model is required; use '${PUBLIC_MODEL}'`)
  if (input.messages === undefined) throw invalidBody('messages', 'messages is required')
  if (body.stream_options !== undefined && body.stream !== true) {
    throw invalidBody('stream_options', 'stream_options is only allowed when stream is true')
  }
  if (body.top_logprobs !== undefined && body.logprobs !== true) {
    throw invalidBody('top_logprobs', 'top_logprobs is only allowed when logprobs is true')
  }

  if (!policy.allowSystemMessages) refuseSystemMessages(input.messages as Array<{ role: string }>)

  const stream = body.stream === true
  const clientWantsUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true
  delete body.model
  // max_completion_tokens is OpenAI's newer name; send the one name every compatible server knows.
  const asked = (body.max_completion_tokens ?? body.max_tokens) as number | undefined
  delete body.max_completion_tokens
  body.max_tokens = Math.min(asked ?? limits.maxOutputTokens, limits.maxOutputTokens)
  if (stream) body.stream_options = { include_usage: true }
  if (policy.instructions) body.messages = [{ role: 'system', content: policy.instructions }, ...(body.messages as unknown[])]
  body.user = policy.user
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
  // Checked as OpenAI checks it, then replaced: the upstream gets the server's visitor id, never this.
  user: (value) => {
    if (typeof value !== 'string' || value.length > 256) throw invalidBody('user', 'user must be text of at most 256 characters')
    return undefined
  },
  logprobs: (value) => boolean('logprobs', value),
  top_logprobs: (value) => {
    if (!Number.isSafeInteger(value) || (value as number) < 0 || (value as number) > 20) {
      throw invalidBody('top_logprobs', 'top_logprobs must be a whole number from 0 to 20')
    }
    return value
  },
  tools: (value) => {
    if (!Array.isArray(value) || value.length === 0 || value.length > MAX_TOOLS) {
      throw invalidBody('tools', `tools must be a list of 1 to ${MAX_TOOLS} tools`)
    }
    value.forEach((tool: unknown, index) => {
      toolFrom(tool, `tools[${index}]`)
    })
    return value
  },
  tool_choice: (value) => {
    if (value === 'none' || value === 'auto' || value === 'required') return value
    if (isObject(value) && value.type === 'function' && isObject(value.function) && isName(value.function.name)) {
      return { type: 'function', function: { name: value.function.name } }
    }
    throw invalidBody('tool_choice', `tool_choice must be 'none', 'auto', 'required' or {"type": "function", "function": {"name": …}}`)
  },
  parallel_tool_calls: (value) => boolean('parallel_tool_calls', value),
  response_format: (value) => {
    const param = 'response_format'
    if (!isObject(value) || !['text', 'json_object', 'json_schema'].includes(value.type as string)) {
      throw invalidBody(param, `${param} must be {"type": "text"}, {"type": "json_object"} or {"type": "json_schema", "json_schema": {…}}`)
    }
    only(value, param, value.type === 'json_schema' ? ['type', 'json_schema'] : ['type'])
    if (value.type !== 'json_schema') return value
    const schema = value.json_schema
    if (!isObject(schema) || !isName(schema.name)) {
      throw invalidBody(`${param}.json_schema.name`, `${param}.json_schema must have a name of 1 to 64 letters, digits, _ or -`)
    }
    only(schema, `${param}.json_schema`, ['name', 'description', 'schema', 'strict'])
    optional(schema, 'description', `${param}.json_schema.description`, 'text', (v) => typeof v === 'string')
    optional(schema, 'schema', `${param}.json_schema.schema`, SCHEMA, isSchema)
    optional(schema, 'strict', `${param}.json_schema.strict`, 'true, false or null', (v) => v === null || typeof v === 'boolean')
    return value
  },
}

/** A function tool as OpenAI defines it: the name is checked, the parameters' JSON schema is the upstream's to read. */
function toolFrom(tool: unknown, param: string) {
  if (!isObject(tool) || tool.type !== 'function' || !isObject(tool.function)) {
    throw invalidBody(param, `${param} must be {"type": "function", "function": {…}}`)
  }
  only(tool, param, ['type', 'function'])
  const fn = tool.function
  if (!isName(fn.name)) throw invalidBody(`${param}.function.name`, `${param}.function.name must be 1 to 64 letters, digits, _ or -`)
  only(fn, `${param}.function`, ['name', 'description', 'parameters', 'strict'])
  optional(fn, 'description', `${param}.function.description`, 'text', (v) => typeof v === 'string')
  optional(fn, 'parameters', `${param}.function.parameters`, SCHEMA, isSchema)
  optional(fn, 'strict', `${param}.function.strict`, 'true, false or null', (v) => v === null || typeof v === 'boolean')
}

/** An assistant's earlier tool calls, as the client got them: only the fields an upstream reads go on. */
function toolCallsFrom(value: unknown, param: string) {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_TOOLS) {
    throw invalidBody(param, `${param} must be a list of 1 to ${MAX_TOOLS} tool calls`)
  }
  return value.map((call: unknown, index) => {
    const at = `${param}[${index}]`
    if (!isObject(call) || call.type !== 'function' || !isObject(call.function)) {
      throw invalidBody(at, `${at} must be {"id": …, "type": "function", "function": {"name": …, "arguments": …}}`)
    }
    if (typeof call.id !== 'string' || call.id.length === 0 || call.id.length > 256)
      throw invalidBody(`${at}.id`, `${at}.id must be text of 1 to 256 characters`)
    if (!isName(call.function.name)) throw invalidBody(`${at}.function.name`, `${at}.function.name must be 1 to 64 letters, digits, _ or -`)
    if (typeof call.function.arguments !== 'string')
      throw invalidBody(`${at}.function.arguments`, `${at}.function.arguments must be text (JSON)`)
    return { id: call.id, type: 'function', function: { name: call.function.name, arguments: call.function.arguments } }
  })
}

/** For a key that takes no system text from clients: the first system or developer message, by its role. */
function refuseSystemMessages(messages: Array<{ role: string }>) {
  const index = messages.findIndex((message) => message.role === 'system' || message.role === 'developer')
  if (index === -1) return
  throw invalidBody(
    `messages[${index}].role`,
    `messages[${index}].role is '${messages[index]!.role}', but this API key does not accept system messages; its owner's instructions are the only system text`,
  )
}

function messagesFrom(value: unknown, limits: Limits) {
  if (!Array.isArray(value) || value.length === 0) {
    throw invalidBody('messages', 'messages must be a non-empty list of messages')
  }
  if (value.length > limits.maxMessages) {
    throw invalidBody('messages', `messages holds at most ${limits.maxMessages} messages`)
  }
  return value.map((message: unknown, index) => messageFrom(message, `messages[${index}]`, limits))
}

function messageFrom(message: unknown, param: string, limits: Limits) {
  if (!isObject(message)) throw invalidBody(param, `${param} must be an object with role and content`)
  const role = message.role
  if (typeof role !== 'string' || !Object.hasOwn(MESSAGE_FIELDS, role)) {
    throw invalidBody(`${param}.role`, `${param}.role must be one of ${ROLES}`)
  }
  for (const field of Object.keys(message)) {
    if (role === 'assistant' && ECHOED_FIELDS.includes(field)) continue
    if (field !== 'role' && field !== 'content' && !MESSAGE_FIELDS[role]!.includes(field)) {
      throw invalidBody(`${param}.${field.slice(0, 40)}`, `${param} has an unsupported field '${field.slice(0, 40)}' for role ${role}`)
    }
  }
  const toolCalls = message.tool_calls === undefined ? undefined : toolCallsFrom(message.tool_calls, `${param}.tool_calls`)
  // An assistant turn that only calls tools has no text.
  const content = toolCalls && message.content == null ? null : textOf(message.content, `${param}.content`)
  if (content !== null && content.length > limits.maxMessageChars) {
    throw invalidBody(`${param}.content`, `${param}.content is longer than ${limits.maxMessageChars} characters`)
  }
  if (message.name !== undefined && !isName(message.name)) {
    throw invalidBody(`${param}.name`, `${param}.name must be 1 to 64 letters, digits, _ or -`)
  }
  if (message.refusal != null && typeof message.refusal !== 'string') {
    throw invalidBody(`${param}.refusal`, `${param}.refusal must be text or null`)
  }
  if (
    role === 'tool' &&
    (typeof message.tool_call_id !== 'string' || message.tool_call_id.length === 0 || message.tool_call_id.length > 256)
  ) {
    throw invalidBody(`${param}.tool_call_id`, `${param}.tool_call_id must be the id of the tool call it answers`)
  }
  return {
    role: role === 'developer' ? 'system' : role,
    content,
    ...(message.name === undefined ? {} : { name: message.name }),
    ...(toolCalls === undefined ? {} : { tool_calls: toolCalls }),
    ...(typeof message.refusal === 'string' ? { refusal: message.refusal } : {}),
    ...(role === 'tool' ? { tool_call_id: message.tool_call_id } : {}),
  }
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

const isName = (value: unknown): value is string => typeof value === 'string' && NAME.test(value)

/** Refuses any field of `object` not in `allowed`, naming it. */
function only(object: Record<string, unknown>, param: string, allowed: string[]) {
  for (const field of Object.keys(object)) {
    if (!allowed.includes(field))
      throw invalidBody(`${param}.${field.slice(0, 40)}`, `${param} has an unsupported field '${field.slice(0, 40)}'`)
  }
}

/** Refuses `object[field]` when present (not undefined) and not `what`. */
function optional(object: Record<string, unknown>, field: string, param: string, what: string, is: (value: unknown) => boolean) {
  if (object[field] !== undefined && !is(object[field])) throw invalidBody(param, `${param} must be ${what}`)
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

const SCHEMA = `a JSON object nested at most ${MAX_SCHEMA_DEPTH} levels deep`
const isSchema = (value: unknown) => isObject(value) && !deeperThan(value, MAX_SCHEMA_DEPTH)

/** Whether a parsed JSON value nests objects or lists more than `levels` deep; it looks no deeper than that. */
function deeperThan(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) return false
  if (levels === 0) return true
  for (const child of Object.values(value)) if (deeperThan(child, levels - 1)) return true
  return false
}
