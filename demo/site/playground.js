'use strict'

// The playground's controls, driving the chat through window.Assisters.
// widget.js loads with `async`, so it may run before or after this (deferred) script.

const EVENTS = ['open', 'close', 'message', 'error']
const MAX_LOG_ENTRIES = 200 // a long session should not grow the page without bound

const $ = (id) => document.getElementById(id)
const widgetStatus = $('widget-status')
const log = $('event-log')

whenAssistersReady(start)

function whenAssistersReady(ready) {
  if (window.Assisters) return ready(window.Assisters)
  const script = document.querySelector('script[src$="/widget.js"]')
  if (!script) {
    widgetStatus.textContent = 'No widget.js script tag on this page.'
    return
  }
  // Assisters is defined synchronously when widget.js runs, so it exists by its load event.
  script.addEventListener('load', () => {
    if (window.Assisters) ready(window.Assisters)
  })
  // widget.js is async: a refused connection can fail before this deferred script runs, and its
  // error event is gone by then. The window's load event waits for async scripts, loaded or failed.
  window.addEventListener('load', () => {
    if (!window.Assisters) widgetStatus.textContent = 'widget.js did not load: is the API server running?'
  })
}

function start(Assisters) {
  widgetStatus.textContent = 'Ready: window.Assisters is loaded.'
  for (const button of document.querySelectorAll('button[disabled]')) button.disabled = false

  for (const name of ['open', 'close', 'toggle', 'reset']) {
    $(name).addEventListener('click', () => Assisters[name]())
  }

  $('send-form').addEventListener('submit', (event) => {
    event.preventDefault() // stay on the page: the form exists for Enter-to-send and its label
    const sent = Assisters.send($('question').value)
    $('send-status').textContent = sent ? 'Sent.' : 'Not sent: empty, an answer is still streaming, or the chat asks to wait'
  })

  for (const name of EVENTS) Assisters.on(name, (payload) => logEvent(name, payload))
}

// One <li> per event, newest first. Payloads are set as text, never parsed as HTML:
// answers come from a model and may contain markup.
function logEvent(name, payload) {
  const item = document.createElement('li')
  const time = document.createElement('time')
  const now = new Date()
  time.dateTime = now.toISOString()
  time.textContent = now.toLocaleTimeString()
  const label = document.createElement('strong')
  label.textContent = name
  item.append(time, ' ', label)
  if (payload !== undefined) {
    const data = document.createElement('code')
    data.textContent = JSON.stringify(payload)
    item.append(' ', data)
  }
  log.prepend(item)
  while (log.children.length > MAX_LOG_ENTRIES) log.lastElementChild.remove()
}

$('clear-log').addEventListener('click', () => log.replaceChildren())

// Theme colour. The widget reads these custom properties from its host element.
$('accent').addEventListener('input', (event) => applyAccent(event.target.value))
for (const swatch of document.querySelectorAll('.swatch')) {
  swatch.addEventListener('click', () => {
    $('accent').value = swatch.dataset.color
    applyAccent(swatch.dataset.color)
  })
}

function applyAccent(accent) {
  const info = $('accent-info')
  const widget = document.querySelector('assisters-widget')
  if (!widget) {
    info.textContent = 'The widget is not on the page yet.'
    return
  }
  const text = textColourOn(accent)
  widget.style.setProperty('--assisters-accent', accent)
  widget.style.setProperty('--assisters-accent-text', text)
  info.textContent = `${accent} with ${text === '#ffffff' ? 'white' : 'black'} text, ` + `contrast ${contrast(accent, text).toFixed(1)}:1`
}

// Black or white, whichever has the higher WCAG contrast ratio against the accent.
function textColourOn(hex) {
  return contrast(hex, '#ffffff') > contrast(hex, '#000000') ? '#ffffff' : '#000000'
}

function contrast(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x)
  return (hi + 0.05) / (lo + 0.05)
}

// WCAG 2 relative luminance of #rgb or #rrggbb, from 0 to 1.
function luminance(hex) {
  const digits = hex.length === 4 ? [...hex.slice(1)].map((d) => d + d).join('') : hex.slice(1)
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = parseInt(digits.slice(i, i + 2), 16) / 255
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4
  })
  return 0.2126 * r + 0.7152 * g + 0.0722 * b
}
