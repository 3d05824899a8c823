/**
 * The retry policy of the session pool and the raw connections (pure): how often, and after which
 * pauses, a failed step is tried again.
 */
import {ConnectError, MailferryError, describeError} from '../errors.js'
import {suggestedDelayMs} from './errors.js'

export interface RetryPolicy {
  /** How many times a failed task is tried again (0 = never). */
  retries: number
  /** The first pause; each further one doubles, up to maxDelayMs. */
  initialDelayMs: number
  maxDelayMs: number
}

export const NO_RETRY: RetryPolicy = {retries: 0, initialDelayMs: 500, maxDelayMs: 30_000}

/** The pause before retry `attempt` (1-based): doubling from initialDelayMs, ±20 % jitter, capped. */
export function backoffDelay(policy: RetryPolicy, attempt: number, error?: unknown, random: () => number = Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (attempt - 1))
  const jittered = Math.round(base * (0.8 + 0.4 * random()))
  const asked = suggestedDelayMs(error)
  // A throttling server's own suggestion wins, within reason (Office 365 sometimes asks for minutes).
  return asked === undefined ? jittered : Math.max(jittered, Math.min(asked, Math.max(policy.maxDelayMs, 60_000)))
}

/**
 * The last error of a step tried `retries` times since `started`, saying so; keeps the class (and so
 * the exit code). Given up for good: no longer transient.
 */
export function gaveUp(error: unknown, retries: number, started: number): unknown {
  if (retries === 0) return error
  const seconds = Math.round((Date.now() - started) / 100) / 10
  const suffix = ` (still failing after ${retries} ${retries === 1 ? 'retry' : 'retries'} over ${seconds} s)`
  if (error instanceof ConnectError) {
    return new ConnectError(error.message + suffix, {cause: error.cause ?? error, hint: error.hint, transient: false})
  }
  if (error instanceof MailferryError) return error
  return new ConnectError(describeError(error) + suffix, {cause: error, transient: false})
}
