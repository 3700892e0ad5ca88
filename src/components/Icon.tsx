import { h } from 'preact'
/** Stroke icons on a 24-unit grid; decorative, since every button carries its own accessible name. */
export const icons = {
  chat: 'M4 5h16v11H9l-5 4z',
  close: 'M6 6l12 12M18 6L6 18',
  send: 'M5 12h13M13 6l6 6-6 6',
  stop: 'M7 7h10v10H7z',
  restart: 'M4 12a8 8 0 1 0 3-6.2M4 4v4h4',
}

export function Icon({ d }: { d: string }) {
  return (
    <svg viewBox="0 0 24 24" aria-hidden="true">
      <path d={d} />
    </svg>
  )
}
