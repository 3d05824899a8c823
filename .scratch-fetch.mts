import {readFileSync} from 'node:fs'
import {ImapFlow} from 'imapflow'
import parser from 'imapflow/lib/handler/imap-parser.js'
import {ImapStream} from 'imapflow/lib/handler/imap-stream.js'
import net from 'node:net'
const servers = JSON.parse(readFileSync('/tmp/mf/servers.json', 'utf8'))
const client = new ImapFlow({host: '127.0.0.1', port: servers.src.port, secure: false, doSTARTTLS: false, auth: {user: 'src3', pass: servers.src.password}, logger: false})
await client.connect()
const folders = (await client.list()).filter((f) => !f.flags.has('\\Noselect')).map((f) => f.path)
let cpu = process.cpuUsage(); let t = performance.now(); let n = 0, bytes = 0
for (const f of folders) {
  const lock = await client.getMailboxLock(f, {readOnly: true})
  try { if (client.mailbox && client.mailbox.exists) for await (const m of client.fetch('1:*', {uid: true, flags: true, size: true, internalDate: true, headers: true}, {uid: true})) { n++; bytes += m.headers?.length ?? 0 } } finally { lock.release() }
}
let c = process.cpuUsage(cpu); console.log('imapflow', n, 'msgs', bytes, 'header bytes', (performance.now() - t).toFixed(0), 'ms wall', ((c.user + c.system) / 1000).toFixed(0), 'ms cpu')
// same with raw socket: EXAMINE + UID FETCH, count bytes only
const enc = folders.map((f) => client.mailbox ? f : f)
await client.logout()
const sock = net.connect(servers.src.port, '127.0.0.1')
const stream = new ImapStream({logger: false}); sock.pipe(stream)
let waiting: ((r: any) => void) | undefined; let parsed = 0
const PARSE = process.argv[2] === 'parse'
stream.on('readable', () => { let d; while ((d = stream.read()) !== null) { const item = d; if (PARSE || !item.payload.subarray(0, 4).toString().startsWith('*')) { parser(item.payload, {literals: item.literals}).then((r: any) => { parsed++; if (r.tag !== '*' && waiting) { const w = waiting; waiting = undefined; w(r) } ; item.next() }) } else { parsed++; item.next() } } })
const cmd = (line: string) => new Promise((resolve) => { waiting = resolve; sock.write(line + '\r\n') })
await new Promise((r) => setTimeout(r, 100))
await cmd(`a LOGIN src3 ${servers.src.password}`)
cpu = process.cpuUsage(); t = performance.now()
for (const f of folders) {
  const q = '"' + f.replace(/[\\"]/g, (m) => '\\' + m) + '"'
  // imapflow-encoded path is needed for non-ASCII; skip those
  if (/[^\x20-\x7e]/.test(f)) continue
  await cmd(`b EXAMINE ${q}`)
  await cmd(`c UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER])`)
}
c = process.cpuUsage(cpu); console.log('raw', PARSE ? 'parsed' : 'stream only', parsed, (performance.now() - t).toFixed(0), 'ms wall', ((c.user + c.system) / 1000).toFixed(0), 'ms cpu')
sock.end()
