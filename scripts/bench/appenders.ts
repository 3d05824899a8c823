/**
 * Writing a corpus into an account without mailferry's engine:
 * - pipelinedLimit: the limit mailferry is measured against. The messages are read from their files
 *   as they are sent, through the project's own pipelined write connection (src/imap/append-pipeline.ts
 *   over wire.ts): MULTIAPPEND batches where offered, several commands in flight on each of N
 *   connections, CREATEs pipelined on one of them. Nothing is fetched, hashed or recorded.
 * - parallelAppend: imapflow's APPEND on N connections, one command in flight each (loading the
 *   source; and the "raw imapflow" row, for comparison with earlier figures).
 * Connecting, logging in and creating folders are part of the time.
 */
import {readFile} from 'node:fs/promises'
import {performance} from 'node:perf_hooks'

import type {ImapFlow} from 'imapflow'
import {encodePath} from 'imapflow/lib/tools.js'

import type {EndpointConfig} from '../../src/config/schema.js'
import {AppendPipeline} from '../../src/imap/append-pipeline.js'
import {openWireConnection} from '../../src/imap/wire-login.js'
import {silentLogger} from '../../src/log.js'
import type {DovecotInstance} from '../../test/harness/dovecot.js'
import {openClient, serverPath} from '../../test/harness/mailbox.js'
import type {Corpus, MessageFile} from './corpus.js'

/** Where a bench run connects: the server's real port, or a delay line's in front of it. */
export interface Target {
  server: DovecotInstance
  port: number
}

/** Message bytes read from disk and not yet stored, at most (as mailferry's own budget). */
const IN_FLIGHT_BYTES = 16 * 1024 * 1024

export async function pipelinedLimit(target: Target, user: string, files: MessageFile[], connections: number): Promise<number> {
  const endpoint = {host: '127.0.0.1', port: target.port, tls: 'none', tlsOptions: {verify: true}, user, password: target.server.password} as EndpointConfig
  const started = performance.now()
  const open = () => openWireConnection(endpoint, {label: 'limit'})
  const folders = [...new Set(files.map((file) => file.folder))].filter((folder) => folder.toUpperCase() !== 'INBOX')
  const creator = await open()
  try {
    const encoding = {enabled: new Set<string>(), capabilities: creator.capabilities} as unknown as Parameters<typeof encodePath>[0]
    // Parents first in the list; all in flight at once (RFC 9051 5.5).
    await Promise.all(folders.sort().map((folder) => creator.command('CREATE', [{type: 'ATOM', value: encodePath(encoding, serverPath(target.server, folder))}])))
  } finally {
    await creator.logout()
  }
  const pipeline = new AppendPipeline({size: connections, open, where: `limit ${user}`, logger: silentLogger})
  try {
    let inFlight = 0
    const waiting = new Set<Promise<unknown>>()
    for (const message of files) {
      while (inFlight > 0 && inFlight + message.size > IN_FLIGHT_BYTES) await Promise.race(waiting)
      inFlight += message.size
      const raw = await readFile(message.file)
      const done: Promise<unknown> = pipeline.append(serverPath(target.server, message.folder), raw, message.flags, message.internalDate).finally(() => {
        inFlight -= message.size
        waiting.delete(done)
      })
      waiting.add(done)
    }
    await Promise.all(waiting)
  } finally {
    await pipeline.close()
  }
  return performance.now() - started
}

/**
 * APPENDs every message of `corpus` with its flags and date over `connections` imapflow connections
 * sharing one work list; creates the folders first.
 */
export async function parallelAppend(target: Target, user: string, corpus: Corpus, connections: number): Promise<number> {
  const started = performance.now()
  const server = {...target.server, port: target.port}
  const clients = await Promise.all(Array.from({length: connections}, () => openClient(server, user, {disableAutoIdle: true})))
  try {
    for (const path of Object.keys(corpus).sort()) if (path.toUpperCase() !== 'INBOX') await clients[0].mailboxCreate(serverPath(server, path))
    const jobs = Object.entries(corpus).flatMap(([path, list]) => list.map((message) => ({mailbox: serverPath(server, path), message})))
    let next = 0
    await Promise.all(
      clients.map(async (client: ImapFlow) => {
        while (next < jobs.length) {
          const {mailbox, message} = jobs[next++]
          const done = await client.append(mailbox, message.raw, message.flags, message.internalDate)
          if (!done) throw new Error(`APPEND to ${mailbox} failed`)
        }
      }),
    )
  } finally {
    await Promise.allSettled(clients.map((client) => client.logout()))
  }
  return performance.now() - started
}
