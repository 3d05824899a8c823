/**
 * Both folder listings and the plan over them: what sync, plan and check start from. Apart from the
 * engine (sync/run.ts), so that plan and check load without it.
 */
import {DEFAULT_MAPPING, type FolderMappingConfig} from '../config/mapping.js'
import type {Store} from '../stores/store.js'
import {buildPlan, type Plan} from './plan.js'
import {mappingRules} from './rules.js'

export async function listAndPlan(source: Store, dest: Store, mapping: FolderMappingConfig = DEFAULT_MAPPING): Promise<Plan> {
  const [sourceFolders, destFolders] = await Promise.all([source.listFolders(), dest.listFolders()])
  const [sourceCaps, destCaps] = [source.capabilities(), dest.capabilities()]
  return buildPlan(sourceFolders, destFolders, {
    rules: mappingRules(mapping),
    sourceNamespace: sourceCaps.namespace,
    destNamespace: destCaps.namespace,
    sourceOtherPrefixes: sourceCaps.otherNamespaces,
    subscriptions: mapping.subscriptions,
  })
}
