/**
 * Every visitor-facing word of the panel, in English: the panel's own table (bundled with it) and
 * the one every other language's table must match key for key (test/widget/words.test.ts).
 */
export const en = {
  /** `ltr` or `rtl`: the direction the panel is laid out in. */
  dir: 'ltr' as 'ltr' | 'rtl',
  title: 'Chat with us',
  welcome: 'Hi! How can I help you today?',
  placeholder: 'Type your message…',
  openChat: 'Open chat',
  openChatUnread: 'Open chat (new answer)',
  closeChat: 'Close chat',
  newConversation: 'Start a new conversation',
  conversation: 'Conversation',
  message: 'Message',
  send: 'Send message',
  stop: 'Stop answering',
  copy: 'Copy answer',
  copied: 'Copied',
  retry: 'Try again',
  /** `{n}` stands for the seconds left. */
  wait: 'You can send again in {n} s.',
  /** After a daily limit: `{t}` stands for the local time of its reset (00:00 UTC). */
  until: 'Try again after {t}.',
  invalid_api_key: "This chat isn't set up correctly. Please tell the site owner.",
  origin_not_allowed: "This chat isn't enabled for this website. Please tell the site owner.",
  // The limit is per key, so shared by every visitor of the site: the chat is busy, not this visitor.
  rate_limit_exceeded: 'The chat is busy right now.',
  // The limits of issue 16: this visitor's pace and open answers, the site's answers at once, its daily budget.
  visitor_rate_limit_exceeded: "You're sending messages quickly.",
  visitor_concurrent_streams_exceeded: 'Please wait for the current answer to finish.',
  concurrent_streams_exceeded: 'The chat is busy right now.',
  daily_token_limit_reached: 'This chat has reached its limit for today.',
  account_daily_token_limit_reached: 'This chat has reached its limit for today.',
  bad_request: "This message couldn't be sent. Try a shorter one.",
  server_error: "The assistant couldn't answer. Please try again.",
  network_error: 'You seem to be offline. Check your connection.',
  stream_interrupted: 'The answer was cut off. Please try again.',
}

/** A language's table: the same keys as English, every one a string. */
export type Words = typeof en
