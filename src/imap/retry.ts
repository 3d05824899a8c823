/**
 * The retry policy of the session pool and the raw connections (pure): how often, and after which
 * pauses, a failed step is tried again.
 */
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
