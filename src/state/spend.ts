/**
 * What a run spent of its budgets (sync/quota.ts), per side and per minute, so that the next run of
 * the same account pair knows what the rolling window already holds. One row per side and minute:
 * a copy adds to its minute's row (an upsert), however many messages it holds.
 */
import type {SqliteDb, Statement} from './db.js'

export type SpendSide = 'source' | 'dest'

export const SPEND_BUCKET_MS = 60_000

export interface SpendBucket {
  side: SpendSide
  /** Start of the minute, ms since the epoch. */
  at: number
  bytes: number
  messages: number
}

export class SpendLedger {
  readonly #add: Statement
  readonly #since: Statement
  readonly #prune: Statement

  constructor(db: SqliteDb) {
    this.#add = db.prepare(
      `INSERT INTO budget_spend (side, minute, bytes, messages) VALUES (?, ?, ?, ?)
       ON CONFLICT (side, minute) DO UPDATE SET bytes = bytes + excluded.bytes, messages = messages + excluded.messages`,
    )
    this.#since = db.prepare('SELECT side, minute, bytes, messages FROM budget_spend WHERE minute >= ? ORDER BY minute')
    this.#prune = db.prepare('DELETE FROM budget_spend WHERE minute < ?')
  }

  /** Adds to the minute holding `at`; returns that minute's start. */
  add(side: SpendSide, at: number, bytes: number, messages: number): number {
    const minute = Math.floor(at / SPEND_BUCKET_MS)
    this.#add.run(side, minute, bytes, messages)
    return minute * SPEND_BUCKET_MS
  }

  /** Every minute that starts at or after `from` (ms), oldest first. */
  since(from: number): SpendBucket[] {
    const rows = this.#since.all(Math.floor(from / SPEND_BUCKET_MS)) as Array<{side: SpendSide; minute: number; bytes: number; messages: number}>
    return rows.map((row) => ({side: row.side, at: row.minute * SPEND_BUCKET_MS, bytes: row.bytes, messages: row.messages}))
  }

  /** Forgets the minutes that end before `before` (out of every window). */
  prune(before: number): void {
    this.#prune.run(Math.floor(before / SPEND_BUCKET_MS) - 1)
  }
}
