/**
 * The pool's sessions as a store uses them for one folder: a task on a session with the folder
 * selected (EXAMINE when read-only), its view of the folder synced once per pass; or on any session,
 * with what it throws reported as the folder's.
 */
import {falseAnswer, translateFolderError} from './errors.js'
import type {ConnectionPool} from './pool.js'
import {skipListBeforeSelect, type ImapClient} from './session.js'

export class FolderSessions {
  readonly #pool: ConnectionPool
  readonly #where: string
  readonly #readOnly: boolean
  /** Per folder, a counter bumped at each pass (newPass); per session, the pass its view is from. */
  readonly #epochs = new Map<string, number>()
  readonly #syncedEpoch = new WeakMap<ImapClient, string>()

  /** where: the store's "source alice@host:port", for errors. */
  constructor(pool: ConnectionPool, where: string, readOnly: boolean) {
    this.#pool = pool
    this.#where = where
    this.#readOnly = readOnly
  }

  /** A new pass over this folder: every session re-syncs its view of it once before using it (inFolder). */
  newPass(path: string): void {
    this.#epochs.set(path, (this.#epochs.get(path) ?? 0) + 1)
  }

  /** Which pass over the folder this is (changes at newPass): a connection's view of it from an earlier one is stale. */
  pass(path: string): string {
    return String(this.#epochs.get(path) ?? 0)
  }

  /** fn on a pooled session; what it throws is reported as this folder's ('(folder list)': the account's). */
  onSession<T>(path: string, fn: (client: ImapClient) => Promise<T>): Promise<T> {
    return this.#pool.use(async (client) => {
      try {
        return await fn(client)
      } catch (error) {
        throw translateFolderError(error, this.#where, path)
      }
    })
  }

  /** fn with a session that has `path` selected. */
  inFolder<T>(path: string, fn: (client: ImapClient) => Promise<T>): Promise<T> {
    return this.#pool.use(async (client) => {
      let lock
      try {
        const selectedBefore = client.mailbox ? client.mailbox.path : undefined
        skipListBeforeSelect(client, path)
        lock = await client.getMailboxLock(path, {readOnly: this.#readOnly})
        // A session that kept the folder selected sees it as of its last command: messages added
        // since by others stay invisible to FETCH until it syncs. Sync once per pass (newPass).
        const epoch = `${this.#epochs.get(path) ?? 0}\u0000${path}`
        if (selectedBefore === path && this.#syncedEpoch.get(client) !== epoch) await client.noop()
        // imapflow's NOOP swallows a lost connection; a dead session's missing mailbox must never
        // be read as an empty folder, so it is a lost connection here (retried by the pool).
        if (!client.usable || !client.mailbox) throw falseAnswer(client, 'SELECT')
        this.#syncedEpoch.set(client, epoch)
      } catch (error) {
        lock?.release()
        throw translateFolderError(error, this.#where, path)
      }
      try {
        return await fn(client)
      } catch (error) {
        throw translateFolderError(error, this.#where, path)
      } finally {
        lock.release()
      }
    }, path)
  }
}
