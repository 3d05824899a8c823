/**
 * Renaming rules, pure. Each works on the normalised name ('/' = hierarchy, INBOX spelt "INBOX").
 * `map` and `rename` are 'rename' rules: the first rename rule that acts on a folder decides its name
 * and the later ones (special-use mapping included) leave it alone. `nest-under` is an 'adjust' rule:
 * it applies to every folder, after the renames.
 */
import {displayName, parseName, sameSegments} from './names.js'
import type {MappingRule} from './plan.js'

export interface NameMapping {
  /** Source name, normalised ("Old/Name"; "inbox" matches INBOX). */
  from: string
  /** Destination name, normalised ("New/Name"). */
  to: string
}

/** Explicit map: a folder named exactly `from` goes to `to`. Subfolders are not affected (use rename). */
export function mapRule(mappings: readonly NameMapping[]): MappingRule {
  const entries = mappings.map((mapping) => ({...mapping, key: displayName(parseName(mapping.from)), target: parseName(mapping.to)}))
  return {
    name: 'map',
    kind: 'rename',
    apply: (segments, {explain}) => {
      const name = displayName(segments)
      const entry = entries.find((candidate) => candidate.key === name)
      if (!entry) return segments
      explain(`"${entry.from}=${entry.to}"`)
      return [...entry.target]
    },
  }
}

export interface Substitution {
  /** JavaScript regex source. */
  from: string
  /** Replacement; $1, $<name> and $& refer to the match. */
  to: string
  /** Regex flags: "g" (every match), "i" (ignore case). */
  flags: string
  /** As the user wrote it, for messages: "s/^Old/New/" or "from ^Old to New". */
  text: string
}

/**
 * Regex renames (like imapsync's --regextrans2): every substitution is applied in turn to the result of
 * the previous one. A "/" in the result means hierarchy. A folder no substitution changes keeps its
 * name exactly (its segments are not re-split).
 */
export function renameRule(substitutions: readonly Substitution[]): MappingRule {
  const compiled = substitutions.map((s) => ({...s, regex: new RegExp(s.from, s.flags)}))
  return {
    name: 'rename',
    kind: 'rename',
    apply: (segments, {explain}) => {
      let name = displayName(segments)
      const used: string[] = []
      for (const substitution of compiled) {
        substitution.regex.lastIndex = 0
        const next = name.replace(substitution.regex, substitution.to)
        if (next !== name) used.push(substitution.text)
        name = next
      }
      if (used.length === 0) return segments
      const renamed = parseName(name)
      if (sameSegments(renamed, segments)) return segments
      explain(used.join(', '))
      return renamed
    },
  }
}

/** Every folder, INBOX too, goes below `parent` on the destination ("Migrated/alice" -> "Migrated/alice/INBOX"). */
export function nestUnderRule(parent: string): MappingRule {
  const prefix = parseName(parent)
  return {
    name: 'nest-under',
    kind: 'adjust',
    apply: (segments, {explain}) => {
      explain(`under "${parent}"`)
      return [...prefix, ...segments]
    },
  }
}
