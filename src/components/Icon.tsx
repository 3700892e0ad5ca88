import { h } from 'preact'
export * as icons from '../icons.ts'

/** A stroke icon; decorative, since every button carries its own accessible name. */
export function Icon({ d }: { d: string }) {
  return (
    <svg viewBox="0 0 24 24" aria-hidden="true">
      <path d={d} />
    </svg>
  )
}
