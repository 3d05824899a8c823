/**
 * A tiny IMAP source that lies: one INBOX, any login accepted, and per message what its body fetch
 * really sends. Plays a broken or hostile server for the size-limit tests (no real server can be
 * told to do this). It speaks just enough IMAP4rev1 (RFC 3501) for mailferry reading a source:
 * CAPABILITY, LOGIN, LIST, LSUB, STATUS, SELECT/EXAMINE, UID FETCH, NOOP, CLOSE, LOGOUT.
 */
import {createServer, type Server, type Socket} from 'node:net'

import type {SeedMessage} from './messages.js'

export interface HostileMessage extends SeedMessage {
  uid: number
  /** RFC822.SIZE as listed; default the real size. */
  listedSize?: number
  /**
   * What BODY[] sends: the message (default); a literal announced at `bytes` whose bytes stream
   * until the client hangs up; or a response line that never ends (no CRLF), `bytes` at most.
   */
  body?: {kind: 'literal' | 'endless-line'; bytes: number}
}

export class HostileImapServer {
  readonly #messages: HostileMessage[]
  readonly #sockets = new Set<Socket>()
  #server?: Server
  port = 0
  /** Bytes sent for the hostile bodies, so a test can show how much was offered. */
  floodBytes = 0

  /** Commands (STATUS, EXAMINE...) whose first occurrence is never answered: a hung server process. */
  readonly #silentOnce: Set<string>

  /** A listing (UID FETCH 1:*) goes on after the real messages with made-up ones, up to this many bytes. */
  readonly #endlessListing: number

  /** The first body fetch (UID FETCH ... BODY.PEEK[]) is answered as Microsoft 365 throttles: BAD, with a backoff time. */
  #throttleOnce: boolean
  /** Body fetches answered, throttled ones included. */
  bodyFetches = 0

  /** The first this many LOGINs are answered as Dovecot does while its auth back end is slow. */
  readonly #busyLogins: number
  /** LOGINs answered, refused ones included. */
  logins = 0
  /** Every command received, in order (command names only). */
  readonly heard: string[] = []

  /** Connections open now. */
  get connections(): number {
    return this.#sockets.size
  }

  constructor(
    messages: HostileMessage[],
    options: {silentOnce?: string[]; endlessListingBytes?: number; throttleOnce?: boolean; busyLogins?: number} = {},
  ) {
    this.#messages = [...messages].sort((a, b) => a.uid - b.uid)
    this.#silentOnce = new Set(options.silentOnce ?? [])
    this.#endlessListing = options.endlessListingBytes ?? 0
    this.#throttleOnce = options.throttleOnce ?? false
    this.#busyLogins = options.busyLogins ?? 0
  }

  async start(): Promise<void> {
    this.#server = createServer((socket) => this.#serve(socket))
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve))
    this.port = (this.#server.address() as {port: number}).port
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise((resolve) => this.#server?.close(resolve))
  }

  #serve(socket: Socket): void {
    this.#sockets.add(socket)
    socket.on('close', () => this.#sockets.delete(socket))
    socket.on('error', () => {})
    socket.write('* OK [CAPABILITY IMAP4rev1] hostile test server ready\r\n')
    let pending = ''
    socket.on('data', (chunk) => {
      pending += chunk.toString('latin1')
      let end
      while ((end = pending.indexOf('\r\n')) >= 0) {
        const line = pending.slice(0, end)
        pending = pending.slice(end + 2)
        void this.#command(socket, line)
      }
    })
  }

  async #command(socket: Socket, line: string): Promise<void> {
    const [tag, rawCommand = '', ...rest] = line.split(' ')
    const command = rawCommand.toUpperCase()
    const args = rest.join(' ')
    const ok = (text = `${command} completed`) => socket.write(`${tag} OK ${text}\r\n`)
    const uidNext = (this.#messages.at(-1)?.uid ?? 0) + 1
    this.heard.push(command)
    if (this.#silentOnce.delete(command)) return
    switch (command) {
      case 'CAPABILITY':
        socket.write('* CAPABILITY IMAP4rev1\r\n')
        return void ok()
      case 'LOGIN':
        if (this.logins++ < this.#busyLogins) return void socket.write(`${tag} NO [UNAVAILABLE] Temporary authentication failure. [host:2026-12-04 14:55:39]\r\n`)
        return void ok('[CAPABILITY IMAP4rev1] Logged in')
      case 'LIST':
        if (/""\s*$/.test(args)) socket.write('* LIST (\\Noselect) "/" ""\r\n')
        else socket.write('* LIST (\\HasNoChildren) "/" INBOX\r\n')
        return void ok()
      case 'LSUB':
        socket.write('* LSUB () "/" INBOX\r\n')
        return void ok()
      case 'STATUS':
        socket.write(`* STATUS INBOX (MESSAGES ${this.#messages.length} UIDNEXT ${uidNext} UIDVALIDITY 7)\r\n`)
        return void ok()
      case 'SELECT':
      case 'EXAMINE':
        socket.write(
          `* ${this.#messages.length} EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n` +
            `* OK [PERMANENTFLAGS ()] none\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT ${uidNext}] ok\r\n`,
        )
        return void ok(`[${command === 'EXAMINE' ? 'READ-ONLY' : 'READ-WRITE'}] ${command} completed`)
      case 'UID':
        if (rest[0]?.toUpperCase() === 'FETCH') return this.#fetch(socket, tag, rest[1], rest.slice(2).join(' ').toUpperCase())
        return void socket.write(`${tag} BAD not here\r\n`)
      case 'NOOP':
      case 'CHECK':
      case 'CLOSE':
      case 'UNSELECT':
        return void ok()
      case 'LOGOUT':
        socket.end(`* BYE bye\r\n${tag} OK LOGOUT completed\r\n`)
        return
      default:
        socket.write(`${tag} BAD unknown command\r\n`)
    }
  }

  async #fetch(socket: Socket, tag: string, set: string, items: string): Promise<void> {
    if (items.includes('BODY.PEEK[]') && this.bodyFetches++ === 0 && this.#throttleOnce) {
      return void socket.write(`${tag} BAD Request is throttled. Suggested Backoff Time: 300 milliseconds\r\n`)
    }
    for (const message of this.#messages.filter((m) => inSet(m.uid, set))) {
      const seq = this.#messages.indexOf(message) + 1
      const parts = [`UID ${message.uid}`]
      if (items.includes('FLAGS')) parts.push(`FLAGS (${message.flags.join(' ')})`)
      if (items.includes('RFC822.SIZE')) parts.push(`RFC822.SIZE ${message.listedSize ?? message.raw.length}`)
      if (items.includes('INTERNALDATE')) parts.push(`INTERNALDATE "${imapDate(message.internalDate)}"`)
      const head = message.raw.subarray(0, message.raw.indexOf('\r\n\r\n') + 4)
      if (items.includes('HEADER.FIELDS')) {
        const id = /^message-id:.*\r\n/im.exec(head.toString('latin1'))?.[0] ?? ''
        parts.push(`BODY[HEADER.FIELDS (MESSAGE-ID)] {${id.length + 2}}\r\n${id}\r\n`)
      } else if (items.includes('BODY.PEEK[HEADER]')) {
        parts.push(`BODY[HEADER] {${head.length}}\r\n${head.toString('latin1')}`)
      }
      if (!items.includes('BODY.PEEK[]')) {
        socket.write(`* ${seq} FETCH (${parts.join(' ')})\r\n`)
        continue
      }
      if (message.body?.kind === 'literal') {
        socket.write(`* ${seq} FETCH (${parts.join(' ')} BODY[] {${message.body.bytes}}\r\n`)
        return this.#flood(socket, message.body.bytes, 'x')
      }
      if (message.body?.kind === 'endless-line') {
        socket.write(`* ${seq} FETCH (${parts.join(' ')} BODY[] "`)
        return this.#flood(socket, message.body.bytes, 'y')
      }
      socket.write(`* ${seq} FETCH (${parts.join(' ')} BODY[] {${message.raw.length}}\r\n`)
      socket.write(message.raw)
      socket.write(')\r\n')
    }
    // A listing is a 1:* fetch of anything but whole bodies (flags, or sizes and Message-IDs).
    if (this.#endlessListing > 0 && set.includes('*') && !/BODY(\.PEEK)?\[\]/.test(items)) await this.#floodListing(socket)
    socket.write(`${tag} OK FETCH completed\r\n`)
  }

  /** FETCH responses for messages the folder does not have, as fast as the client reads, until it hangs up. */
  async #floodListing(socket: Socket): Promise<void> {
    let uid = (this.#messages.at(-1)?.uid ?? 0) + 1
    let seq = this.#messages.length + 1
    while (this.floodBytes < this.#endlessListing && !socket.destroyed && socket.writable) {
      let lines = ''
      for (let i = 0; i < 1000; i++) lines += `* ${seq++} FETCH (UID ${uid++} FLAGS (\\Seen))\r\n`
      this.floodBytes += lines.length
      if (!socket.write(lines)) await drained(socket)
    }
  }

  /** Sends up to `bytes` bytes of filler, as fast as the client reads, until it hangs up. */
  async #flood(socket: Socket, bytes: number, fill: string): Promise<void> {
    const chunk = Buffer.alloc(256 * 1024, fill)
    let left = bytes
    while (left > 0 && !socket.destroyed && socket.writable) {
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left)
      left -= piece.length
      this.floodBytes += piece.length
      if (!socket.write(piece)) await drained(socket)
    }
  }
}

/** Resolves when the socket can take more, or has closed. */
function drained(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done)
      socket.off('close', done)
      resolve()
    }
    socket.on('drain', done)
    socket.on('close', done)
  })
}

function inSet(uid: number, set: string): boolean {
  return set.split(',').some((range) => {
    const [from, to = from] = range.split(':').map((n) => (n === '*' ? Number.POSITIVE_INFINITY : Number(n)))
    return uid >= Math.min(from, to) && uid <= Math.max(from, to)
  })
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
function imapDate(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${pad(date.getUTCDate())}-${MONTHS[date.getUTCMonth()]}-${date.getUTCFullYear()} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
}
