/**
 * Response size limits for every IMAP session, so a broken or hostile server cannot make us
 * buffer without bound (imapflow holds a whole line or literal in memory before parsing it).
 *
 * - Session limits (imapflow's maxLineLength / maxLiteralSize / maxResponseSize, enforced by its
 *   ImapStream): 16 MiB per line, per literal (header blocks, names) and 32 MiB per response.
 * - A message body (fetchMessage) gets a literal limit of its own for that one command: twice the
 *   size the server listed (RFC822.SIZE) plus 1 MiB, which tolerates servers whose RFC822.SIZE is
 *   approximate (Exchange) but refuses a body far larger than listed. Without a listed size, up to
 *   MAX_MESSAGE_BYTES.
 *
 * A breach closes that session (imapflow destroys its parser and rejects the command with
 * NoConnection). The session's 'error' listener records the breach here; the pool then reports it
 * as a ConnectError (not retried: the server would send the same again), and fetchMessage as a
 * MessageRejectedError for that one message.
 *
 * - A folder listing (UID FETCH 1:*) may hold no more messages than the folder has (EXISTS, kept
 *   current by the server's untagged EXISTS): each response is small, but a server sending them
 *   without end would grow the listing until memory runs out.
 */
import {ConnectError, FolderError, MessageRejectedError} from '../errors.js'
import type {ImapClient} from './session.js'

const MiB = 1024 * 1024

export const SESSION_LIMITS = {
  maxLineLength: 16 * MiB,
  maxLiteralSize: 16 * MiB,
  maxResponseSize: 32 * MiB,
} as const

/**
 * How long a command may wait without a byte from the server before its session is taken for dead
 * (imapflow's socketTimeout: it closes the session when a command is in flight, and also closes a
 * session left idle that long). A killed server process closes its sockets at once; this covers a
 * server that hangs or a network that drops packets silently, where TCP alone waits for minutes.
 * The failed step is then retried on a fresh session (pool.ts).
 */
export const SILENCE_LIMIT_MS = 30_000

/** The largest message body read at all when its listed size is unknown (imapflow's own cap). */
export const MAX_MESSAGE_BYTES = 1024 * MiB

/** The literal limit for one message body the server listed at `listedSize` bytes. */
export function bodyLiteralLimit(listedSize: number | undefined): number {
  if (listedSize === undefined || !Number.isFinite(listedSize) || listedSize < 0) return MAX_MESSAGE_BYTES
  return Math.min(MAX_MESSAGE_BYTES, 2 * listedSize + MiB)
}

export type BreachKind = 'line' | 'literal' | 'response'

export interface LimitBreach {
  kind: BreachKind
  /** What the server announced or sent, in bytes (Infinity: a size too wide to read). */
  size: number
  limit: number
  /** The one-line error the session failed with, naming the side and account. */
  error: ConnectError
}

const BREACH_CODES: Record<string, BreachKind> = {LineTooLarge: 'line', LiteralTooLarge: 'literal', ResponseTooLarge: 'response'}
const breaches = new WeakMap<ImapClient, LimitBreach>()

/**
 * Called with every 'error' a session emits (session.ts). Remembers a size-limit breach, which
 * imapflow reports only there: the command in flight just sees "Connection not available".
 */
export function noteSessionError(client: ImapClient, error: unknown, where: string): void {
  const e = (error ?? {}) as {code?: string; literalSize?: number; lineLength?: number; responseSize?: number; maxSize?: number}
  const kind = e.code === undefined ? undefined : BREACH_CODES[e.code]
  if (!kind || breaches.has(client)) return
  const size = Number(e.literalSize ?? e.lineLength ?? e.responseSize ?? Number.NaN)
  const limit = Number(e.maxSize ?? Number.NaN)
  const what =
    kind === 'line'
      ? `a response line of more than ${bytes(limit)} without an end`
      : kind === 'literal'
        ? `a literal of ${bytes(size)} (limit ${bytes(limit)})`
        : `a response of ${bytes(size)} (limit ${bytes(limit)})`
  const error_ = new ConnectError(`${where}: the server sent ${what}; the session was closed`, {
    cause: error,
    transient: false,
    hint: 'the server is broken or hostile; mailferry caps what it reads per response so it cannot run out of memory',
  })
  breaches.set(client, {kind, size, limit, error: error_})
}

/** The size-limit breach that closed this session, if one did. */
export function limitBreach(client: ImapClient): LimitBreach | undefined {
  return breaches.get(client)
}

/**
 * The per-message failure for a body fetch that broke the literal limit: the run goes on without
 * that message. Undefined when the session failed for another reason.
 */
export function oversizedBody(client: ImapClient, listedSize: number | undefined): MessageRejectedError | undefined {
  const breach = breaches.get(client)
  if (!breach || breach.kind === 'line') return undefined
  const listed = listedSize === undefined ? '' : ` for a message listed at ${listedSize} bytes (RFC822.SIZE)`
  return new MessageRejectedError(`the server announced a body of ${bytes(breach.size)}${listed}; refused above ${bytes(breach.limit)}`, {
    cause: breach.error,
  })
}

/** The parser's limits as imapflow 2.x keeps them (ImapStream reads them at every literal marker). */
interface StreamLimits {
  maxLiteralSize: number
  maxResponseSize: number
}

function streamLimits(client: ImapClient): StreamLimits | undefined {
  const streamer = (client as unknown as {streamer?: Partial<StreamLimits>}).streamer
  if (!streamer || typeof streamer.maxLiteralSize !== 'number' || typeof streamer.maxResponseSize !== 'number') return undefined
  return streamer as StreamLimits
}

/** Whether per-command limits can be set on this imapflow (checked by a unit test on upgrades). */
export function canLimitPerCommand(client: ImapClient): boolean {
  return streamLimits(client) !== undefined
}

/**
 * Runs fn (one command on a session we hold alone) with the literal limit raised or lowered to
 * `literalLimit`, and puts the session's own limits back afterwards. Without imapflow's internal
 * hook, the session limits stay in force (still bounded, only less tightly).
 */
export async function withLiteralLimit<T>(client: ImapClient, literalLimit: number, fn: () => Promise<T>): Promise<T> {
  const limits = streamLimits(client)
  if (!limits) return fn()
  const saved = {maxLiteralSize: limits.maxLiteralSize, maxResponseSize: limits.maxResponseSize}
  limits.maxLiteralSize = literalLimit
  // The response also carries the FETCH line and the other items of the answer.
  limits.maxResponseSize = literalLimit + SESSION_LIMITS.maxLineLength
  try {
    return await fn()
  } finally {
    limits.maxLiteralSize = saved.maxLiteralSize
    limits.maxResponseSize = saved.maxResponseSize
  }
}

function bytes(n: number): string {
  if (!Number.isFinite(n)) return 'unreadable size'
  if (n >= MiB) return `${(n / MiB).toFixed(n % MiB === 0 ? 0 : 1)} MiB`
  return `${n} bytes`
}

/**
 * Called per listed message: a listing longer than the folder closes the session (the rest of the
 * answer is not read) and fails that folder.
 */
export function checkListingLength(client: ImapClient, listed: number, where: string, path: string): void {
  const exists = client.mailbox ? client.mailbox.exists : 0
  if (listed <= exists) return
  client.close()
  throw listingTooLong(where, path, exists)
}

/** What a listing longer than its folder is (the caller closes its session or connection). */
export function listingTooLong(where: string, path: string, exists: number): FolderError {
  return new FolderError(`${where}: folder "${path}": the server listed more messages than the folder holds (${exists}); the session was closed`, {
    hint: 'the server is broken or not what it claims to be; the other folders were synced',
  })
}
