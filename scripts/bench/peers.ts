/**
 * The same first sync by other tools, when they are installed: mbsync (Debian's isync) and
 * imapsync. Each copies every folder of the source account into a fresh destination account, with
 * flags and internal dates; the caller checks the message counts afterwards.
 */
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type {Target} from './appenders.js'
import {measure, type Measured} from './measure.js'

export interface Accounts {
  source: Target & {user: string}
  dest: Target & {user: string}
}

export async function runMbsync(work: string, accounts: Accounts): Promise<Measured> {
  const dir = join(work, `mbsync-${accounts.dest.user}`)
  mkdirSync(dir, {recursive: true})
  const account = (name: string, side: Target & {user: string}) =>
    `IMAPAccount ${name}\nHost 127.0.0.1\nPort ${side.port}\nUser ${side.user}\nPass ${side.server.password}\nSSLType None\nAuthMechs PLAIN\n\n` +
    `IMAPStore ${name}\nAccount ${name}\n\n`
  const config =
    account('src', accounts.source) +
    account('dst', accounts.dest) +
    `Channel bench\nFar :src:\nNear :dst:\nPatterns *\nCreate Near\nSync Pull\nCopyArrivalDate yes\nSyncState ${dir}/\n`
  const file = join(dir, 'mbsyncrc')
  writeFileSync(file, config, {mode: 0o600})
  const run = await measure('mbsync', ['-q', '-c', file, 'bench'])
  if (run.code !== 0) throw new Error(`mbsync exited ${run.code}: ${run.stderr.slice(0, 2000)}`)
  return run
}

export async function runImapsync(work: string, accounts: Accounts): Promise<Measured> {
  const dir = join(work, `imapsync-${accounts.dest.user}`)
  mkdirSync(dir, {recursive: true})
  const passwords = [join(dir, 'pw1'), join(dir, 'pw2')]
  writeFileSync(passwords[0], accounts.source.server.password, {mode: 0o600})
  writeFileSync(passwords[1], accounts.dest.server.password, {mode: 0o600})
  const run = await measure('imapsync', [
    '--host1', '127.0.0.1', '--port1', String(accounts.source.port), '--user1', accounts.source.user, '--passfile1', passwords[0],
    '--host2', '127.0.0.1', '--port2', String(accounts.dest.port), '--user2', accounts.dest.user, '--passfile2', passwords[1],
    '--nossl1', '--nossl2', '--notls1', '--notls2', '--nolog', '--noreleasecheck', '--tmpdir', dir,
  ])
  if (run.code !== 0) throw new Error(`imapsync exited ${run.code}: ${run.stderr.slice(0, 2000)}${run.stdout.slice(-2000)}`)
  return run
}
