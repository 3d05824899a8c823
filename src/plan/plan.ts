/**
 * The planner, pure: which source folder goes to which destination folder, and what must be created.
 * Takes folder listings as data; never does I/O.
 *
 * A mapping rule is one small function from a source folder's name segments to destination segments
 * (or null to leave the folder out). Later rules (namespaces, special-use, include/exclude, renames)
 * are added to the rule list without touching the rest.
 */
import type {FolderInfo} from '../stores/store.js'

export interface FolderPair {
  source: string
  dest: string
  /** The destination folder does not exist yet. */
  create: boolean
  /** Name of the rule that decided the destination name, for `plan` output. */
  rule: string
}

export interface Plan {
  pairs: FolderPair[]
  /** Destination folders to create, shallower before deeper (a source parent that is a real folder comes first). */
  create: string[]
  sourceDelimiter: string
  destDelimiter: string
  warnings: string[]
  /** Problems that must stop the run before anything is written. */
  conflicts: string[]
}

export interface RuleContext {
  sourceDelimiter: string
  destDelimiter: string
  warn: (message: string) => void
}

export interface MappingRule {
  name: string
  /** Return new segments, the same segments (no change), or null to exclude the folder. */
  apply: (segments: string[], context: RuleContext) => string[] | null
}

/** INBOX is case-insensitive in IMAP (RFC 3501 5.1): always spell it INBOX. */
export const inboxRule: MappingRule = {
  name: 'inbox',
  apply: (segments) => (segments[0].toUpperCase() === 'INBOX' ? ['INBOX', ...segments.slice(1)] : segments),
}

/**
 * A name segment that contains the destination's delimiter would silently become a subfolder;
 * substitute it and say so.
 */
export const delimiterRule: MappingRule = {
  name: 'separator',
  apply: (segments, {destDelimiter, sourceDelimiter, warn}) =>
    segments.map((segment) => {
      if (!segment.includes(destDelimiter)) return segment
      const replacement = destDelimiter === '_' ? '-' : '_'
      const renamed = segment.split(destDelimiter).join(replacement)
      warn(
        `folder name segment "${segment}" contains the destination separator "${destDelimiter}"; ` +
          `it becomes "${renamed}" (source separator "${sourceDelimiter}")`,
      )
      return renamed
    }),
}

export const DEFAULT_RULES: MappingRule[] = [inboxRule, delimiterRule]

export function splitPath(path: string, delimiter: string): string[] {
  return delimiter ? path.split(delimiter) : [path]
}

/** The delimiter a store uses: the one of its INBOX, else the first one it reports, else "/". */
export function storeDelimiter(folders: FolderInfo[]): string {
  const inbox = folders.find((folder) => folder.path.toUpperCase() === 'INBOX')
  return inbox?.delimiter ?? folders.find((folder) => folder.delimiter)?.delimiter ?? '/'
}

function mapFolder(path: string, rules: MappingRule[], context: RuleContext): {segments: string[]; rule: string} | null {
  let segments = splitPath(path, context.sourceDelimiter)
  let decidedBy = 'separator'
  for (const rule of rules) {
    const next = rule.apply(segments, context)
    if (next === null) return null
    if (next.join('\u0000') !== segments.join('\u0000')) decidedBy = rule.name
    segments = next
  }
  return {segments, rule: decidedBy}
}

export function buildPlan(source: FolderInfo[], dest: FolderInfo[], rules: MappingRule[] = DEFAULT_RULES): Plan {
  const warnings: string[] = []
  const context: RuleContext = {
    sourceDelimiter: storeDelimiter(source),
    destDelimiter: storeDelimiter(dest),
    warn: (message) => warnings.push(message),
  }
  const destByKey = new Map<string, FolderInfo>()
  const keyOf = (path: string) => (path.toUpperCase() === 'INBOX' ? 'INBOX' : path)
  for (const folder of dest) destByKey.set(keyOf(folder.path), folder)

  const pairs: FolderPair[] = []
  const conflicts: string[] = []
  const claimedBy = new Map<string, string>()
  const create = new Set<string>()

  for (const folder of [...source].sort((a, b) => a.path.localeCompare(b.path))) {
    if (folder.noSelect) continue
    const mapped = mapFolder(folder.path, rules, context)
    if (!mapped) continue
    const destPath = mapped.segments.join(context.destDelimiter)
    const earlier = claimedBy.get(keyOf(destPath))
    if (earlier !== undefined) {
      conflicts.push(`source folders "${earlier}" and "${folder.path}" both map to destination folder "${destPath}"`)
      continue
    }
    claimedBy.set(keyOf(destPath), folder.path)
    const existing = destByKey.get(keyOf(destPath))
    if (existing?.noSelect) {
      conflicts.push(`destination folder "${destPath}" exists but cannot hold messages (\\Noselect)`)
      continue
    }
    pairs.push({source: folder.path, dest: existing?.path ?? destPath, create: !existing, rule: mapped.rule})
    // Only the folder itself: a server creates missing superiors on CREATE (RFC 3501 6.3.3), and
    // creating them ourselves would turn a \Noselect parent on the source into a real folder here.
    if (!existing) create.add(destPath)
  }

  const ordered = [...create].sort(
    (a, b) => splitPath(a, context.destDelimiter).length - splitPath(b, context.destDelimiter).length || a.localeCompare(b),
  )
  return {pairs, create: ordered, sourceDelimiter: context.sourceDelimiter, destDelimiter: context.destDelimiter, warnings, conflicts}
}
