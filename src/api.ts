import { WidgetError } from './errors.ts'

/** One turn of the conversation as the chat completions API takes it. */
export interface ChatTurn {
  role: 'user' | 'assistant'
  content: string
}

/**
 * Asks `GET {api}/v1/key` whether this key may be used from this page, which spends nothing of its
 * chat limit. Throws the WidgetError of a 401 or 403; anything else (a busy check, a server that
 * cannot tell, no connection) resolves: the chat itself will say what is wrong, if anything is.
 */
export async function checkKey(api: string, key: string, signal: AbortSignal): Promise<void> {
  const res = await fetch(`${api}/v1/key`, { headers: { authorization: `Bearer ${key}` }, signal }).catch(() => null)
  if (res?.status === 401 || res?.status === 403) throw await WidgetError.fromResponse(res)
}
