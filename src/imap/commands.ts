/**
 * The commands a session sends that change an account (UID STORE, UID EXPUNGE, UID MOVE, UID COPY,
 * CREATE, SUBSCRIBE, a single APPEND), sent so that a refusal is an error. imapflow's own helpers
 * answer a tagged NO with `false` (and fall back to a plain EXPUNGE without UIDPLUS), which would let
 * the caller record as done what the server refused. Here a NO/BAD throws CommandRefusedError with
 * the server's words, and a lost connection throws ConnectError (transient), so the pool may retry
 * the idempotent ones.
 */
import {CommandRefusedError, MailferryError} from '../errors.js'
import type {AppendResult} from '../stores/store.js'
import {falseAnswer, isConnectionError, isPushback, serverText, translateAppendError, translateFolderError} from './errors.js'
import {encodePath, normalizePath} from './imapflow.js'
import type {ImapClient} from './session.js'

interface Attribute {
  type: string
  value: string
}

interface ExecResponse {
  response: unknown
  next(): void
}

/** imapflow's command queue: the same path its own helpers use, without their error swallowing. */
type Exec = (command: string, attributes: Array<Attribute | Attribute[]>, options?: unknown) => Promise<ExecResponse>

/** Sends one command; `untagged` sees the untagged OK responses sent before its tagged answer. */
async function run(
  client: ImapClient,
  where: string,
  folder: string,
  command: string,
  attributes: Array<Attribute | Attribute[]>,
  untagged?: (response: unknown) => void,
) {
  const exec = (client as unknown as {exec: Exec}).exec.bind(client)
  try {
    const response = await exec(command, attributes, untagged ? {untagged: {OK: async (u: unknown) => untagged(u)}} : undefined)
    response.next()
    return response.response
  } catch (error) {
    if (error instanceof MailferryError || isConnectionError(error) || isPushback(error)) throw translateFolderError(error, where, folder)
    throw new CommandRefusedError(`${where}: folder "${folder}": the server refused ${command}: ${serverText(error)}`, {cause: error})
  }
}

const sequence = (range: string): Attribute => ({type: 'SEQUENCE', value: range})
const atoms = (values: string[]): Attribute[] => values.map((value) => ({type: 'ATOM', value}))

/** RFC 3501 6.4.6: UID STORE range +FLAGS.SILENT (...) / -FLAGS.SILENT (...) on the selected folder. */
export async function storeFlags(
  client: ImapClient,
  where: string,
  folder: string,
  range: string,
  change: '+' | '-',
  flags: string[],
): Promise<void> {
  if (flags.length === 0) return
  await run(client, where, folder, 'UID STORE', [sequence(range), {type: 'ATOM', value: `${change}FLAGS.SILENT`}, atoms(flags)])
}

/** The server can remove exactly the given UIDs (RFC 4315 UID EXPUNGE). */
export function canExpungeByUid(client: ImapClient): boolean {
  return client.capabilities.has('UIDPLUS')
}

/**
 * RFC 4315 2.1: mark the UIDs \Deleted, then UID EXPUNGE them, so no other message flagged \Deleted
 * (by the user, by another client) is removed. Without UIDPLUS there is no such command: a plain
 * EXPUNGE would remove every \Deleted message of the folder, so it is refused here, never sent.
 */
export async function expungeUids(client: ImapClient, where: string, folder: string, range: string): Promise<void> {
  if (!canExpungeByUid(client)) {
    throw new CommandRefusedError(
      `${where}: folder "${folder}": the server lacks UIDPLUS (RFC 4315), so messages cannot be deleted without also removing every other message flagged \\Deleted`,
    )
  }
  await storeFlags(client, where, folder, range, '+', ['\\Deleted'])
  await run(client, where, folder, 'UID EXPUNGE', [sequence(range)])
}

/** The server can move a message by UID without a plain EXPUNGE (RFC 6851 MOVE, or UIDPLUS). */
export function canMoveByUid(client: ImapClient): boolean {
  return client.capabilities.has('MOVE') || canExpungeByUid(client)
}

/** RFC 4315 COPYUID "[COPYUID uidvalidity src-set dst-set]" from a response, for one source UID. */
function copiedUid(response: unknown, uid: number): {uid?: number; uidValidity?: number} {
  const text = JSON.stringify(response ?? '')
  const match = /COPYUID[^0-9]+(\d+)[^0-9]+(\d+)[^0-9]+(\d+)/i.exec(text)
  if (!match || Number(match[2]) !== uid) return {}
  return {uidValidity: Number(match[1]), uid: Number(match[3])}
}

/**
 * RFC 6851 UID MOVE when offered, else UID COPY + UID EXPUNGE (RFC 4315). The new UID comes from
 * COPYUID when the server sends it (in the tagged OK or an untagged OK before it).
 */
export async function moveUid(
  client: ImapClient,
  where: string,
  folder: string,
  uid: number,
  toPath: string,
): Promise<{uid?: number; uidValidity?: number}> {
  if (!canMoveByUid(client)) {
    throw new CommandRefusedError(`${where}: folder "${folder}": the server offers neither MOVE nor UIDPLUS; messages are not moved`)
  }
  // As imapflow's own move/copy helpers send a mailbox name (modified UTF-7 unless UTF8=ACCEPT).
  const target: Attribute = {type: 'ATOM', value: encodePath(client, normalizePath(client, toPath))}
  if (client.capabilities.has('MOVE')) {
    let untagged: unknown
    const response = await run(client, where, folder, 'UID MOVE', [sequence(String(uid)), target], (u) => (untagged = u))
    const found = copiedUid(response, uid)
    return found.uid === undefined ? copiedUid(untagged, uid) : found
  }
  const response = await run(client, where, folder, 'UID COPY', [sequence(String(uid)), target])
  await expungeUids(client, where, folder, String(uid))
  return copiedUid(response, uid)
}

/** CREATE; a folder that exists already (ALREADYEXISTS, RFC 5530) is no error. */
export async function createFolderOn(client: ImapClient, where: string, path: string): Promise<void> {
  try {
    await client.mailboxCreate(path)
  } catch (error) {
    if ((error as {serverResponseCode?: string}).serverResponseCode === 'ALREADYEXISTS') return
    throw translateFolderError(error, where, path)
  }
}

/** SUBSCRIBE, or UNSUBSCRIBE; imapflow answers a refused (or cut-off) one with false. */
export async function subscribeOn(client: ImapClient, where: string, path: string, subscribe: boolean): Promise<void> {
  const command = subscribe ? 'SUBSCRIBE' : 'UNSUBSCRIBE'
  if (!(await (subscribe ? client.mailboxSubscribe(path) : client.mailboxUnsubscribe(path)))) {
    throw client.usable ? new CommandRefusedError(`${where}: folder "${path}": the server refused ${command}`) : falseAnswer(client, command)
  }
}

/**
 * One APPEND on the session (imapflow's); `beforeSend` runs just before it is sent, and its error
 * is thrown as it is (nothing is sent). The APPEND's errors are translated: a connection lost after
 * it was sent gives ConnectError {outcomeUnknown}.
 */
export async function appendOn(client: ImapClient, where: string, path: string, message: {raw: Buffer; flags: string[]; date: Date}, beforeSend: () => void): Promise<AppendResult> {
  // Not translated: a failed barrier (StateWriter.commit) stops the run, it is not the message's failure.
  beforeSend()
  let response
  try {
    response = await client.append(path, message.raw, message.flags, message.date)
  } catch (error) {
    throw translateAppendError(error, where, path)
  }
  if (!response) return {}
  return {uid: response.uid, uidValidity: response.uidValidity === undefined ? undefined : Number(response.uidValidity)}
}
