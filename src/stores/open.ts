/**
 * The store factory: one side of a run's config -> a Store (not yet opened: call open()).
 * `imaps://`/`imap://` accounts get an ImapStore, `maildir:` directories a MaildirStore; the engine
 * sees only the Store contract either way.
 */
import {isMaildirConfig, type StoreConfig} from '../config/schema.js'
import type {ImapStoreOptions} from './imap-options.js'
import {ImapStore} from './imap-store.js'
import {MaildirStore} from './maildir/maildir-store.js'
import type {Store} from './store.js'

/** ImapStore's options without the endpoint; a Maildir uses label and readOnly and ignores the rest. */
export type OpenStoreOptions = Omit<ImapStoreOptions, 'endpoint'>

export function openStore(config: StoreConfig, options: OpenStoreOptions): Store {
  if (isMaildirConfig(config)) {
    // A read-only destination is a dry run: before the first backup its directory does not exist yet.
    const missingOk = options.readOnly && options.label === 'destination'
    return new MaildirStore({label: options.label, root: config.path, readOnly: options.readOnly, missingOk})
  }
  return new ImapStore({...options, endpoint: config})
}
