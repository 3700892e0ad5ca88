/**
 * Loaded with `--import` into a process under test when HEAP_SAMPLE_FILE is set: every 100 ms it
 * appends one line, `<ms since the epoch> <V8 heap used> <external + array buffers>` (bytes), so the
 * bench can say which kind of memory grows beside the resident size it reads from /proc. The cost
 * is one small synchronous write per 100 ms, and the same in every process compared.
 */
import { appendFileSync } from 'node:fs'

const file = process.env.HEAP_SAMPLE_FILE
if (file) {
  setInterval(() => {
    const { heapUsed, external } = process.memoryUsage()
    // external already includes arrayBuffers: Buffers live outside the V8 heap.
    appendFileSync(file, `${Date.now()} ${heapUsed} ${external}\n`)
  }, 100).unref()
}
