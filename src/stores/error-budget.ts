/**
 * --max-errors N (imapsync's --errorsmax): a run whose messages keep being refused is stopped
 * instead of ploughing through a mailbox that will not fit (quota full, a server that refuses
 * everything).
 *
 * A decorator over the destination store: it counts the messages the store refused
 * (MessageRejectedError: the engine's per-message failures) and, once N were refused, answers
 * every further append with a run-scoped error. The engine treats that like any error that is not
 * about one message: it stops queueing, lets the copies in flight finish and reports; the exit
 * code is 1 (partial), the failed messages are listed, and a re-run retries them.
 */
import {ExitCode, MailferryError, MessageRejectedError} from '../errors.js'
import type {Store} from './store.js'

export class ErrorBudgetExceeded extends MailferryError {
  constructor(maxErrors: number) {
    super(`stopped after ${maxErrors} failed ${maxErrors === 1 ? 'message' : 'messages'} (--max-errors ${maxErrors})`, {
      scope: 'run',
      exitCode: ExitCode.partial,
      hint: 'see why they failed in the report; a re-run retries them (raise --max-errors to go on regardless)',
    })
  }
}

/** The store, with appendMessage refusing to go on after `maxErrors` refused messages. */
export function withErrorBudget<S extends Store>(store: S, maxErrors: number): S {
  let refused = 0
  const appendMessage: Store['appendMessage'] = async (...args) => {
    if (refused >= maxErrors) throw new ErrorBudgetExceeded(maxErrors)
    try {
      return await store.appendMessage(...args)
    } catch (error) {
      if (error instanceof MessageRejectedError) refused++
      throw error
    }
  }
  // A Proxy rather than a wrapper class, so that every other method (optional ones included)
  // reaches the store unchanged, with `this` being the store (its private fields need that).
  return new Proxy(store, {
    get(target, property) {
      if (property === 'appendMessage') return appendMessage
      const value = Reflect.get(target, property, target) as unknown
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
}
