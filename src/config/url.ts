/**
 * IMAP endpoint URLs (pure).
 *
 *   imaps://user@host[:port]   implicit TLS, default port 993
 *   imap://user@host[:port]    STARTTLS (required), default port 143
 *
 * The user is percent-decoded (`alice%40example.com` → `alice@example.com`; an unencoded
 * `alice@example.com@host` also works: the last @ ends the user). IPv6 hosts go in brackets:
 * `imaps://u@[::1]:993`. A password in the URL is refused: it would be visible in the process list.
 *
 * Messages never echo the whole URL, only the part that is wrong, so a password typed into a URL by
 * mistake cannot leak through an error message.
 */

import {DEFAULT_PORTS, type TlsMode} from './schema.js'
import {ConfigKeyError, checkHost, checkPort} from './checks.js'

export interface ImapUrl {
  host: string
  /** Undefined when the URL has no port: the default then follows the final TLS mode. */
  port?: number
  tls: TlsMode
  user: string
}

export interface UrlContext {
  /** What the message starts with: "--source" or "source.url". */
  label: string
  /** How to give a password instead ("use --source-password-env or --source-password-file"). */
  secretAdvice: string
  /** For YAML keys: the key path, so the error can point at the line. */
  keyPath?: readonly string[]
}

const SCHEMES: Record<string, TlsMode> = {imaps: 'implicit', imap: 'starttls'}
const SHAPE = 'imaps://user@host[:port] (implicit TLS) or imap://user@host[:port] (STARTTLS)'

export function parseImapUrl(text: string, context: UrlContext): ImapUrl {
  const fail = (detail: string): never => {
    throw new ConfigKeyError(context.label, detail, context.keyPath)
  }
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(text.trim())
  if (!match) return fail(`expected ${SHAPE}, got a value without a scheme://`)
  const scheme = match[1].toLowerCase()
  const tls = SCHEMES[scheme]
  if (tls === undefined) return fail(`unsupported scheme "${scheme}://": use ${SHAPE}`)

  const rest = match[2]
  const authorityEnd = rest.search(/[/?#]/)
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd)
  const trailer = authorityEnd === -1 ? '' : rest.slice(authorityEnd)

  const at = authority.lastIndexOf('@')
  const userinfo = at === -1 ? '' : authority.slice(0, at)
  // Checked before anything else so that no later message can involve the password. A password
  // may itself contain / ? or #, which would end the authority early: then an @ follows later.
  const lastAt = rest.lastIndexOf('@')
  if (userinfo.includes(':') || (lastAt > authority.length && rest.slice(0, lastAt).includes(':'))) {
    return fail(`do not put passwords in URLs; ${context.secretAdvice}`)
  }
  if (trailer !== '' && trailer !== '/') {
    // Not echoed when it holds an @: it could then be the end of a mistyped user:password.
    const shown = trailer.includes('@') ? 'a path' : JSON.stringify(trailer)
    return fail(`unexpected ${shown} after the host: mailferry copies every folder; give only ${SHAPE}`)
  }
  if (at === -1 || userinfo === '') return fail(`no user in the URL: expected ${SHAPE}`)

  const user = decodeUser(userinfo, fail)
  const {host, port} = splitHostPort(authority.slice(at + 1), context, fail)
  return port === undefined ? {host, tls, user} : {host, port, tls, user}
}

function decodeUser(userinfo: string, fail: (detail: string) => never): string {
  let user: string
  try {
    user = decodeURIComponent(userinfo)
  } catch {
    return fail('the user is not correctly percent-encoded (write @ as %40, % as %25)')
  }
  if (/;auth=/i.test(user)) return fail('";AUTH=" in the URL is not supported: give only the user name')
  if (/[\u0000-\u001f\u007f]/.test(user)) return fail('the user contains control characters')
  if (user.trim() === '') return fail(`no user in the URL: expected ${SHAPE}`)
  return user
}

function splitHostPort(
  hostport: string,
  context: UrlContext,
  fail: (detail: string) => never,
): {host: string; port?: number} {
  let hostText: string
  let portText: string | undefined
  if (hostport.startsWith('[')) {
    const close = hostport.indexOf(']')
    if (close === -1) return fail('an IPv6 address is missing its closing ]')
    hostText = hostport.slice(0, close + 1)
    const after = hostport.slice(close + 1)
    if (after !== '' && !after.startsWith(':')) return fail(`unexpected ${JSON.stringify(after)} after the IPv6 address`)
    if (after !== '') portText = after.slice(1)
  } else {
    const colons = hostport.split(':').length - 1
    if (colons > 1) return fail('an IPv6 address must be written in brackets: imaps://user@[::1]:993')
    const colon = hostport.indexOf(':')
    hostText = colon === -1 ? hostport : hostport.slice(0, colon)
    if (colon !== -1) portText = hostport.slice(colon + 1)
  }
  if (hostText === '' || hostText === '[]') return fail(`no host in the URL: expected ${SHAPE}`)
  const host = checkHost(hostText, context.label, context.keyPath)
  if (portText === undefined) return {host}
  const port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : portText
  return {host, port: checkPort(port, `${context.label} port`, context.keyPath)}
}

/** The port to use: the one given, or the default for the (final) TLS mode. */
export function portOrDefault(port: number | undefined, tls: TlsMode): number {
  return port ?? DEFAULT_PORTS[tls]
}


// ---------------------------------------------------------------------------------------------
// maildir: URLs

/**
 *   maildir:/abs/path   maildir:relative/path   maildir:~/backup   maildir:///abs/path
 *
 * The path is taken literally (no percent-decoding: spaces and '%' are fine as they are); the
 * caller expands `~` and resolves a relative path (against the current directory for flags, the
 * config file's directory for YAML).
 */
export function isMaildirUrl(text: string): boolean {
  return /^maildir:/i.test(text.trim())
}

/** The path of a `maildir:` URL, not yet resolved. */
export function parseMaildirUrl(text: string, context: Pick<UrlContext, 'label' | 'keyPath'>): string {
  const fail = (detail: string): never => {
    throw new ConfigKeyError(context.label, detail, context.keyPath)
  }
  const trimmed = text.trim()
  if (!isMaildirUrl(trimmed)) return fail('expected maildir:/path')
  let path = trimmed.slice('maildir:'.length)
  if (path.startsWith('//')) {
    // maildir:///abs/path, as in file:///abs/path; a host part means nothing here.
    if (!path.startsWith('///')) return fail('maildir://host/... is not supported: write maildir:/path or maildir:///path')
    path = path.slice(2)
  }
  if (path === '') return fail('no path after maildir: (write maildir:/path/to/backup)')
  if (/[\u0000-\u001f\u007f]/.test(path)) return fail('the path contains control characters')
  return path
}
