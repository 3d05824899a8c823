/**
 * `npm run demo`: two throwaway Dovecot servers on 127.0.0.1, a generated mailbox on the first,
 * then a real `mailferry sync` with progress and the report, then a second run that has nothing to do.
 * Everything is removed at the end.
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {startDovecot} from '../test/harness/dovecot.js'
import {seed} from '../test/harness/mailbox.js'
import {generateMessages} from '../test/harness/messages.js'

const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'mailferry-demo-'))
const [source, dest] = await Promise.all([startDovecot({separator: '.'}), startDovecot({separator: '/'})])

try {
  const messages = generateMessages(600, {seed: 42, largeSizes: [8_000_000, 3_000_000]})
  const folders = {
    INBOX: messages.slice(0, 250),
    'Archive/2023': messages.slice(250, 400),
    'Archive/2024': messages.slice(400, 520),
    'Projects/Entwürfe': messages.slice(520),
  }
  process.stderr.write(`Demo: source Dovecot on 127.0.0.1:${source.port} (separator "."), destination on 127.0.0.1:${dest.port} (separator "/")\n`)
  process.stderr.write(`Loading ${messages.length} generated messages into the source...\n`)
  await seed(source, 'alice', folders)

  const args = [
    bin,
    'sync',
    '--source', `imap://alice@127.0.0.1:${source.port}`,
    '--source-tls', 'none',
    '--source-password-env', 'DEMO_SOURCE_PW',
    '--dest', `imap://alice@127.0.0.1:${dest.port}`,
    '--dest-tls', 'none',
    '--dest-password-env', 'DEMO_DEST_PW',
    '--state', join(work, 'demo.sqlite'),
  ]
  const env = {...process.env, DEMO_SOURCE_PW: source.password, DEMO_DEST_PW: dest.password}
  const show = (title: string) => {
    process.stderr.write(`\n$ mailferry ${args.slice(1).join(' ')}    # ${title}\n\n`)
    return spawnSync(process.execPath, args, {stdio: 'inherit', env}).status
  }
  const first = show('first run: copies everything')
  const second = show('second run: nothing changed, nothing appended')
  process.exitCode = first === 0 && second === 0 ? 0 : 1
} finally {
  await Promise.all([source.stop(), dest.stop()])
  rmSync(work, {recursive: true, force: true})
}
