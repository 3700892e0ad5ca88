/**
 * A process that logs `count` request-like lines through the default (buffered) logger and then
 * ends as `how` says: `exit` (process.exit, as a shutdown does), `throw` (an uncaught exception),
 * or `drain` (nothing left to do).
 */
import { createLogger } from '../../server/log.ts'

const [how, count] = [process.argv[2], Number(process.argv[3])]
const log = createLogger()
for (let i = 0; i < count; i++) log.info('request', { i })
if (how === 'exit') process.exit(0)
if (how === 'throw') throw new Error('a crash after logging')
