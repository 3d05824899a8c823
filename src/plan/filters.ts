/**
 * Filter rules, pure: each one either keeps a folder (returns its segments unchanged) or leaves it
 * out (returns null, after saying why). Filters always see the normalised source name, before any
 * renaming: "Lists/fork", "INBOX", "[Gmail]/All Mail" ('/' = hierarchy, whatever the servers use).
 */
import {displayName} from './names.js'
import type {MappingRule} from './plan.js'

/** A regex given by a person: compiled as written (JavaScript syntax, case-sensitive). */
export function compilePattern(pattern: string, flags = ''): RegExp {
  return new RegExp(pattern, flags)
}

/** With patterns, a folder is copied only when its name matches at least one of them. */
export function includeRule(patterns: readonly string[]): MappingRule {
  const regexes = patterns.map((pattern) => compilePattern(pattern))
  return {
    name: 'include',
    kind: 'filter',
    apply: (segments, {explain}) => {
      if (regexes.length === 0) return segments
      const name = displayName(segments)
      if (regexes.some((regex) => regex.test(name))) return segments
      explain(`matches no include pattern (${patterns.map((p) => `"${p}"`).join(', ')})`)
      return null
    },
  }
}

/** A folder whose name matches any of the patterns is not copied. */
export function excludeRule(patterns: readonly string[]): MappingRule {
  const regexes = patterns.map((pattern) => ({pattern, regex: compilePattern(pattern)}))
  return {
    name: 'exclude',
    kind: 'filter',
    apply: (segments, {explain}) => {
      const name = displayName(segments)
      const hit = regexes.find(({regex}) => regex.test(name))
      if (!hit) return segments
      explain(`matches exclude pattern "${hit.pattern}"`)
      return null
    },
  }
}

/**
 * Only folders subscribed on the source. INBOX always counts as subscribed; a store that does not
 * report subscriptions (subscribed undefined) keeps every folder.
 */
export const subscribedOnlyRule: MappingRule = {
  name: 'subscribed-only',
  kind: 'filter',
  apply: (segments, {folder, explain}) => {
    if (folder.subscribed !== false || (segments.length === 1 && segments[0] === 'INBOX')) return segments
    explain('not subscribed on the source')
    return null
  },
}

const GMAIL_PARENT = /^\[(gmail|google mail)\]$/i
const GMAIL_VIEWS = /^(all mail|important)$/i

/**
 * Gmail shows every label as a folder and every message once more in "[Gmail]/All Mail" (\All), and
 * the important ones again in "[Gmail]/Important" (\Important). Copying those would copy each
 * labelled message twice or more, so they are left out unless --gmail-all-mail is given. Messages
 * with no label at all (archived) live only in All Mail: see the README.
 */
export const gmailRule: MappingRule = {
  name: 'gmail',
  kind: 'filter',
  apply: (segments, {folder, explain}) => {
    const attribute = folder.specialUse?.toLowerCase()
    const byAttribute = attribute === '\\all' || attribute === '\\important'
    const byName = segments.length === 2 && GMAIL_PARENT.test(segments[0]) && GMAIL_VIEWS.test(segments[1])
    if (!byAttribute && !byName) return segments
    const why = byAttribute ? `attribute ${folder.specialUse}` : `name "${displayName(segments)}"`
    explain(`Gmail view of messages kept in other folders (${why}); --gmail-all-mail copies it`)
    return null
  },
}
