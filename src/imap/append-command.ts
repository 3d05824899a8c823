/**
 * What an APPEND command says (RFC 3502 MULTIAPPEND's form), how many messages go in one and how many
 * such commands are in flight on a connection, and what its tagged OK says of where its messages went
 * (RFC 4315 UIDPLUS), for the APPEND pipeline.
 */
import {formatDateTime, formatFlag} from './imapflow.js'
import type {WireResponse} from './wire.js'
import {statusCode} from './wire-responses.js'

const DEFAULT_BATCH_MESSAGES = 50
/**
 * The bodies are written from the callers' buffers (wire.ts compileCommand), so a batch costs no
 * memory of its own: the bound is for the server's sake (one transaction per command).
 */
const DEFAULT_BATCH_BYTES = 8 * 1024 * 1024
/** Commands in flight per connection: enough to cover a round trip, few enough to keep batches big. */
const DEPTH_MULTIAPPEND = 2
const DEPTH_SINGLE = 16

type Capabilities = Map<string, boolean | number>

/** APPEND commands in flight on a connection at most. */
export function commandsInFlight(capabilities: Capabilities): number {
  return capabilities.has('MULTIAPPEND') ? DEPTH_MULTIAPPEND : DEPTH_SINGLE
}

/**
 * How many of the waiting messages (oldest first) go in the next command: one without MULTIAPPEND;
 * else up to `maxMessages`, and up to `maxBytes` and the server's APPENDLIMIT unless the first message
 * alone is larger (it then goes alone).
 */
export function batchCount(waiting: Array<{raw: Buffer}>, capabilities: Capabilities, bounds: {maxMessages?: number; maxBytes?: number} = {}): number {
  if (!capabilities.has('MULTIAPPEND')) return Math.min(1, waiting.length)
  const limit = capabilities.get('APPENDLIMIT')
  const maxBytes = Math.min(bounds.maxBytes ?? DEFAULT_BATCH_BYTES, typeof limit === 'number' ? limit : Infinity)
  const maxMessages = bounds.maxMessages ?? DEFAULT_BATCH_MESSAGES
  let bytes = 0
  let count = 0
  while (count < waiting.length && count < maxMessages) {
    const size = waiting[count].raw.length
    if (count > 0 && bytes + size > maxBytes) break
    bytes += size
    count++
  }
  return count
}

/**
 * APPEND's arguments after the command name: mailbox (flags) date literal [ (flags) date literal ...]
 * (RFC 3502 6.3.11). `binary` (RFC 3516 BINARY offered): a message with NUL bytes goes as literal8,
 * as imapflow sends it.
 */
export function appendAttributes(mailbox: unknown, binary: boolean, batch: Array<{raw: Buffer; flags: string[]; date: Date}>): unknown[] {
  const attributes: unknown[] = [mailbox]
  for (const item of batch) {
    const flags = item.flags.map((flag) => formatFlag(flag)).filter((flag): flag is string => Boolean(flag))
    attributes.push(flags.map((flag) => ({type: 'ATOM', value: flag})))
    attributes.push({type: 'STRING', value: formatDateTime(item.date)})
    attributes.push({type: 'LITERAL', value: item.raw, isLiteral8: binary && item.raw.indexOf(0) >= 0})
  }
  return attributes
}

/** [APPENDUID uidvalidity uid-set] (RFC 4315): the set expanded in order, when it has one UID per message. */
export function appendUids(response: WireResponse, count: number): {uidValidity: number; uids: number[]} | undefined {
  if (statusCode(response) !== 'APPENDUID') return undefined
  const section = response.attributes[0].section
  const uidValidity = Number(section[1]?.value)
  const set = String(section[2]?.value ?? '')
  const uids: number[] = []
  for (const part of set.split(',')) {
    const [a, b] = part.split(':').map(Number)
    if (!Number.isInteger(a) || (b !== undefined && !Number.isInteger(b))) return undefined
    if (b === undefined) uids.push(a)
    else for (let uid = Math.min(a, b); uid <= Math.max(a, b) && uids.length <= count; uid++) uids.push(uid)
  }
  if (!Number.isInteger(uidValidity) || uids.length !== count) return undefined
  return {uidValidity, uids}
}
