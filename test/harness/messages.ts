/**
 * Deterministic test messages: realistic RFC 5322 mail from a seeded PRNG (never Math.random),
 * and a fixed set of hard cases (nastyMessages) that a byte-exact copier must survive.
 */

export interface SeedMessage {
  /** The exact bytes to APPEND. */
  raw: Buffer
  /** System flags and keywords to APPEND with (never \Recent). */
  flags: string[]
  /** INTERNALDATE to APPEND with; whole seconds. */
  internalDate: Date
  /** What the message is for; diagnostics only (not part of the stored message). */
  name?: string
}

export interface GenerateOptions {
  /** PRNG seed; the same seed gives byte-identical output. Default 1. */
  seed?: number
  /** Mean message size in bytes (sizes vary exponentially around it). Default 4000. */
  meanSize?: number
  /** Extra messages appended at the end, each with a base64 attachment of that many (decoded) bytes. */
  largeSizes?: number[]
}

/** mulberry32: tiny, fast, good enough for test data, and reproducible everywhere. */
export function createRng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Rng = () => number

const pick = <T>(rng: Rng, list: readonly T[]): T => list[Math.floor(rng() * list.length)]
const chance = (rng: Rng, p: number) => rng() < p
const intBetween = (rng: Rng, min: number, max: number) => min + Math.floor(rng() * (max - min + 1))

const FIRST = ['Anna', 'Ben', 'Chloé', 'David', 'Eva', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas', 'Kim', 'Lena', 'Marco', 'Nora', 'Oskar', 'Priya']
const LAST = ['Schmidt', 'Nguyen', 'García', 'Okafor', 'Müller', 'Rossi', 'Kowalski', 'Tanaka', 'Dubois', 'Svensson', 'Haddad', 'Ivanova']
const DOMAINS = ['example.com', 'example.org', 'mail.example.net', 'lists.example.io', 'corp.example']
const TOPICS = ['budget', 'release', 'meeting notes', 'invoice', 'travel plans', 'server migration', 'quarterly report', 'design review', 'lunch', 'contract', 'holiday schedule', 'bug triage']
const WORDS = ('the of and to in is that for it as with was on be at by this had not are but from or have an they which one you were her all she there would their we him been has when who will more no if out so said what up its about into than them can only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three').split(' ')
const FLAG_ODDS: [string, number][] = [
  ['\\Seen', 0.7], ['\\Answered', 0.15], ['\\Flagged', 0.1], ['\\Draft', 0.03], ['\\Deleted', 0.03],
  ['$Forwarded', 0.08], ['$Label1', 0.05], ['Project-X', 0.05], ['NonJunk', 0.1], ['$MDNSent', 0.03],
]
const ZONES = [0, 60, 120, -300, -480, 330, 540, -180, 600]
/** 2005-01-01 .. 2024-12-31, as seconds since the epoch. */
const DATE_RANGE: [number, number] = [1104537600, 1735603200]

export function generateMessages(count: number, options: GenerateOptions = {}): SeedMessage[] {
  const rng = createRng(options.seed ?? 1)
  const meanSize = options.meanSize ?? 4000
  const messages: SeedMessage[] = []
  for (let i = 0; i < count; i++) messages.push(generateOne(rng, i, meanSize))
  for (const [j, size] of (options.largeSizes ?? []).entries()) messages.push(generateLarge(rng, count + j, size))
  return messages
}

function generateOne(rng: Rng, index: number, meanSize: number): SeedMessage {
  const env = envelope(rng, index)
  // Exponential spread around the mean, clipped: most mail is small, some is big.
  const target = Math.min(meanSize * 20, Math.max(300, Math.round(-Math.log(1 - rng()) * meanSize)))
  const kind = rng()
  let headers: string[]
  let body: string
  if (kind < 0.6) {
    headers = [...env.headers, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=us-ascii', 'Content-Transfer-Encoding: 7bit']
    body = paragraphs(rng, target)
  } else if (kind < 0.85) {
    const boundary = `=_alt_${index}_${Math.floor(rng() * 1e9).toString(36)}`
    const text = paragraphs(rng, target / 2)
    const html = `<html><body>${text.split('\r\n\r\n').map((p) => `<p>${p.replace(/\r\n/g, ' ')}</p>`).join('\r\n')}</body></html>\r\n`
    headers = [...env.headers, 'MIME-Version: 1.0', `Content-Type: multipart/alternative; boundary="${boundary}"`]
    body = `This is a multi-part message in MIME format.\r\n\r\n--${boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n${text}\r\n--${boundary}\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n${html}\r\n--${boundary}--\r\n`
  } else {
    // Non-ASCII text the proper way: RFC 2047 subject, quoted-printable UTF-8 body.
    headers = [...env.headers.map((h) => (h.startsWith('Subject:') ? `Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_${index}_=E2=80=93_${pick(rng, TOPICS).replace(/ /g, '_')}?=` : h)),
      'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable']
    body = `Sch=C3=B6ne Gr=C3=BC=C3=9Fe aus K=C3=B6ln,\r\n\r\n${paragraphs(rng, target)}`
  }
  return {raw: Buffer.from(`${headers.join('\r\n')}\r\n\r\n${body}`, 'utf8'), flags: randomFlags(rng), internalDate: env.internalDate, name: `generated #${index}`}
}

function generateLarge(rng: Rng, index: number, attachmentBytes: number): SeedMessage {
  const env = envelope(rng, index)
  const boundary = `=_mixed_${index}`
  const data = Buffer.alloc(attachmentBytes)
  for (let k = 0; k < attachmentBytes; k++) data[k] = Math.floor(rng() * 256)
  const head = [...env.headers, 'MIME-Version: 1.0', `Content-Type: multipart/mixed; boundary="${boundary}"`].join('\r\n')
  const text = `--${boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nThe file you asked for is attached (${attachmentBytes} bytes).\r\n\r\n`
  const part = `--${boundary}\r\nContent-Type: application/octet-stream; name="data-${index}.bin"\r\nContent-Disposition: attachment; filename="data-${index}.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n`
  const raw = Buffer.concat([Buffer.from(`${head}\r\n\r\n${text}${part}`), base64Lines(data), Buffer.from(`--${boundary}--\r\n`)])
  return {raw, flags: randomFlags(rng), internalDate: env.internalDate, name: `large #${index} (${attachmentBytes} byte attachment)`}
}

function envelope(rng: Rng, index: number): {headers: string[]; internalDate: Date} {
  const from = person(rng)
  const to = person(rng)
  const seconds = intBetween(rng, DATE_RANGE[0], DATE_RANGE[1])
  // Delivery happens a little after the Date header (5 s .. 6 h): the two always differ.
  const internalDate = new Date((seconds + intBetween(rng, 5, 6 * 3600)) * 1000)
  const subject = `${pick(rng, ['', 'Re: ', 'Fwd: ', 'RE: '])}${capitalize(pick(rng, TOPICS))} ${intBetween(rng, 1, 999)}`
  const headers = [
    `Return-Path: <${from.address}>`,
    `Received: from mx${intBetween(rng, 1, 9)}.${pick(rng, DOMAINS)} (mx.${pick(rng, DOMAINS)} [192.0.2.${intBetween(rng, 1, 254)}])\r\n\tby mail.example.com with ESMTPS id ${Math.floor(rng() * 1e12).toString(36)}\r\n\tfor <${to.address}>; ${rfc5322Date(seconds + 3, 0)}`,
    `Date: ${rfc5322Date(seconds, pick(rng, ZONES))}`,
    `From: ${from.display}`,
    `To: ${to.display}`,
    ...(chance(rng, 0.2) ? [`Cc: ${person(rng).display}`] : []),
    `Subject: ${subject}`,
    `Message-ID: <${index}.${Math.floor(rng() * 1e12).toString(36)}@${from.domain}>`,
    ...(subject.startsWith('R') ? [`In-Reply-To: <parent-${index}@${from.domain}>`, `References: <parent-${index}@${from.domain}>`] : []),
  ]
  return {headers, internalDate}
}

function person(rng: Rng): {display: string; address: string; domain: string} {
  const first = pick(rng, FIRST)
  const last = pick(rng, LAST)
  const domain = pick(rng, DOMAINS)
  // Local parts and display names stay ASCII here; 8-bit headers are a nastyMessages() case.
  const local = `${first}.${last}`.normalize('NFD').replace(/[^A-Za-z.]/g, '').toLowerCase()
  const address = `${local}@${domain}`
  return {display: `${ascii(first)} ${ascii(last)} <${address}>`, address, domain}
}

const ascii = (text: string) => text.normalize('NFD').replace(/[^\x20-\x7e]/g, '')
const capitalize = (text: string) => text.charAt(0).toUpperCase() + text.slice(1)

/** Plain text of about `size` bytes, wrapped at 72 columns, CRLF line ends. */
function paragraphs(rng: Rng, size: number): string {
  const lines: string[] = []
  let length = 0
  let line = ''
  while (length < size) {
    const word = pick(rng, WORDS)
    if (line.length + word.length + 1 > 72) {
      lines.push(line)
      length += line.length + 2
      line = ''
      if (chance(rng, 0.15)) {
        lines.push('')
        length += 2
      }
    }
    line = line ? `${line} ${word}` : capitalize(word)
  }
  lines.push(`${line}.`)
  return `${lines.join('\r\n')}\r\n`
}

function randomFlags(rng: Rng): string[] {
  return FLAG_ODDS.filter(([, p]) => chance(rng, p)).map(([flag]) => flag)
}

/** RFC 5322 date-time for `seconds` (UTC epoch) shown in the zone `offsetMinutes`. */
export function rfc5322Date(seconds: number, offsetMinutes: number): string {
  const local = new Date((seconds + offsetMinutes * 60) * 1000)
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][local.getUTCDay()]
  const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][local.getUTCMonth()]
  const two = (n: number) => String(n).padStart(2, '0')
  const sign = offsetMinutes < 0 ? '-' : '+'
  const zone = `${sign}${two(Math.floor(Math.abs(offsetMinutes) / 60))}${two(Math.abs(offsetMinutes) % 60)}`
  return `${day}, ${two(local.getUTCDate())} ${month} ${local.getUTCFullYear()} ${two(local.getUTCHours())}:${two(local.getUTCMinutes())}:${two(local.getUTCSeconds())} ${zone}`
}

function base64Lines(data: Buffer): Buffer {
  const encoded = data.toString('base64')
  const lines: string[] = []
  for (let k = 0; k < encoded.length; k += 76) lines.push(encoded.slice(k, k + 76))
  return Buffer.from(`${lines.join('\r\n')}\r\n`)
}

// ---------------------------------------------------------------------------------------------
// Hard cases

const crlf = (lines: string[]) => lines.join('\r\n')
const at = (iso: string) => new Date(iso)

/**
 * One message per hard case, in a fixed order; `name` says which case it is. Every message
 * has a distinct INTERNALDATE except the byte-identical pair, which also shares it.
 */
export function nastyMessages(): SeedMessage[] {
  const common = (subject: string, date: string) => [
    'From: Nasty Tester <nasty@example.com>',
    'To: Receiver <receiver@example.org>',
    `Subject: ${subject}`,
    `Date: ${date}`,
  ]
  const sharedId = 'Message-ID: <shared-id-0001@example.com>'
  // The shared-ID pair A/B: same headers, same size, different body.
  const sharedHeaders = crlf([...common('Same headers, same size', 'Mon, 03 Jun 2019 10:00:00 +0200'), sharedId, ''])
  const identical = Buffer.from(crlf([...common('I exist twice', 'Tue, 04 Jun 2019 11:00:00 +0000'), 'Message-ID: <twin@example.com>', '', 'Two byte-identical copies of me are stored.', '']))

  return [
    // No Message-ID: a copier cannot match it by ID and must use another key.
    {name: 'no Message-ID', raw: Buffer.from(crlf([...common('No Message-ID here', 'Sat, 01 Jun 2019 09:00:00 +0000'), '', 'This message has no Message-ID header.', ''])),
      flags: ['\\Seen'], internalDate: at('2019-06-01T09:00:07Z')},

    // Three DIFFERENT messages sharing one Message-ID; A and B also share all headers and size.
    {name: 'shared Message-ID A (same headers and size as B)', raw: Buffer.from(`${sharedHeaders}\r\nVersion A of the body text.\r\n`),
      flags: ['\\Seen', '$Label1'], internalDate: at('2019-06-03T08:00:10Z')},
    {name: 'shared Message-ID B (same headers and size as A)', raw: Buffer.from(`${sharedHeaders}\r\nVersion B of the body text.\r\n`),
      flags: ['\\Flagged'], internalDate: at('2019-06-03T08:00:11Z')},
    {name: 'shared Message-ID C (different headers and size)', raw: Buffer.from(crlf([...common('Shares the ID, nothing else', 'Mon, 03 Jun 2019 12:00:00 +0200'), sharedId, '', 'A third, longer and different message with the same Message-ID.', ''])),
      flags: [], internalDate: at('2019-06-03T10:00:12Z')},

    // Two byte-identical copies (same bytes and date; flags differ): both must exist in the target.
    {name: 'byte-identical copy 1', raw: identical, flags: ['\\Seen'], internalDate: at('2019-06-04T11:00:05Z')},
    {name: 'byte-identical copy 2', raw: Buffer.from(identical), flags: ['\\Seen', '\\Answered'], internalDate: at('2019-06-04T11:00:05Z')},

    // Bare LF line ends throughout (how most archived mail is stored; IMAP wants CRLF).
    {name: 'bare LF line ends', raw: Buffer.from([...common('Bare LF', 'Wed, 05 Jun 2019 12:00:00 +0000'), 'Message-ID: <bare-lf@example.com>', '', 'Every line of this message', 'ends in a bare LF.', ''].join('\n')),
      flags: ['\\Seen'], internalDate: at('2019-06-05T12:00:30Z')},

    // Mixed: CRLF headers, a body with both CRLF and bare LF.
    {name: 'mixed CRLF and LF', raw: Buffer.from(`${crlf([...common('Mixed line ends', 'Thu, 06 Jun 2019 12:00:00 +0000'), 'Message-ID: <mixed-eol@example.com>', ''])}\r\nline one ends CRLF\r\nline two ends LF\nline three ends CRLF\r\nlast line LF\n`),
      flags: ['NonJunk'], internalDate: at('2019-06-06T12:00:31Z')},

    // Raw UTF-8 in headers (not RFC 2047-encoded), as sent by sloppy or SMTPUTF8 software.
    {name: '8-bit UTF-8 headers', raw: Buffer.from(crlf(['From: Jürgen Müller <juergen@example.com>', 'To: Zoë <zoe@example.org>', 'Subject: Grüße aus Köln – 東京 ✓', 'Date: Fri, 07 Jun 2019 12:00:00 +0200', 'Message-ID: <utf8-headers@example.com>', 'Content-Type: text/plain; charset=utf-8', '', 'Body: schöne Grüße.', '']), 'utf8'),
      flags: ['\\Seen', 'Project-X'], internalDate: at('2019-06-07T10:00:40Z')},

    // Raw latin1 in headers: the bytes are not valid UTF-8.
    {name: '8-bit latin1 headers', raw: Buffer.from(crlf(['From: Jürgen Müller <juergen@example.com>', 'To: receiver@example.org', 'Subject: Grüße, café, façade', 'Date: Sat, 08 Jun 2019 12:00:00 +0200', 'Message-ID: <latin1-headers@example.com>', 'Content-Type: text/plain; charset=iso-8859-1', '', 'Body: Grüße.', '']), 'latin1'),
      flags: [], internalDate: at('2019-06-08T10:00:41Z')},

    // A 3000-octet line: more than the 998 RFC 5322 allows.
    {name: 'line of 3000 octets', raw: Buffer.from(crlf([...common('Very long line', 'Sun, 09 Jun 2019 12:00:00 +0000'), 'Message-ID: <long-line@example.com>', '', 'x'.repeat(3000), 'short line', ''])),
      flags: ['\\Flagged'], internalDate: at('2019-06-09T12:00:42Z')},

    // Empty body: headers, the blank separator line, nothing after.
    {name: 'empty body', raw: Buffer.from(`${crlf([...common('Empty body', 'Mon, 10 Jun 2019 12:00:00 +0000'), 'Message-ID: <empty-body@example.com>'])}\r\n\r\n`),
      flags: ['\\Draft'], internalDate: at('2019-06-10T12:00:43Z')},

    // A 2 MiB base64 attachment.
    {...twoMegabyteMessage(), name: '2 MiB attachment'},

    // Only headers: not even the blank line that separates header and body.
    {name: 'headers only', raw: Buffer.from(`${crlf([...common('Only headers', 'Wed, 12 Jun 2019 12:00:00 +0000'), 'Message-ID: <headers-only@example.com>'])}\r\n`),
      flags: ['\\Deleted'], internalDate: at('2019-06-12T12:00:45Z')},

    // Message-ID folded onto a continuation line.
    {name: 'folded Message-ID header', raw: Buffer.from(crlf([...common('Folded Message-ID', 'Thu, 13 Jun 2019 12:00:00 +0000'), 'Message-ID:', ' <folded-id@example.com>', '', 'The Message-ID header is folded.', ''])),
      flags: ['\\Seen', '$Forwarded'], internalDate: at('2019-06-13T12:00:46Z')},
  ]
}

let twoMegabyteRaw: Buffer | undefined

function twoMegabyteMessage(): Omit<SeedMessage, 'name'> {
  // Built once per process; every call gets its own copy.
  twoMegabyteRaw ??= buildTwoMegabyteRaw()
  return {raw: Buffer.from(twoMegabyteRaw), flags: ['\\Seen'], internalDate: at('2019-06-11T12:00:44Z')}
}

function buildTwoMegabyteRaw(): Buffer {
  const rng = createRng(2019)
  const data = Buffer.alloc(2 * 1024 * 1024)
  for (let k = 0; k < data.length; k++) data[k] = Math.floor(rng() * 256)
  const head = crlf([
    'From: Nasty Tester <nasty@example.com>', 'To: Receiver <receiver@example.org>', 'Subject: Two megabytes',
    'Date: Tue, 11 Jun 2019 12:00:00 +0000', 'Message-ID: <two-megabytes@example.com>', 'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b2mb"', '', '--b2mb', 'Content-Type: text/plain', '', 'See attachment.', '--b2mb',
    'Content-Type: application/octet-stream; name="big.bin"', 'Content-Disposition: attachment; filename="big.bin"',
    'Content-Transfer-Encoding: base64', '', '',
  ])
  return Buffer.concat([Buffer.from(head), base64Lines(data), Buffer.from('--b2mb--\r\n')])
}
