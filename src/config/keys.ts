/**
 * Key lists of the YAML keys added for issue #5, in a leaf module: validate.ts spreads them into
 * its own lists while it loads, and auth.ts / tuning.ts (which give them meaning) import
 * validate.ts, so defining them there would be an import cycle that breaks at load time.
 */

export const AUTH_METHODS = ['auto', 'login', 'plain', 'sasl-login', 'xoauth2', 'oauthbearer'] as const
export type AuthMethod = (typeof AUTH_METHODS)[number]

/** Endpoint keys about logging in (config/auth.ts). */
export const AUTH_KEYS = [
  'authMethod',
  'authzid',
  'passwordCommand',
  'passwordPrompt',
  'tokenEnv',
  'tokenFile',
  'tokenCommand',
  'oauth2',
] as const

/** Top-level keys about connections, throttling, errors and the log (config/tuning.ts). */
export const TUNING_KEYS = [
  'connections',
  'retries',
  'retryMaxDelay',
  'maxBytesPerSecond',
  'maxMessagesPerSecond',
  'maxErrors',
  'maxAge',
  'minAge',
  'maxSize',
  'logFile',
] as const
