'use strict'

// The "Copy" button next to the embed snippet. The status line is a live region,
// so screen-reader users hear "Copied" too, not only sighted ones.
const copyButton = document.getElementById('copy-snippet')
const snippet = document.getElementById('snippet')
const copyStatus = document.getElementById('copy-status')
let clearTimer

if (copyButton && snippet && copyStatus) {
  copyButton.addEventListener('click', async () => {
    try {
      // textContent is the tag itself: the HTML escaping exists only for display.
      await navigator.clipboard.writeText(snippet.textContent)
      say('Copied')
    } catch {
      // No clipboard permission (or no clipboard API): the code is still selectable by hand.
      say('Could not copy: select the code and copy it yourself')
    }
  })
}

function say(text) {
  copyStatus.textContent = text
  clearTimeout(clearTimer)
  clearTimer = setTimeout(() => {
    copyStatus.textContent = ''
  }, 2000)
}
