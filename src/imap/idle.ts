/**
 * A folder watched from a session of its own that stays in IMAP IDLE (RFC 2177), for `watch`
 * (ImapStore.watch, the Store contract's optional watch()).
 */
import type {FolderWatch} from '../stores/store.js'
import {translateFolderError} from './errors.js'
import {selectedStatus} from './listings.js'
import type {ImapClient} from './session.js'

/**
 * Calls onChange whenever the folder changes (new message, flag change, expunge). Resolves once the
 * folder is selected on `client` (a new session, which this watch owns); stop() logs it out. A
 * dropped session calls onChange too and sets `closed`.
 */
export async function watchFolder(client: ImapClient, path: string, where: string, onChange: () => void, inTurns = false): Promise<FolderWatch> {
  let stopped = false
  let closed = false
  for (const event of ['exists', 'expunge', 'flags']) client.on(event, () => onChange())
  client.on('close', () => {
    closed = true
    if (!stopped) onChange()
  })
  try {
    await client.mailboxOpen(path, {readOnly: true})
  } catch (error) {
    client.close()
    throw translateFolderError(error, where, path)
  }
  const selected = selectedStatus(client)
  const idleLoop = async () => {
    // idle() returns when IDLE is broken (every few minutes by imapflow, or on a dropped connection).
    while (!stopped && client.usable) await client.idle().catch(() => undefined)
  }
  void idleLoop()
  return {
    inTurns,
    selected,
    get closed() {
      return closed
    },
    async stop() {
      stopped = true
      if (client.usable) await client.logout().catch(() => client.close())
      else client.close()
    },
  }
}
