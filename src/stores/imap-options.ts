/**
 * What an ImapStore is built with (app/open.ts sets them per side and intent): the account, how many
 * connections and which of them are pipelined, retries, rate limits, and test switches; and what it
 * makes of the server's capabilities.
 */
import type {EndpointConfig} from '../config/schema.js'
import {canExpungeByUid} from '../imap/commands.js'
import type {ImapClient} from '../imap/session.js'
import type {RetryPolicy} from '../imap/retry.js'
import type {StoreLimits} from '../imap/throttle.js'
import type {Logger} from '../log.js'
import type {StoreCapabilities} from './store.js'

export interface ImapStoreOptions {
  label: string
  endpoint: EndpointConfig
  /** Connections to open at most. */
  connections: number
  /** Select folders with EXAMINE: a source is never changed, not even \Seen. */
  readOnly: boolean
  /** Test switch: behave as if the server had no UIDPLUS (ignore APPENDUID), like mbsync's -Tu. */
  ignoreAppendUid?: boolean
  /** Test and benchmark switch: behave as if the server had no CONDSTORE (no HIGHESTMODSEQ fast path). */
  ignoreCondstore?: boolean
  /**
   * Reconnects: how often an operation that failed for a transient reason (connection lost, server
   * pushback) is tried again, with backoff. Default: never. APPEND is never re-sent after its
   * connection was lost: it fails with ConnectError.outcomeUnknown (see appendMessage).
   */
  retry?: RetryPolicy
  /** Rate limits on message bodies read (fetchMessage) and written (appendMessage) by this store. */
  limits?: StoreLimits
  /** Reconnects and pushback are logged here; with tracing on, the IMAP protocol too. */
  logger?: Logger
  /** Cuts backoff pauses short (SIGINT). */
  signal?: AbortSignal
  /**
   * APPENDs go through pipelined connections (imap/append-pipeline.ts: several commands in flight,
   * MULTIAPPEND where offered), which take half of `connections` (with one, the APPEND connection and
   * the session take turns in its place). Set for the
   * destination (app/open.ts); off, one imapflow session per APPEND, as before (hidden
   * --debug-no-pipeline, for comparison).
   */
  pipeline?: boolean
  /**
   * scanHeaders (check, verify) and scanSizes (plan) read on raw connections (imap/folder-scan.ts), which take half of
   * `connections` (at least two needed); else, or when one cannot be opened, on the pool's sessions.
   */
  scanConnections?: boolean
  /**
   * Batched reads of small messages go through a raw connection with several commands in flight
   * (imap/read-pipeline.ts), one of `connections` (at least three needed); whatever it cannot read is
   * read on the pool's sessions. Set for the source of sync and watch (app/open.ts).
   */
  readPipeline?: boolean
  /** Open every pooled session at open(), for a run that will use them all (sync, watch, verify). */
  openAllSessions?: boolean
  /** Test hook: the n-th APPEND command was written in full and its answer has not come yet. */
  onAppendCommandSent?: (ordinal: number) => void
}

/** The store's capabilities, from its first session (CAPABILITY, NAMESPACE, ID) and the switches that hide some. */
export function capabilitiesOf(client: ImapClient, options: ImapStoreOptions): StoreCapabilities {
  const caps = client.capabilities
  const appendLimit = caps.get('APPENDLIMIT')
  return {
    uidplus: caps.has('UIDPLUS') && !options.ignoreAppendUid,
    condstore: caps.has('CONDSTORE') && !options.ignoreCondstore,
    expungeByUid: canExpungeByUid(client),
    appendLimit: typeof appendLimit === 'number' ? appendLimit : undefined,
    // imapflow asks NAMESPACE (RFC 2342) at login, or derives it from LIST "" "" without it.
    namespace: client.namespace ? {prefix: client.namespace.prefix ?? '', delimiter: client.namespace.delimiter || null} : undefined,
    otherNamespaces: [...(client.namespaces?.other || []), ...(client.namespaces?.shared || [])]
      .map((ns) => ns.prefix ?? '')
      .filter((prefix) => prefix !== ''),
    serverName: typeof client.serverInfo?.name === 'string' ? client.serverInfo.name : undefined,
    maxLineLength: options.endpoint.maxLineLength,
  }
}
