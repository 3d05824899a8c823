/**
 * What an APPEND command says (RFC 3502 MULTIAPPEND's form) and what its tagged OK says of where its
 * messages went (RFC 4315 UIDPLUS), for the APPEND pipeline.
 */
import {formatDateTime, formatFlag} from './imapflow.js'
import type {WireResponse} from './wire.js'
import {statusCode} from './wire-responses.js'

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
