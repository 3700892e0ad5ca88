/** Copies text to the clipboard and says so; where the clipboard is refused, selects the text instead. */
import { h } from 'preact'
import { useState } from 'preact/hooks'

export function CopyButton({ text, label, target }: { text: string; label: string; target: string }) {
  const [done, setDone] = useState(false)
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text)
      setDone(true)
      setTimeout(() => setDone(false), 2000)
    } catch {
      const field = document.getElementById(target) as HTMLInputElement | HTMLTextAreaElement | null
      field?.select()
    }
  }
  return (
    <button type="button" onClick={copy} aria-live="polite">
      {done ? 'Copied' : label}
    </button>
  )
}
