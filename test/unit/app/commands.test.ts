/**
 * The commands end to end on two Maildirs (no server): the bugs the hand-assembled copies of the run
 * options caused. Each runs the command from the sources in a child process (command-entry.ts), so no build is needed.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'

import {MaildirStore} from '../../../src/stores/maildir/maildir-store.js'

const ENTRY = fileURLToPath(new URL('./command-entry.ts', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'mf-commands-'))
after(() => rmSync(dir, {recursive: true, force: true}))

const message = (subject: string) =>
  Buffer.from(`From: a@example.org\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@example.org>\r\n\r\nBody.\r\n`)

const source = join(dir, 'source')
before(async () => {
  const store = new MaildirStore({label: 'source', root: source, readOnly: false})
  await store.open()
  await store.appendMessage('INBOX', message('old'), ['\\Seen'], new Date('2001-01-01T00:00:00Z'))
  await store.appendMessage('INBOX', message('new'), [], new Date())
  await store.close()
})

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function mailferry(args: string[], options: {until?: () => boolean} = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, NO_COLOR: '1'}})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    // A long-running command (watch) is stopped with SIGTERM once the condition holds, or after 20 s.
    const started = Date.now()
    const poll = options.until
      ? setInterval(() => {
          if (!options.until!() && Date.now() - started < 20_000) return
          clearInterval(poll)
          child.kill('SIGTERM')
        }, 100)
      : undefined
    child.on('error', reject)
    child.on('close', (code) => {
      clearInterval(poll)
      resolve({code, stdout, stderr})
    })
  })
}

async function destSubjects(root: string): Promise<string[]> {
  const store = new MaildirStore({label: 'destination', root, readOnly: true})
  await store.open()
  const meta = await store.listMeta('INBOX')
  await store.close()
  return meta.map((m) => m.messageId ?? '').sort()
}

describe('commands on two Maildirs', () => {
  it('--max-age and --retry-max-delay take fractions as flags, as they do in YAML', async () => {
    const run = await mailferry(['sync', '--source', `maildir:${source}`, '--dest', `maildir:${join(dir, 'frac')}`, '--max-age', '0.5', '--retry-max-delay', '1.5', '--json'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(JSON.parse(run.stdout).totals.copied, 1)
  })

  it('watch applies maxAge and logFile from the YAML file', async () => {
    const dest = join(dir, 'watched')
    const log = join(dir, 'watch.log')
    const config = join(dir, 'watch.yaml')
    writeFileSync(config, `source: {url: "maildir:${source}"}\ndest: {url: "maildir:${dest}"}\nmaxAge: 30\nmaxErrors: 5\nlogFile: ${log}\n`)
    const run = await mailferry(['watch', '--config', config, '--interval', '60'], {
      until: () => existsSync(log) && readFileSync(log, 'utf8').includes('run finished'),
    })
    assert.equal(run.code, 0, run.stderr)
    assert.ok(existsSync(log), 'the log file is written')
    assert.deepEqual(await destSubjects(dest), ['<new@example.org>'])
  })

  it('verify and plan take the retry and rate limit settings sync takes', async () => {
    for (const command of ['verify', 'plan']) {
      const run = await mailferry([command, '--source', `maildir:${source}`, '--dest', `maildir:${join(dir, 'frac')}`, '--retries', '2', '--max-messages-per-second', '50'])
      assert.notEqual(run.code, 2, `${command}: ${run.stderr}`)
    }
  })
})
