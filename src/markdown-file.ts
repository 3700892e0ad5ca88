/**
 * The markdown renderer's file's entry (dist/panel-markdown-<hash>.js), which the panel loads once it
 * has mounted: the renderer is not needed to open the chat, and answers read as plain text until it
 * is there. It hands its factory to the script element that loaded it, so it adds no global.
 */
import type { HandingScript } from './load-script.ts'
import { createMarkdown } from './markdown.ts'

// Read now: currentScript is set only while this file first runs.
;(document.currentScript as HandingScript<typeof createMarkdown>).exported = createMarkdown
