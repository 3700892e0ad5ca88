/**
 * The answers' file's entry (dist/panel-answers-<hash>.js): what reading and showing an answer takes,
 * the stream reader and the markdown renderer, which opening the chat does not. The panel loads it as
 * soon as it has mounted; answers read as plain text until it is there, and a question waits for it.
 * It hands the two factories to the script element that loaded it, so it adds no global; each takes
 * the panel's own pieces (h(), WidgetError), so the file carries no copy of them.
 */
import type { HandingScript } from './load-script.ts'
import { createMarkdown } from './markdown.ts'
import type { Answers } from './mount.ts'
import { createStreamChat } from './stream.ts'

// Read now: currentScript is set only while this file first runs.
;(document.currentScript as HandingScript<Answers>).exported = { createMarkdown, createStreamChat }
