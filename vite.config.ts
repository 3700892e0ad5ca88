import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Server tests bind real sockets and SQLite files; two cores, so keep the pool small.
    maxWorkers: 2,
    testTimeout: 15_000,
    hookTimeout: 15_000,
  },
})
