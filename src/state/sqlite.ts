/**
 * better-sqlite3, loaded on first use: runs without a state database (plan, check and verify of a
 * first migration, --version, --help) never pay for loading it at start.
 */
import {createRequire} from 'node:module'
import type Database from 'better-sqlite3'

let loaded: typeof Database | undefined

export function sqlite(): typeof Database {
  return (loaded ??= createRequire(import.meta.url)('better-sqlite3') as typeof Database)
}
