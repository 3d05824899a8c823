/**
 * Paths of a run: `~` expanded, paths written in the config file taken from its directory, and the
 * state database's default name and place (pure: nothing here touches a file).
 */
import {createHash} from 'node:crypto'
import {isAbsolute, join, resolve} from 'node:path'

import type {Side} from './endpoint.js'
import {isMaildirConfig, type EndpointConfig, type MaildirConfig, type StoreConfig} from './schema.js'

const SAFE_NAME = /[^A-Za-z0-9._@-]/g
const MAX_NAME = 200

/**
 * When the destination is a Maildir, the state database lives in it by default, so a backup carries
 * its own state (a file, so neither Dovecot nor mailferry take it for a folder).
 */
export const MAILDIR_STATE_FILE = 'mailferry-state.sqlite'

type StateIdentity = Pick<EndpointConfig, 'user' | 'host' | 'port'> | MaildirConfig

/**
 * "alice@old.example.com-993--alice@new.example.com-993.sqlite": only [A-Za-z0-9._@-], no secret.
 * When characters had to be replaced (or the name shortened), a hash of the exact endpoints is added
 * so that two different pairs never share a state file.
 */
export function defaultStateFileName(source: StateIdentity, dest: StateIdentity): string {
  const maildir = (e: StateIdentity): e is MaildirConfig => 'kind' in e && e.kind === 'maildir'
  const identity = (e: StateIdentity) =>
    maildir(e) ? `maildir-${e.path.split('/').filter(Boolean).pop() ?? 'root'}` : `${e.user}@${e.host.toLowerCase()}-${e.port}`
  const exact = `${identity(source)}--${identity(dest)}`
  let name = exact.replace(SAFE_NAME, '-')
  // A Maildir is named by its last path component: the hash of the whole path tells two apart.
  if (name !== exact || name.length > MAX_NAME || maildir(source) || maildir(dest)) {
    const exactly = (e: StateIdentity) => (maildir(e) ? [`maildir:${e.path}`] : [e.user, e.host, e.port])
    const hash = createHash('sha256').update(JSON.stringify([...exactly(source), ...exactly(dest)])).digest('hex')
    name = `${name.slice(0, MAX_NAME - 9)}-${hash.slice(0, 8)}`
  }
  return `${name}.sqlite`
}

/** Without --state or `state:`: inside a Maildir destination, else one file per account pair. */
export function defaultStatePath(endpoints: Record<Side, StoreConfig>, defaultStateDir: string): string {
  if (isMaildirConfig(endpoints.dest)) return join(endpoints.dest.path, MAILDIR_STATE_FILE)
  return join(defaultStateDir, defaultStateFileName(endpoints.source, endpoints.dest))
}

/** `~` and `~/x` → the home directory. */
export function expandHome(path: string, home: string): string {
  if (path === '~') return home
  if (path.startsWith('~/')) return join(home, path.slice(2))
  return path
}

/** A path written in the config file: `~` expanded, relative paths taken from the file's directory. */
export function resolveFilePath(path: string, baseDir: string | undefined, home: string): string {
  const expanded = expandHome(path, home)
  return baseDir === undefined || isAbsolute(expanded) ? expanded : resolve(baseDir, expanded)
}
