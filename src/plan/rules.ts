/**
 * The rule list for a configuration, in the order documented in plan.ts and the README:
 * filters (gmail, include, exclude, subscribed-only), renames (map, rename, special-use: the first
 * that acts wins), adjustments (nest-under, separator).
 */
import type {FolderMappingConfig} from '../config/mapping.js'
import {excludeRule, gmailRule, includeRule, subscribedOnlyRule} from './filters.js'
import {delimiterRule, type MappingRule} from './plan.js'
import {mapRule, nestUnderRule, renameRule} from './renames.js'
import {specialUseRule} from './special-use.js'

export function mappingRules(config: FolderMappingConfig): MappingRule[] {
  const rules: MappingRule[] = []
  if (!config.gmailAllMail) rules.push(gmailRule)
  if (config.include.length > 0) rules.push(includeRule(config.include))
  if (config.exclude.length > 0) rules.push(excludeRule(config.exclude))
  if (config.subscribedOnly) rules.push(subscribedOnlyRule)
  if (config.map.length > 0) rules.push(mapRule(config.map))
  if (config.rename.length > 0) rules.push(renameRule(config.rename))
  // Nested folders keep the source's names: a role folder of the destination is not theirs to fill.
  if (config.automap && config.nestUnder === undefined) rules.push(specialUseRule)
  if (config.nestUnder !== undefined) rules.push(nestUnderRule(config.nestUnder))
  rules.push(delimiterRule)
  return rules
}
