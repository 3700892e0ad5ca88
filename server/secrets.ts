/** Every secret the configuration holds, for the logger to hide wherever one turns up. */
import type { Config } from './config.ts'
import { urlSecrets } from './redis-connection.ts'
import { databaseSecrets } from './store/open.ts'

export const configSecrets = (config: Config): string[] => [
  config.upstream?.apiKey ?? '',
  config.adminToken ?? '',
  config.visitorIdSecret ?? '',
  ...databaseSecrets(config.database),
  ...(config.redis ? urlSecrets(config.redis.url) : []),
]
