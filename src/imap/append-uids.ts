/** What an APPEND's tagged OK says of where its messages went (RFC 4315 UIDPLUS). */
import type {WireResponse} from './wire.js'
import {statusCode} from './wire-responses.js'

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
