/**
 * Reading a Maildir folder's files as an IMAP server presents them: which message files the folder
 * holds (new/ and cur/), and one message's size, date and header block, or its whole bytes, with
 * CRLF line ends. Nothing here writes; folder.ts owns the folder's UIDs, flags and locks.
 */
import {constants} from 'node:fs'
import {open, readdir, readFile, type FileHandle} from 'node:fs/promises'
import {join} from 'node:path'

import {headerBlock, sizeField, splitFileName, toCrlf, virtualSize} from './filename.js'
import {isMissing} from './stamp.js'

export type Sub = 'cur' | 'new'

export interface FileMeta {
  uid: number
  flags: string[]
  /** RFC822.SIZE: bytes with CRLF line ends. */
  size: number
  internalDate: Date
  /** The header block with CRLF line ends. */
  header: Buffer
}

/** Reading header blocks: first read, then doubled until the empty line is found. */
const HEADER_CHUNK = 16 * 1024

/** Whole seconds: IMAP INTERNALDATE has no finer resolution, and Dovecot reads st_mtime. */
const secondsDate = (mtimeMs: number) => new Date(Math.floor(mtimeMs / 1000) * 1000)

/**
 * The folder's message files by base name (the name without its `:2,` info). cur/ is read last: a
 * message in both (a rename caught half-way) counts once, from cur/. A missing new/ is no error.
 */
export async function listMessageFiles(dir: string): Promise<Map<string, {sub: Sub; name: string}>> {
  const files = new Map<string, {sub: Sub; name: string}>()
  for (const sub of ['new', 'cur'] as const) {
    let names: string[]
    try {
      names = await readdir(join(dir, sub))
    } catch (error) {
      if (isMissing(error) && sub === 'new') continue
      throw error
    }
    for (const name of names) if (!name.startsWith('.')) files.set(splitFileName(name).base, {sub, name})
  }
  return files
}

/** Size, date and header block of the message in `path`, whose base name is `base`. */
export async function readMeta(path: string, base: string, uid: number, flags: string[]): Promise<FileMeta> {
  const handle = await open(path, constants.O_RDONLY)
  try {
    const st = await handle.stat()
    const stored = sizeField(base, 'W')
    const header = await readHeader(handle, st.size)
    // Without ,W= the whole file is read once to count its line ends (as an IMAP server must).
    const size = stored !== undefined && sizeField(base, 'S') === st.size ? stored : virtualSize(await readFile(path))
    return {uid, flags, size, internalDate: secondsDate(st.mtimeMs), header}
  } finally {
    await handle.close()
  }
}

/** The whole message in `path` with CRLF line ends, and its date. */
export async function readWhole(path: string): Promise<{raw: Buffer; internalDate: Date}> {
  const handle = await open(path, constants.O_RDONLY)
  try {
    const st = await handle.stat()
    return {raw: toCrlf(await handle.readFile()), internalDate: secondsDate(st.mtimeMs)}
  } finally {
    await handle.close()
  }
}

/** The header block (CRLF line ends, as IMAP BODY[HEADER]) from the start of an open file. */
async function readHeader(handle: FileHandle, fileSize: number): Promise<Buffer> {
  let length = Math.min(HEADER_CHUNK, fileSize)
  for (;;) {
    const buffer = Buffer.alloc(length)
    const {bytesRead} = await handle.read(buffer, 0, length, 0)
    const complete = bytesRead >= fileSize || bytesRead < length
    const block = headerBlock(toCrlf(buffer.subarray(0, bytesRead)), complete)
    if (block) return Buffer.from(block)
    length = Math.min(length * 2, fileSize)
  }
}
