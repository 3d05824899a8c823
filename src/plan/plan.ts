/**
 * The planner, pure: which source folder goes to which destination folder, and what must be created
 * and subscribed. Takes folder listings as data; never does I/O.
 *
 * A mapping rule is one small function from a folder's normalised name (segments, see names.ts) to
 * new segments, or null to leave the folder out. For each source folder, in this order:
 *   1. normalise: drop the source's personal namespace prefix, split on its separator, spell INBOX
 *      "INBOX" (rule "inbox" when the source spelt it otherwise). Folders outside the personal
 *      namespace and \Noselect folders (only a level in the hierarchy) are skipped.
 *   2. filter rules (kind 'filter', on the normalised source name): gmail, include, exclude,
 *      subscribed-only.
 *   3. special-use roles are assigned among the folders left (special-use.ts), and on the destination.
 *   4. rename rules (kind 'rename'), in list order: the first that acts decides the name, the others
 *      leave the folder alone: map, rename, special-use.
 *   5. adjust rules (kind 'adjust'), always: nest-under, separator.
 *   6. the destination's prefix and separator are applied and the name is checked.
 * Each folder's `rule` names the rules that acted ("name" when none did: the same name, in the
 * destination's separator and namespace), `detail` says how.
 */
import type {FolderInfo} from '../stores/store.js'
import {gmailRule} from './filters.js'
import {
  displayName,
  fromSegments,
  invalidName,
  isInbox,
  resolveNamespace,
  sameSegments,
  splitPath,
  storeDelimiter,
  toSegments,
  type Namespace,
} from './names.js'
import {assignRoles, specialUseRule, type RoleHolder, type SpecialUse} from './special-use.js'

export {splitPath, storeDelimiter}

export interface FolderPair {
  source: string
  dest: string
  /** The destination folder does not exist yet. */
  create: boolean
  /** The rules that decided the destination name, joined with "+" ("name" when none acted), for `plan` output. */
  rule: string
  /** How they decided, in words; empty when no rule acted. */
  detail: string
  /** The folder is subscribed on the source and not (yet) on the destination: subscribe it there. */
  subscribe: boolean
}

/** A source folder that is not copied, and why. */
export interface SkippedFolder {
  source: string
  rule: string
  detail: string
}

export interface Plan {
  pairs: FolderPair[]
  /** Destination folders to create, shallower before deeper (a source parent that is a real folder comes first). */
  create: string[]
  /** Destination folders to subscribe (after creating them). */
  subscribe: string[]
  /** Destination folders this run creates whose source folder is not subscribed (a server may subscribe on CREATE). */
  unsubscribe: string[]
  skipped: SkippedFolder[]
  sourceDelimiter: string
  destDelimiter: string
  sourceNamespace: Namespace
  destNamespace: Namespace
  warnings: string[]
  /** Problems that must stop the run before anything is written. */
  conflicts: string[]
}

/**
 * filter: may only leave a folder out, and sees the normalised source name;
 * rename: decides a new name; the first rename rule that acts wins;
 * adjust: applies to every folder after the renames (default).
 */
export type RuleKind = 'filter' | 'rename' | 'adjust'

/** Special-use role holders: on the source by path, on the destination by role. */
export interface Roles {
  source: Map<string, RoleHolder>
  dest: Map<SpecialUse, RoleHolder>
}

export interface RuleContext {
  sourceDelimiter: string
  destDelimiter: string
  warn: (message: string) => void
  /** The source folder being mapped, as listed. */
  folder: FolderInfo
  /** Empty while filter rules run. */
  roles: Roles
  /** Say how the rule acted (plan output). A rule that explains counts as having acted, even if the name is unchanged. */
  explain: (detail: string) => void
}

export interface MappingRule {
  name: string
  kind?: RuleKind
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
 * substitute it ("_", or "-" when the delimiter is "_") and say so.
 */
export const delimiterRule: MappingRule = {
  name: 'separator',
  kind: 'adjust',
  apply: (segments, {destDelimiter, sourceDelimiter, warn, explain}) =>
    segments.map((segment) => {
      if (!destDelimiter || !segment.includes(destDelimiter)) return segment
      const replacement = destDelimiter === '_' ? '-' : '_'
      const renamed = segment.split(destDelimiter).join(replacement)
      warn(
        `folder name segment "${segment}" contains the destination separator "${destDelimiter}"; ` +
          `it becomes "${renamed}" (source separator "${sourceDelimiter}")`,
      )
      explain(`"${destDelimiter}" in "${segment}" replaced by "${replacement}"`)
      return renamed
    }),
}

/** Special-use mapping and the Gmail filter are on by default; separator substitution always runs last. */
export const DEFAULT_RULES: MappingRule[] = [gmailRule, specialUseRule, delimiterRule]

export interface PlanOptions {
  /** Mapping rules (see rules.ts for building them from the configuration). Default DEFAULT_RULES. */
  rules?: MappingRule[]
  /** The source's personal namespace (NAMESPACE, RFC 2342); default: no prefix, the listing's delimiter. */
  sourceNamespace?: {prefix: string; delimiter: string | null}
  destNamespace?: {prefix: string; delimiter: string | null}
  /** Prefixes of the source's other-users and shared namespaces: those folders are not the account's. */
  sourceOtherPrefixes?: readonly string[]
  /** Subscribe destination folders that are subscribed on the source (default true). */
  subscriptions?: boolean
}

interface Acted {
  rule: string
  detail: string
}

interface Candidate {
  folder: FolderInfo
  segments: string[]
  acted: Acted[]
}

const NO_ROLES: Roles = {source: new Map(), dest: new Map()}

export function buildPlan(source: FolderInfo[], dest: FolderInfo[], options: PlanOptions = {}): Plan {
  const rules = options.rules ?? DEFAULT_RULES
  const warnings: string[] = []
  const sourceNamespace = resolveNamespace(source, options.sourceNamespace)
  const destNamespace = resolveNamespace(dest, options.destNamespace)
  const base = {
    sourceDelimiter: sourceNamespace.delimiter,
    destDelimiter: destNamespace.delimiter,
    warn: (message: string) => warnings.push(message),
  }
  const skipped: SkippedFolder[] = []
  const apply = (rule: MappingRule, candidate: Candidate, roles: Roles): boolean => {
    let detail: string | undefined
    const explain = (d: string) => (detail = detail === undefined ? d : `${detail}; ${d}`)
    const next = rule.apply(candidate.segments, {...base, folder: candidate.folder, roles, explain})
    if (next === null) {
      skipped.push({source: candidate.folder.path, rule: rule.name, detail: detail ?? ''})
      return false
    }
    if (detail !== undefined || !sameSegments(next, candidate.segments)) candidate.acted.push({rule: rule.name, detail: detail ?? ''})
    candidate.segments = next
    return true
  }

  // 1-2: normalise and filter.
  const candidates: Candidate[] = []
  for (const folder of [...source].sort((a, b) => a.path.localeCompare(b.path))) {
    const skip = (rule: string, detail: string) => skipped.push({source: folder.path, rule, detail})
    const other = (options.sourceOtherPrefixes ?? []).find((prefix) => prefix !== '' && folder.path.startsWith(prefix))
    const segments = other === undefined ? toSegments(folder.path, sourceNamespace) : null
    if (segments === null) {
      skip('namespace', `outside the personal namespace${sourceNamespace.prefix ? ` "${sourceNamespace.prefix}"` : ''}`)
      continue
    }
    if (folder.noSelect) {
      skip('noselect', 'cannot hold messages (\\Noselect); its subfolders are mapped on their own')
      continue
    }
    const candidate: Candidate = {folder, segments, acted: []}
    apply(inboxRule, candidate, NO_ROLES)
    if (rules.every((rule) => rule.kind !== 'filter' || apply(rule, candidate, NO_ROLES))) candidates.push(candidate)
  }

  // 3: special-use roles among the folders left, and on the destination.
  const destCandidates = dest.flatMap((folder) => {
    const segments = toSegments(folder.path, destNamespace)
    return segments ? [{path: folder.path, folder, segments: isInbox(segments[0]) ? ['INBOX', ...segments.slice(1)] : segments}] : []
  })
  const roles: Roles = {
    source: new Map(
      [...assignRoles(candidates.map(({folder, segments}) => ({path: folder.path, folder, segments}))).values()].map((holder) => [holder.path, holder]),
    ),
    dest: assignRoles(destCandidates),
  }

  // 4-6: rename, adjust, check, pair.
  const destByKey = new Map<string, FolderInfo>()
  const keyOf = (path: string) => (isInbox(path) ? 'INBOX' : path)
  for (const folder of dest) destByKey.set(keyOf(folder.path), folder)
  const pairs: FolderPair[] = []
  const conflicts: string[] = []
  const claimedBy = new Map<string, {source: string; rule: string}>()
  const create = new Set<string>()
  const subscribe: string[] = []
  const unsubscribe: string[] = []

  for (const candidate of candidates) {
    let renamed = false
    let kept = true
    for (const rule of rules) {
      if (rule.kind === 'filter' || (rule.kind === 'rename' && renamed)) continue
      const before = candidate.acted.length
      kept = apply(rule, candidate, roles)
      if (!kept) break
      if (rule.kind === 'rename' && candidate.acted.length > before) renamed = true
    }
    if (!kept) continue
    const rule = candidate.acted.map((a) => a.rule).join('+') || 'name'
    const detail = candidate.acted.map((a) => a.detail).filter(Boolean).join('; ')
    const sourcePath = candidate.folder.path
    const destPath = fromSegments(candidate.segments, destNamespace)
    const problem = invalidName(candidate.segments, destPath)
    if (problem) {
      conflicts.push(
        `source folder "${sourcePath}" would go to an invalid destination name ${JSON.stringify(displayName(candidate.segments))}` +
          ` (rule ${rule}${detail ? `: ${detail}` : ''}): ${problem}`,
      )
      continue
    }
    const earlier = claimedBy.get(keyOf(destPath))
    if (earlier !== undefined) {
      conflicts.push(
        `source folders "${earlier.source}" (rule ${earlier.rule}) and "${sourcePath}" (rule ${rule}${detail ? `: ${detail}` : ''}) ` +
          `both map to destination folder "${destPath}"`,
      )
      continue
    }
    claimedBy.set(keyOf(destPath), {source: sourcePath, rule: rule + (detail ? `: ${detail}` : '')})
    const existing = destByKey.get(keyOf(destPath))
    if (existing?.noSelect) {
      conflicts.push(`destination folder "${destPath}" (for source folder "${sourcePath}") exists but cannot hold messages (\\Noselect)`)
      continue
    }
    const finalDest = existing?.path ?? destPath
    const wantsSubscription =
      options.subscriptions !== false && candidate.folder.subscribed === true && existing?.subscribed !== true && !isInbox(finalDest)
    pairs.push({source: sourcePath, dest: finalDest, create: !existing, rule, detail, subscribe: wantsSubscription})
    if (wantsSubscription) subscribe.push(finalDest)
    if (!existing && options.subscriptions !== false && candidate.folder.subscribed === false) unsubscribe.push(destPath)
    // Only the folder itself: a server creates missing superiors on CREATE (RFC 3501 6.3.3), and
    // creating them ourselves would turn a \Noselect parent on the source into a real folder here.
    if (!existing) create.add(destPath)
  }

  const depth = (path: string) => splitPath(path, destNamespace.delimiter).length
  const ordered = [...create].sort((a, b) => depth(a) - depth(b) || a.localeCompare(b))
  return {
    pairs,
    create: ordered,
    subscribe,
    unsubscribe,
    skipped,
    sourceDelimiter: sourceNamespace.delimiter,
    destDelimiter: destNamespace.delimiter,
    sourceNamespace,
    destNamespace,
    warnings,
    conflicts,
  }
}
