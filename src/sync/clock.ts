/**
 * The time the budgets (quota.ts) reckon with, and pauses until a time on it. Real time, unless the
 * test switch MAILFERRY_DEBUG_CLOCK shifts it ("90000": 90000 s ahead) or also speeds it up
 * ("0x600": 600 times as fast, an hour in 6 s), so tests can let a budget window pass.
 */
import {ConfigError} from '../errors.js'
import {sleep} from '../sleep.js'

export interface Clock {
  /** Milliseconds since the epoch, on this clock. */
  now(): number
  /** Waits until `at` on this clock; SIGINT/SIGTERM (the signal) cut it short. */
  sleepUntil(at: number, signal?: AbortSignal): Promise<void>
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleepUntil: (at, signal) => sleep(Math.max(0, at - Date.now()), signal),
}

/**
 * A clock `offsetMs` ahead of real time that runs `speed` times as fast since the process started
 * (one origin for the process: every clock made from the same setting shows the same time).
 */
export function shiftedClock(offsetMs: number, speed = 1): Clock {
  const origin = Math.floor(performance.timeOrigin)
  const now = () => origin + offsetMs + (Date.now() - origin) * speed
  return {
    now,
    sleepUntil: (at, signal) => sleep(Math.max(0, (at - now()) / speed), signal),
  }
}

export const DEBUG_CLOCK_ENV = 'MAILFERRY_DEBUG_CLOCK'

/** The clock MAILFERRY_DEBUG_CLOCK asks for ("<offset seconds>[x<speed>]"), else the system's. */
export function clockFromEnv(env: NodeJS.ProcessEnv): Clock {
  const text = env[DEBUG_CLOCK_ENV]
  if (text === undefined || text === '') return systemClock
  const match = /^([+-]?\d+(?:\.\d+)?)(?:x(\d+(?:\.\d+)?))?$/.exec(text.trim())
  if (!match || (match[2] !== undefined && Number(match[2]) <= 0)) {
    throw new ConfigError(`${DEBUG_CLOCK_ENV}: expected <offset seconds>[x<speed>] (e.g. 90000 or 0x600), got "${text}"`)
  }
  return shiftedClock(Number(match[1]) * 1000, match[2] === undefined ? 1 : Number(match[2]))
}

/** "14:05 UTC" (rounded up: never before `at`), with the date when it is not the day of `now`. */
export function utcTime(at: number, now: number): string {
  const iso = new Date(Math.ceil(at / 60_000) * 60_000).toISOString()
  const sameDay = iso.slice(0, 10) === new Date(now).toISOString().slice(0, 10)
  return `${iso.slice(11, 16)} UTC${sameDay ? '' : ` on ${iso.slice(0, 10)}`}`
}
