/**
 * STATUS (RFC 9051 6.3.11) on a raw connection (wire.ts): a folder's UIDVALIDITY, UIDNEXT, MESSAGES
 * and, with CONDSTORE, HIGHESTMODSEQ (RFC 7162 3.1.6), without selecting it. The answer names its
 * folder, so several can be in flight on one connection. For the store's peek() (listings.ts
 * peekFolder on a session), over the source's pipelined connection or the destination's APPEND ones.
 */
import type {FolderPeek} from '../stores/store.js'
import {wireError, type WireConnection, type WireResponse} from './wire.js'

const atom = (value: string) => ({type: 'ATOM', value})

/**
 * The folder's STATUS. `path` as the connection names it (namespace prefix included). A server whose
 * answer does not name the folder as it was asked is an error (the caller asks a session instead).
 * onDone: wire.ts's, called in stream order when the answer is read.
 */
export async function statusOf(connection: WireConnection, path: string, condstore: boolean, onDone?: () => void): Promise<FolderPeek> {
  const mailbox = connection.mailbox(path)
  const items = ['UIDVALIDITY', 'UIDNEXT', 'MESSAGES']
  if (condstore && connection.capabilities.has('CONDSTORE')) items.push('HIGHESTMODSEQ')
  let found: Map<string, string> | undefined
  const onUntagged = (response: WireResponse) => {
    if (response.command.toUpperCase() !== 'STATUS' || !sameFolder(response.attributes?.[0]?.value, mailbox.value)) return
    const list = response.attributes?.[1]
    if (!Array.isArray(list)) return
    found = new Map()
    for (let i = 0; i + 1 < list.length; i += 2) found.set(String(list[i]?.value).toUpperCase(), String(list[i + 1]?.value))
  }
  await connection.command('STATUS', [mailbox, items.map(atom)], {onUntagged, onDone})
  const uidValidity = Number(found?.get('UIDVALIDITY'))
  if (!found || !Number.isFinite(uidValidity)) throw wireError(`STATUS of "${path}" answered without the folder's values`, {code: 'EBadStatus'})
  const modseq = found.get('HIGHESTMODSEQ')
  return {
    uidValidity,
    uidNext: Number(found.get('UIDNEXT')) || 0,
    messages: Number(found.get('MESSAGES')) || 0,
    highestModseq: modseq !== undefined && /^\d+$/.test(modseq) ? BigInt(modseq) : undefined,
  }
}

/** INBOX in any case is INBOX (RFC 9051 5.1); other names as sent. */
function sameFolder(answered: unknown, asked: string): boolean {
  if (typeof answered !== 'string') return false
  return answered === asked || (asked === 'INBOX' && answered.toUpperCase() === 'INBOX')
}
