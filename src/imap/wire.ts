/**
 * A raw IMAP connection that keeps several commands in flight (RFC 9051 5.5: a client MAY send
 * another command without waiting for the completion result of the previous one). imapflow sends one
 * command at a time; this connection is used for APPEND only (append-pipeline.ts), built on imapflow's
 * own wire modules: ImapStream (framing), the parser and the compiler. Connect and TLS settings come
 * from imapflowOptions(), so both kinds of session follow the same TLS/STARTTLS policy; login is
 * wire-login.ts.
 *
 * Errors carry imapflow's shapes (code, responseStatus, serverResponseCode, responseText), so
 * src/imap/errors.ts translates them the same way.
 */
import net from 'node:net'
import tls from 'node:tls'
import type {ImapFlowOptions} from 'imapflow'

import {redact, type Logger} from '../log.js'
import {compiler, encodePath, ImapStream, parser} from './imapflow.js'
import {SESSION_LIMITS, SILENCE_LIMIT_MS} from './limits.js'
import {capabilityMap, responseText, statusCode} from './wire-responses.js'

type Attribute = any

const CRLF = Buffer.from('\r\n')
/** No byte either way for this long while commands wait for an answer: dead, as for sessions (limits.ts). */
const SILENCE_MS = SILENCE_LIMIT_MS

export interface WireResponse {
  tag: string
  command: string
  attributes: Attribute[]
}

/** One literal boundary of a command: the command waits for "+" here unless it is non-synchronizing. */
export interface CommandOptions {
  /** Called with each continuation request ("+") that is not for a literal (AUTHENTICATE). */
  onContinue?: (response: WireResponse) => Buffer | string
  /** Called once every byte of the command was handed to the socket. */
  onSent?: () => void
  /** Text for the trace instead of the command (AUTHENTICATE, LOGIN). */
  traceAs?: string
  /**
   * Called with each untagged response that arrives while the command is in flight (EXAMINE's EXISTS,
   * FETCH's rows); `oldest`: no command sent before it is still unanswered, so a server that runs
   * commands in order sent this one for it (or unasked).
   */
  onUntagged?: (response: WireResponse, oldest: boolean) => void
  /** Called at its tagged answer, in the order of the responses (before the command's promise settles). */
  onDone?: () => void
}

interface Pending {
  tag: string
  name: string
  resolve: (response: WireResponse) => void
  reject: (error: Error) => void
  /** The chunks still to write, each a list of buffers: the first goes now, each further one after a "+". */
  chunks: Buffer[][]
  options: CommandOptions
  /** Some bytes were written: after a lost connection its outcome is unknown. */
  started: boolean
}

/** An Error with imapflow's fields. */
export function wireError(message: string, fields: Record<string, unknown>): Error {
  return Object.assign(new Error(message), fields)
}

export class WireConnection {
  capabilities = new Map<string, boolean | number>()
  readonly label: string
  readonly #log: Logger
  #socket: net.Socket | tls.TLSSocket
  #stream: ImapStream
  #tagCounter = 0
  /** Commands sent or being sent, by tag, in order. */
  readonly #inFlight = new Map<string, Pending>()
  /** Commands waiting for the write side: a command whose literal waits for "+" holds it. */
  readonly #writeQueue: Pending[] = []
  /** The command that owns the write side (its literals are being sent). */
  #writing?: Pending
  #closed?: Error
  #greeting?: {resolve: (r: WireResponse) => void; reject: (e: Error) => void}
  literalPlus = false
  literalMinus = false
  /**
   * Called whenever a command ends (answered, or failed with the connection), whoever sent it: the
   * load went down. The APPEND pipeline dispatches then (others send commands on its connections).
   */
  onSettled?: () => void
  /** Called once when the connection is closed, for whatever reason (its opener gives back its place). */
  onClose?: () => void

  static #ids = 0

  private constructor(socket: net.Socket | tls.TLSSocket, label: string, logger: Logger) {
    this.label = `${label}${++WireConnection.#ids}`
    this.#log = logger
    this.#socket = socket
    this.#stream = this.#attach(socket)
  }

  /** Connect (TCP or implicit TLS) and wait for the greeting. */
  static async connect(options: ImapFlowOptions, label: string, logger: Logger): Promise<{connection: WireConnection; greeting: WireResponse}> {
    const socket = await new Promise<net.Socket | tls.TLSSocket>((resolve, reject) => {
      const timeout = setTimeout(() => fail(wireError('Connection timed out', {code: 'CONNECT_TIMEOUT'})), 30_000)
      const fail = (error: Error) => {
        clearTimeout(timeout)
        socket.destroy()
        reject(options.secure ? Object.assign(error, {tlsFailed: isTlsError(error)}) : error)
      }
      const socket = options.secure
        ? tls.connect({...tlsSettings(options), host: options.host, port: options.port}, () => done())
        : net.connect({host: options.host, port: options.port!}, () => done())
      const done = () => {
        clearTimeout(timeout)
        socket.off('error', fail)
        resolve(socket)
      }
      socket.once('error', fail)
    })
    socket.setNoDelay(true)
    const connection = new WireConnection(socket, label, logger)
    const greeting = await connection.#waitGreeting()
    return {connection, greeting}
  }

  /** STARTTLS (RFC 9051 6.2.1): the command, then a TLS handshake over the same socket. */
  async startTls(options: ImapFlowOptions): Promise<void> {
    await this.command('STARTTLS', [])
    const plain = this.#socket
    plain.unpipe(this.#stream)
    plain.removeAllListeners('data')
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const upgraded = tls.connect({...tlsSettings(options), socket: plain}, () => resolve(upgraded))
      upgraded.once('error', (error) => reject(Object.assign(error, {tlsFailed: true})))
    })
    this.#socket = secure
    this.#stream = this.#attach(secure)
  }

  get usable(): boolean {
    return !this.#closed
  }

  /**
   * A folder name as a command's attribute on this connection: INBOX in any case as INBOX, the rest
   * in modified UTF-7, as imapflow sends it without UTF8=ACCEPT (never enabled on these connections).
   */
  mailbox(path: string): {type: 'ATOM'; value: string} {
    const encoding = {enabled: new Set<string>(), capabilities: this.capabilities} as unknown as Parameters<typeof encodePath>[0]
    return {type: 'ATOM', value: encodePath(encoding, path.toUpperCase() === 'INBOX' ? 'INBOX' : path)}
  }

  /** Commands sent and not yet answered, plus those waiting to be written. */
  get load(): number {
    return this.#inFlight.size
  }

  /**
   * Send a command now (pipelined behind the others) and resolve with its tagged OK; rejects with a
   * NO/BAD error (responseStatus) or a connection error (code). Literals use LITERAL+ (RFC 7888)
   * when the server has it, LITERAL- up to 4096 bytes, else wait for "+" each.
   */
  command(name: string, attributes: Attribute[], options: CommandOptions = {}): Promise<WireResponse> {
    if (this.#closed) return Promise.reject(this.#closed)
    const tag = `P${++this.#tagCounter}`
    const chunks = compileCommand(tag, name, attributes, {literalPlus: this.literalPlus, literalMinus: this.literalMinus})
    return new Promise<WireResponse>((resolve, reject) => {
      const pending: Pending = {tag, name, resolve, reject, chunks, options, started: false}
      this.#inFlight.set(tag, pending)
      this.#writeQueue.push(pending)
      this.#pump()
    })
  }

  /** Was any byte of this command's tag written? (For the caller of a failed command.) */
  static started(error: unknown): boolean {
    return (error as {commandStarted?: boolean}).commandStarted === true
  }

  async logout(): Promise<void> {
    if (this.#closed) return
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.command('LOGOUT', []).catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, 2000)))])
    clearTimeout(timer)
    this.close()
  }

  close(error?: Error): void {
    if (this.#closed) return
    this.#closed = error ?? wireError('Connection closed', {code: 'NoConnection'})
    this.#socket.destroy()
    this.#greeting?.reject(this.#closed)
    for (const pending of this.#inFlight.values()) {
      pending.reject(Object.assign(wireError(this.#closed.message, {code: (this.#closed as {code?: string}).code ?? 'EConnectionClosed'}), {commandStarted: pending.started}))
    }
    this.#inFlight.clear()
    this.#writeQueue.length = 0
    this.#writing = undefined
    this.onSettled?.()
    this.onClose?.()
  }

  #attach(socket: net.Socket | tls.TLSSocket): ImapStream {
    const stream = new ImapStream({logger: false, ...SESSION_LIMITS})
    socket.pipe(stream)
    stream.on('readable', () => this.#read(stream))
    stream.on('error', (error: Error) => this.close(wireError(error.message, {code: 'EConnectionClosed'})))
    socket.on('error', (error: Error & {code?: string}) => this.close(wireError(error.message, {code: error.code ?? 'EConnectionClosed'})))
    socket.on('close', () => this.close(wireError('Connection closed by the server', {code: 'EConnectionClosed'})))
    socket.setTimeout(SILENCE_MS, () => {
      if (this.#inFlight.size > 0) this.close(wireError(`No answer from the server for ${SILENCE_MS / 1000} s`, {code: 'ETIMEOUT'}))
    })
    return stream
  }

  #waitGreeting(): Promise<WireResponse> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.close(wireError('Greeting timed out', {code: 'GREETING_TIMEOUT'})), 16_000)
      this.#greeting = {
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      }
    })
  }

  /** Writes the next chunk of the command that owns the write side, or starts the next command. */
  #pump(): void {
    while (!this.#closed) {
      if (!this.#writing) {
        const next = this.#writeQueue.shift()
        if (!next) return
        this.#writing = next
      }
      const current = this.#writing
      if (!current.started) this.#trace('C', `${current.tag} ${current.options.traceAs ?? current.name}${describeLiterals(current.chunks.length)}`)
      const chunk = current.chunks.shift()!
      current.started = true
      // The message bodies are written as they are (no copy): one writev for the chunk.
      this.#socket.cork()
      for (const buffer of chunk) this.#socket.write(buffer)
      if (current.chunks.length > 0) {
        this.#socket.uncork()
        return // a synchronizing literal: wait for "+"
      }
      this.#socket.write(CRLF)
      this.#socket.uncork()
      this.#writing = undefined
      current.options.onSent?.()
    }
  }

  #read(stream: ImapStream): void {
    let data: {payload: Buffer; literals: Buffer[]; next: () => void} | null
    while ((data = stream.read()) !== null) {
      const item = data
      parser(item.payload, {literals: item.literals}).then(
        (response) => {
          try {
            this.#handle(response as WireResponse)
          } catch (error) {
            // A response we cannot act on leaves the session in an unknown state: end it.
            this.close(wireError(`cannot handle a response: ${(error as Error).message}`, {code: 'EConnectionClosed'}))
          } finally {
            item.next()
          }
        },
        (error: Error) => {
          item.next()
          this.close(wireError(`unparsable response: ${error.message}`, {code: 'EConnectionClosed'}))
        },
      )
    }
  }

  #handle(response: WireResponse): void {
    const text = responseText(response)
    this.#trace('S', `${response.tag} ${response.command}${text ? ` ${text}` : ''}`)
    if (this.#greeting) {
      const greeting = this.#greeting
      this.#greeting = undefined
      if (response.command.toUpperCase() === 'BYE') return greeting.reject(wireError(text || 'Connection refused', {code: 'EConnectionClosed', reason: text}))
      return greeting.resolve(response)
    }
    if (response.tag === '+') {
      const current = this.#writing
      if (current && current.chunks.length > 0) return this.#pump()
      const asking = [...this.#inFlight.values()].find((p) => p.options.onContinue)
      if (asking) {
        this.#socket.write(Buffer.concat([Buffer.from(asking.options.onContinue!(response)), Buffer.from('\r\n')]))
        this.#trace('C', '(continuation response hidden)')
      }
      return
    }
    if (response.tag === '*') {
      const command = response.command.toUpperCase()
      if (command === 'BYE') {
        this.close(wireError(text || 'Server closed the connection', {code: 'EConnectionClosed', reason: text}))
        return
      }
      if (command === 'CAPABILITY') this.capabilities = capabilityMap(response.attributes)
      let oldest = true
      for (const pending of this.#inFlight.values()) {
        pending.options.onUntagged?.(response, oldest)
        oldest = false
      }
      return
    }
    const pending = this.#inFlight.get(response.tag)
    if (!pending) return
    this.#inFlight.delete(response.tag)
    pending.options.onDone?.()
    this.onSettled?.()
    const status = response.command.toUpperCase()
    if (status === 'OK') return pending.resolve(response)
    const code = statusCode(response)
    // A refusal while its literal still waits for "+" (RFC 9051 7.5): the command is over.
    if (this.#writing === pending) {
      this.#writing = undefined
      this.#pump()
    }
    pending.reject(
      wireError(text || `${pending.name} failed`, {
        responseStatus: status,
        responseText: text,
        serverResponseCode: code,
        commandStarted: true,
      }),
    )
  }

  #trace(direction: 'C' | 'S', line: string): void {
    if (this.#log.tracing) this.#log.trace(redact(`${this.label} ${direction}: ${line.slice(0, 300)}`))
  }
}

/**
 * The command as chunks of buffers (each chunk after the first waits for "+"). Literals among the
 * top-level attributes (APPEND's messages) are not copied: their bytes go to the socket as the
 * caller's buffers, and only the text between them is compiled (by imapflow's compiler, which
 * quotes and checks it). Other commands are compiled whole.
 */
export function compileCommand(
  tag: string,
  name: string,
  attributes: Attribute[],
  options: {literalPlus: boolean; literalMinus: boolean},
): Buffer[][] {
  if (!attributes.some((attribute) => attribute?.type === 'LITERAL')) {
    return (compiler({tag, command: name, attributes}, {asArray: true, ...options}) as Buffer[]).map((chunk) => [chunk])
  }
  const chunks: Buffer[][] = []
  let chunk: Buffer[] = []
  let text: Attribute[] = []
  let first = true
  const flushText = () => {
    if (first) chunk.push(compiler({tag, command: name, attributes: text}) as Buffer)
    else if (text.length > 0) chunk.push(Buffer.from(' '), compiler({attributes: text}) as Buffer)
    first = false
    text = []
  }
  for (const attribute of attributes) {
    if (attribute?.type !== 'LITERAL') {
      text.push(attribute)
      continue
    }
    flushText()
    const value = Buffer.isBuffer(attribute.value) ? attribute.value : Buffer.from(String(attribute.value ?? ''))
    // RFC 7888: LITERAL+ always non-synchronizing; LITERAL- up to 4096 bytes.
    const plus = options.literalPlus || (options.literalMinus && value.length <= 4096)
    chunk.push(Buffer.from(` ${attribute.isLiteral8 ? '~' : ''}{${value.length}${plus ? '+' : ''}}\r\n`))
    if (!plus) {
      chunks.push(chunk)
      chunk = []
    }
    chunk.push(value)
  }
  flushText()
  chunks.push(chunk)
  return chunks
}

/** " (3 synchronizing literals)": how many times the command waits for "+" (never the bytes). */
function describeLiterals(chunks: number): string {
  return chunks > 1 ? ` (${chunks - 1} synchronizing literals)` : ''
}

function tlsSettings(options: ImapFlowOptions): tls.ConnectionOptions {
  const settings = (options.tls ?? {}) as tls.ConnectionOptions
  const servername = options.servername ?? (net.isIP(options.host!) ? undefined : options.host)
  return {...settings, servername}
}

function isTlsError(error: Error & {code?: string}): boolean {
  return /SSL|TLS|CERT/.test(error.code ?? '') || /SSL|TLS|certificate/i.test(error.message)
}
