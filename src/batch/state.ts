/**
 * `<stateDir>/batch.json`: each account's last outcome, so a re-run skips what completed ok and
 * retries the rest. Written atomically and durably (files.ts, mode 0600) after every account, so a
 * batch killed midway keeps what finished; an account that was running has no new entry and is
 * simply run again (its own state DB makes that a resume).
 */
import {existsSync, readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'

import {StateError} from '../errors.js'
import {makeDirDurableSync, writePrivateFileSync} from '../files.js'

export type AccountOutcome = 'ok' | 'partial' | 'failed'

export interface AccountRecord {
  outcome: AccountOutcome
  exitCode: number
  finishedAt: string
  statePath: string
  copied: number
  bytes: number
  error?: string
}

export interface BatchState {
  version: 1
  accounts: Record<string, AccountRecord>
}

export const BATCH_STATE_FILE = 'batch.json'

export function batchStatePath(stateDir: string): string {
  return join(stateDir, BATCH_STATE_FILE)
}

export function readBatchState(path: string): BatchState {
  if (!existsSync(path)) return {version: 1, accounts: {}}
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as BatchState
    if (parsed.version !== 1 || typeof parsed.accounts !== 'object' || parsed.accounts === null) throw new Error('not a mailferry batch state (version 1)')
    return parsed
  } catch (error) {
    throw new StateError(`batch state ${path}: ${(error as Error).message}`, {hint: 'move the file away to start the batch afresh (per-account state DBs keep the progress)'})
  }
}

export function writeBatchState(path: string, state: BatchState): void {
  makeDirDurableSync(dirname(path), 0o700)
  writePrivateFileSync(path, `${JSON.stringify(state, null, 2)}\n`)
}

/** exit code -> ok / partial / failed (0 ok; 1 some messages failed; anything else the account failed). */
export function outcomeOf(exitCode: number): AccountOutcome {
  if (exitCode === 0) return 'ok'
  if (exitCode === 1) return 'partial'
  return 'failed'
}
