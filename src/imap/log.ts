/**
 * imapflow's `logger` option, adapted to our Logger: the --debug-imap protocol trace.
 *
 * imapflow logs structured entries ({src: 'c' | 's', msg, cid, ...}); each becomes one line
 * "destination#3 C: A5 UID FETCH ..." in the trace. imapflow masks LOGIN passwords and SASL
 * responses itself; every line then goes through redact() in src/log.ts, which removes any
 * registered secret, LOGIN arguments, AUTHENTICATE payloads and base64 SASL blobs again, so the
 * trace stays clean even if an imapflow release logs more than it should.
 */
import type {ImapFlowOptions} from 'imapflow'

import type {Logger} from '../log.js'

interface Entry {
  src?: string
  msg?: string
  cid?: string
  comment?: string
  err?: {message?: string}
  [key: string]: unknown
}

/** Fields repeated on every entry or too bulky to be useful in a trace. */
const SKIPPED = new Set(['src', 'msg', 'cid', 'comment', 'err', 'level', 'time', 'pid', 'hostname', 'data'])

function format(label: string, level: string, entry: unknown): string {
  const e = (typeof entry === 'object' && entry !== null ? entry : {msg: String(entry)}) as Entry
  const who = `${label}${e.cid ? `#${e.cid}` : ''}`
  const direction = e.src === 'c' ? 'C: ' : e.src === 's' ? 'S: ' : `${level}: `
  const extra: string[] = []
  if (e.comment) extra.push(`(${e.comment})`)
  if (e.err?.message) extra.push(`error: ${e.err.message}`)
  for (const [key, value] of Object.entries(e)) {
    if (SKIPPED.has(key) || value === undefined || typeof value === 'object') continue
    extra.push(`${key}=${String(value)}`)
  }
  return `${who} ${direction}${e.msg ?? ''}${extra.length > 0 ? ` ${extra.join(' ')}` : ''}`
}

/** The imapflow logger for one store, or false (no logging at all) when tracing is off. */
export function imapflowLogger(logger: Logger, label: string): NonNullable<ImapFlowOptions['logger']> {
  if (!logger.tracing) return false
  const at = (level: string) => (entry: unknown) => logger.trace(format(label, level, entry))
  return {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
  }
}
