/**
 * How an IMAP store shares its connections (pure): `--connections` (batch's per-host cap comes to
 * the same) is what one side may open at once, sessions and raw pipelined connections together.
 */
import type {ImapStoreOptions} from './imap-options.js'

export interface ConnectionPlan {
  /** Sessions the pool opens at most. */
  sessions: number
  /** Pipelined APPEND connections (0: APPENDs go through the sessions). */
  appends: number
  /** Raw connections for whole-folder reads (check, plan, verify). */
  scans: number
  /** A raw connection for batched reads and listings: beside the sessions, or taking turns with the only one. */
  reads?: 'beside' | 'in-turn'
  /** The only place is taken in turns by the session and a raw connection (docs/design.md, "One connection a side"). */
  shared: boolean
  /** Batched reads at once (fetch-batcher.ts). */
  readsAtOnce: number
}

/** Batched reads in flight at once on a read connection that takes turns with the only session. */
const SHARED_READS_AT_ONCE = 4

/**
 * The pipelined APPEND connections are half of them when there are at least two; with one, the
 * APPEND connection and the session take turns in its place. Whole-folder scans (check, plan,
 * verify) take half too. The read connection is one of at least three (with two, the one session
 * left would do every listing; docs/design.md), or takes turns with the only session.
 */
export function connectionPlan(options: Pick<ImapStoreOptions, 'connections' | 'readOnly' | 'pipeline' | 'scanConnections' | 'readPipeline'>): ConnectionPlan {
  const {connections} = options
  const pipelined = !options.readOnly && options.pipeline === true
  const appends = pipelined ? Math.max(1, Math.floor(connections / 2)) : 0
  const scans = options.scanConnections && connections >= 2 ? Math.floor(connections / 2) : 0
  const readable = options.readPipeline === true && !scans && !pipelined
  const reads = !readable ? undefined : connections === 1 ? 'in-turn' : connections >= 3 ? 'beside' : undefined
  const shared = (pipelined && connections === 1) || reads === 'in-turn'
  const sessions = shared ? 1 : connections - appends - scans - (reads ? 1 : 0)
  return {sessions, appends, scans, reads, shared, readsAtOnce: reads === 'in-turn' ? SHARED_READS_AT_ONCE : connections - (shared ? 0 : appends)}
}
