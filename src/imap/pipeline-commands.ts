/**
 * Commands besides APPEND on the APPEND pipeline's raw connections (append-pipeline.ts), many in
 * flight at once: CREATE, SUBSCRIBE and UNSUBSCRIBE of many folders (folder-commands.ts), a folder's
 * STATUS, and flag changes (SELECT, then UID STORE). A run over a link creates folders, and a re-run
 * looks at every folder and updates flags in many, while the destination's sessions are half its
 * connections (docs/design.md, "Pipelined STATUS").
 */
import type {FolderPeek, FolderStatus, MessageFlags} from '../stores/store.js'
import type {AppendPipeline} from './append-pipeline.js'
import {ExamineReport, ListingRows, examineArguments} from './examine.js'
import {wireError, type WireConnection, type WireResponse} from './wire.js'
import {statusOf} from './wire-status.js'

/** The folder last selected on a connection (by `selecting`; APPENDs need none). */
const selected = new WeakMap<WireConnection, string>()

const atom = (value: string) => ({type: 'ATOM', value})

/**
 * One command per folder (CREATE, SUBSCRIBE, UNSUBSCRIBE), all in flight at once on one of the
 * pipeline's connections (one is opened when none is). Settles with each command's response or
 * error, in order; rejects only when no connection can be had.
 */
export async function folderCommandsOn(pipeline: AppendPipeline, name: string, paths: string[]): Promise<Array<PromiseSettledResult<WireResponse>>> {
  const connection = await pipeline.spare()
  return Promise.allSettled(paths.map((path) => connection.command(name, [connection.mailbox(pipeline.folderName(path))])))
}

/**
 * A folder's STATUS (wire-status.ts) on one of the pipeline's connections. Not on one that has the
 * folder selected: Dovecot answers that from the connection's last view of it (the caller asks a
 * session, which sends a NOOP first).
 */
export async function peekOn(pipeline: AppendPipeline, path: string, condstore: boolean): Promise<FolderPeek> {
  const connection = await pipeline.spare()
  const name = pipeline.folderName(path)
  if (selected.get(connection) === name) throw wireError(`folder "${path}" is selected on this connection`, {code: 'ESelected'})
  return statusOf(connection, name, condstore)
}

/**
 * A folder's SELECT (RFC 9051 6.3.2) on one of the pipeline's connections, read as a session's: its
 * status with PERMANENTFLAGS, and HIGHESTMODSEQ where asked for (RFC 7162 3.1.8). The APPENDs behind
 * it need no selected folder; flag changes send their own SELECT.
 */
export async function selectOn(pipeline: AppendPipeline, path: string, condstore: boolean): Promise<FolderStatus> {
  const connection = await pipeline.spare()
  const name = pipeline.folderName(path)
  const report = new ExamineReport()
  await selecting(connection, name, () => [
    connection.command('SELECT', examineArguments(connection, name, condstore), {onUntagged: (response, oldest) => oldest && report.read(response)}),
  ])
  return report.status(true)
}

/**
 * UID and flags of every message of a folder (listings.ts listFlags without CHANGEDSINCE): a SELECT
 * and a `UID FETCH 1:* (UID FLAGS)` sent back to back on one of the pipeline's connections. Rows are
 * taken only while the FETCH is the oldest command in flight: whatever comes after it on that
 * connection and could answer rows of this folder (flag changes) sends a SELECT first, which the
 * server runs once the FETCH is done. A listing longer than the folder closes the connection and
 * fails (examine.ts ListingRows).
 */
export async function listFlagsOn(pipeline: AppendPipeline, path: string, place: {where: string; path: string}): Promise<MessageFlags[]> {
  const connection = await pipeline.spare()
  const name = pipeline.folderName(path)
  const report = new ExamineReport()
  const listing = new ListingRows(connection, () => report.exists, place)
  await selecting(
    connection,
    name,
    () => [
      connection.command('SELECT', [connection.mailbox(name)], {onUntagged: (response, oldest) => oldest && report.read(response)}),
      connection.command('UID FETCH', [{type: 'SEQUENCE', value: '1:*'}, [atom('UID'), atom('FLAGS')]], {onUntagged: (response, oldest) => oldest && listing.read(response)}),
    ],
    () => listing.failure,
  )
  // As a session, which lists nothing of a folder that is empty now.
  return report.exists === 0 ? [] : listing.rows().map((row) => ({uid: row.uid, flags: row.flags ?? []}))
}

/**
 * UID STORE +FLAGS.SILENT and -FLAGS.SILENT (RFC 9051 6.4.6) of these UID ranges of one folder, sent
 * right behind a SELECT of it on one of the pipeline's connections, all at once. They go out back to
 * back, so no other folder's SELECT comes between them; and a SELECT that fails leaves no folder
 * selected (RFC 9051 6.3.2), so the STOREs behind it fail rather than change another folder. Throws
 * the first failure; the caller sends them again on a session (they are idempotent).
 */
export async function storeFlagsOn(pipeline: AppendPipeline, path: string, ranges: string[], add: string[], remove: string[]): Promise<void> {
  const connection = await pipeline.spare()
  const name = pipeline.folderName(path)
  await selecting(connection, name, () => {
    const commands = [connection.command('SELECT', [connection.mailbox(name)])]
    for (const range of ranges) {
      for (const [change, flags] of [['+', add], ['-', remove]] as const) {
        if (flags.length > 0) commands.push(connection.command('UID STORE', [{type: 'SEQUENCE', value: range}, atom(`${change}FLAGS.SILENT`), flags.map(atom)]))
      }
    }
    return commands
  })
}

/**
 * Sends `commands` (a SELECT of `name` first) and waits for all of them, noting `name` as selected on
 * the connection first (peekOn asks). Throws the first failure (or `failure()` when it says more),
 * after which the connection is no longer taken to have `name` selected.
 */
async function selecting(connection: WireConnection, name: string, commands: () => Array<Promise<unknown>>, failure?: () => unknown): Promise<void> {
  selected.set(connection, name)
  const failed = (await Promise.allSettled(commands())).find((result): result is PromiseRejectedResult => result.status === 'rejected')
  if (!failed) return
  if (selected.get(connection) === name) selected.delete(connection)
  throw failure?.() ?? failed.reason
}
