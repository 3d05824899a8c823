/**
 * The transfer encodings long-lines writes (RFC 2045 6.7 quoted-printable, 6.8 base64), pure, in
 * lines of at most 76 characters. Each keeps the decoded bytes exactly: what a mail client shows.
 * Line ends are the message's own (CRLF, or LF in an LF-only message).
 */

/** RFC 2045 6.7 and 6.8: encoded lines of at most 76 characters. */
export const ENCODED_LINE = 76

const CR = 0x0d
const LF = 0x0a
const EQUALS = 0x3d
const DASH = 0x2d
const HEX = Buffer.from('0123456789ABCDEF', 'latin1')
const CHUNK = 64 * 1024

/**
 * Quoted-printable tokens (one byte, or `=XX`) into lines of at most 75 characters and a soft break
 * `=`; a '-' that would start a soft-broken line is written =2D (no line it starts can read as a
 * boundary). Writes into growing chunks: a 5 MB line is not a 5-million-element array.
 */
class QpWriter {
  readonly #eol: Buffer
  readonly #chunks: Buffer[] = []
  #buf = Buffer.allocUnsafe(CHUNK)
  #pos = 0
  #column = 0
  #softStart = false

  constructor(eol: string) {
    this.#eol = Buffer.from(eol, 'latin1')
  }

  #room(size: number): void {
    if (this.#pos + size <= this.#buf.length) return
    this.#chunks.push(this.#buf.subarray(0, this.#pos))
    this.#buf = Buffer.allocUnsafe(CHUNK)
    this.#pos = 0
  }

  #put(bytes: Buffer | number[]): void {
    this.#room(bytes.length)
    for (const byte of bytes) this.#buf[this.#pos++] = byte
  }

  /** One token: `size` bytes of `data` from `at` (a literal byte, or an =XX as written). */
  token(data: Buffer | number[], at: number, size: number): void {
    if (this.#column + size > ENCODED_LINE - 1) {
      this.#put([EQUALS, ...this.#eol])
      this.#column = 0
      this.#softStart = true
    }
    if (this.#column === 0 && this.#softStart && size === 1 && data[at] === DASH) return this.escape(DASH)
    this.#room(size)
    for (let i = 0; i < size; i++) this.#buf[this.#pos++] = data[at + i]
    this.#column += size
    this.#softStart = false
  }

  escape(byte: number): void {
    this.token([EQUALS, HEX[byte >> 4], HEX[byte & 15]], 0, 3)
  }

  hardBreak(): void {
    this.#put(this.#eol)
    this.#column = 0
    this.#softStart = false
  }

  done(): Buffer {
    return Buffer.concat([...this.#chunks, this.#buf.subarray(0, this.#pos)])
  }
}

/** Does the line end `eol` start at data[i]? */
const eolAt = (data: Buffer, i: number, crlf: boolean) => (crlf ? data[i] === CR && data[i + 1] === LF : data[i] === LF)

/**
 * Quoted-printable of the content: the message's line end is a hard line break; every other CR or LF
 * is =0D or =0A; `=`, a space or tab before a line end (or at the end), and bytes outside 33-126 are
 * =XX; lines are broken softly at 76 characters.
 */
export function encodeQuotedPrintable(content: Buffer, eol: string): Buffer {
  const writer = new QpWriter(eol)
  const crlf = eol === '\r\n'
  for (let i = 0; i < content.length; ) {
    if (eolAt(content, i, crlf)) {
      writer.hardBreak()
      i += eol.length
      continue
    }
    const byte = content[i]
    const lineEnds = i + 1 >= content.length || eolAt(content, i + 1, crlf)
    if ((byte >= 33 && byte <= 126 && byte !== EQUALS) || ((byte === 0x20 || byte === 0x09) && !lineEnds)) writer.token(content, i, 1)
    else writer.escape(byte)
    i++
  }
  return writer.done()
}

/**
 * Quoted-printable lines over the limit broken softly (`=` + line end) at 76 characters, never inside
 * an =XX (a `=` and the two bytes after it are one token; a line ending in `=`, a soft break already,
 * keeps it last); a literal '-' that would start a new line becomes =2D. Nothing is decoded, so any
 * decoder gets the bytes it got before. Lines within the limit are copied as they are.
 */
export function refoldQuotedPrintable(region: Buffer, eol: string, limit: number): Buffer {
  const out: Buffer[] = []
  for (let start = 0; start < region.length; ) {
    const lf = region.indexOf(LF, start)
    const next = lf === -1 ? region.length : lf + 1
    const textEnd = lf === -1 ? region.length : lf > start && region[lf - 1] === CR ? lf - 1 : lf
    if (textEnd - start <= limit) out.push(region.subarray(start, next))
    else {
      const writer = new QpWriter(eol)
      for (let i = start; i < textEnd; ) {
        const size = region[i] === EQUALS ? Math.min(3, textEnd - i) : 1
        writer.token(region, i, size)
        i += size
      }
      out.push(writer.done(), region.subarray(textEnd, next))
    }
    start = next
  }
  return Buffer.concat(out)
}

/** Base64 of the content in lines of 76 characters; a final line end when the content ended with one. */
export function encodeBase64(content: Buffer, eol: string): Buffer {
  return wrap(content.toString('base64'), eol, endsWithEol(content, eol))
}

/** Base64 text with its line ends taken out and put back every 76 characters: the same characters, the same bytes decoded. */
export function rewrapBase64(region: Buffer, eol: string): Buffer {
  return wrap(region.toString('latin1').replace(/[\r\n]/g, ''), eol, endsWithEol(region, eol))
}

const endsWithEol = (data: Buffer, eol: string) => data.length > 0 && data[data.length - 1] === LF && (eol === '\n' || data[data.length - 2] === CR)

function wrap(chars: string, eol: string, finalEol: boolean): Buffer {
  const lines: string[] = []
  for (let i = 0; i < chars.length; i += ENCODED_LINE) lines.push(chars.slice(i, i + ENCODED_LINE))
  return Buffer.from(lines.join(eol) + (finalEol && lines.length > 0 ? eol : ''), 'latin1')
}
