/**
 * The shared corpus of real-world messages (../shared/corpus from the repo root, or the dir in
 * MAILFERRY_CORPUS): one .eml per message, the folder is the file's directory relative to the
 * root. Bytes are used unchanged; flags and internal dates are made up, deterministically.
 */
import {createHash} from 'node:crypto'
import {existsSync, readdirSync, readFileSync, statSync} from 'node:fs'
import {dirname, join, relative, resolve, sep} from 'node:path'
import {fileURLToPath} from 'node:url'
import type {SeedMessage} from './messages.js'

export interface Corpus {
  root: string
  /** Folder path ('/'-separated, e.g. "Lists/fork", "INBOX") -> its messages, in file-name order. */
  folders: Record<string, SeedMessage[]>
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

export function corpusRoot(): string {
  return process.env.MAILFERRY_CORPUS ? resolve(process.env.MAILFERRY_CORPUS) : resolve(REPO_ROOT, '..', 'shared', 'corpus')
}

/** Why corpus tests cannot run (for `t.skip(reason)`), or undefined when the corpus is there. */
export function corpusSkipReason(): string | undefined {
  const root = corpusRoot()
  if (!existsSync(root)) return `no corpus at ${root} (set MAILFERRY_CORPUS to its directory)`
  if (emlFiles(root).length === 0) return `no .eml files under ${root}`
  return undefined
}

let cached: {root: string; corpus: Corpus} | undefined

/** The corpus, or null when it is missing. Read once per process and root. */
export function loadCorpus(): Corpus | null {
  const root = corpusRoot()
  if (corpusSkipReason() !== undefined) return null
  if (cached?.root !== root) cached = {root, corpus: readCorpus(root)}
  return cached.corpus
}

function readCorpus(root: string): Corpus {
  const folders: Record<string, SeedMessage[]> = {}
  emlFiles(root).forEach((file, index) => {
    const raw = readFileSync(file)
    const folder = relative(root, dirname(file)).split(sep).join('/') || 'INBOX'
    ;(folders[folder] ??= []).push({raw, flags: corpusFlags(index), internalDate: corpusDate(raw), name: relative(root, file)})
  })
  return {root, folders}
}

/** All .eml files below `root`, sorted by path (so indexes, and thus flags, are stable). */
function emlFiles(root: string): string[] {
  const files: string[] = []
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir).sort()) {
      const path = join(dir, entry)
      if (statSync(path).isDirectory()) walk(path)
      else if (entry.endsWith('.eml')) files.push(path)
    }
  }
  walk(root)
  return files.sort()
}

/** Varied but fixed flags: ~70 % \Seen, some \Flagged/\Answered, a few keywords. */
function corpusFlags(index: number): string[] {
  const flags: string[] = []
  if (index % 10 < 7) flags.push('\\Seen')
  if (index % 7 === 3) flags.push('\\Flagged')
  if (index % 11 === 5) flags.push('\\Answered')
  if (index % 13 === 6) flags.push('$Forwarded')
  if (index % 17 === 2) flags.push('$Label1')
  if (index % 19 === 4) flags.push('NonJunk')
  if (index % 29 === 8) flags.push('Project-X')
  return flags
}

/** Whole seconds between 2001-01-01 and 2012-12-31, from the content hash. */
function corpusDate(raw: Buffer): Date {
  const start = Date.UTC(2001, 0, 1) / 1000
  const span = Date.UTC(2012, 11, 31) / 1000 - start
  const value = createHash('sha256').update(raw).digest().readUInt32BE(0)
  return new Date((start + (value % span)) * 1000)
}
