/**
 * The bench's corpora: a generated one (a given number of messages of a mean size, split over four
 * folders, plus large messages in INBOX) and the real messages of ../shared/corpus in their folders
 * (test/harness/corpus.ts). Both are also laid out as files, one .eml per message, for the limit run,
 * which reads them from disk as it sends.
 */
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {loadCorpus} from '../../test/harness/corpus.js'
import {generateMessages, type SeedMessage} from '../../test/harness/messages.js'

/** '/'-separated folder path -> its messages, in order. */
export type Corpus = Record<string, SeedMessage[]>

/** One message on disk, with what its APPEND carries. */
export interface MessageFile {
  folder: string
  file: string
  size: number
  flags: string[]
  internalDate: Date
}

/** Folders of the generated corpus and their share of the messages. */
export const FOLDERS: Array<[string, number]> = [['INBOX', 0.4], ['Archive/2023', 0.25], ['Archive/2024', 0.2], ['Lists/dev', 0.15]]

export const MB = 1_000_000

/** `count` messages of about `meanSize` bytes over FOLDERS, plus one message of each of `largeMb` in INBOX. */
export function generatedCorpus(count: number, meanSize: number, largeMb: number[], seed = 2024): Corpus {
  // A large message is base64 in the generator: 3/4 of its size is its attachment.
  const all = generateMessages(count, {seed, meanSize, largeSizes: largeMb.map((mb) => Math.round((mb * MB * 3) / 4))})
  return distribute(all.slice(0, count), all.slice(count))
}

/** Splits messages over FOLDERS by their shares; `large` messages go to INBOX. */
export function distribute(messages: SeedMessage[], large: SeedMessage[] = []): Corpus {
  const corpus: Corpus = {}
  let start = 0
  FOLDERS.forEach(([path, share], index) => {
    const end = index === FOLDERS.length - 1 ? messages.length : start + Math.round(messages.length * share)
    corpus[path] = messages.slice(start, end)
    start = end
  })
  corpus.INBOX.push(...large)
  return corpus
}

/** The real corpus (../shared/corpus or MAILFERRY_CORPUS), or undefined when it is missing. */
export function realCorpus(): Corpus | undefined {
  return loadCorpus()?.folders
}

export const countOf = (corpus: Corpus) => Object.values(corpus).reduce((n, list) => n + list.length, 0)
export const bytesOf = (corpus: Corpus) => Object.values(corpus).reduce((n, list) => n + list.reduce((m, msg) => m + msg.raw.length, 0), 0)

/** Writes every message to `dir` as its own file (not measured); returns them in corpus order. */
export function writeFiles(corpus: Corpus, dir: string): MessageFile[] {
  const files: MessageFile[] = []
  Object.entries(corpus).forEach(([folder, messages], f) => {
    const folderDir = join(dir, String(f))
    mkdirSync(folderDir, {recursive: true})
    messages.forEach((message, m) => {
      const file = join(folderDir, `${m}.eml`)
      writeFileSync(file, message.raw)
      files.push({folder, file, size: message.raw.length, flags: message.flags ?? [], internalDate: message.internalDate ?? new Date(0)})
    })
  })
  return files
}
