/** Waits `ms` milliseconds: for tests that pace what they send, never to wait for an outcome. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
