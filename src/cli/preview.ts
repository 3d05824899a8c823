/**
 * `mailferry plan` and `sync --dry-run`: both accounts logged in read-only (every folder only ever
 * EXAMINEd), the state database read if it exists (never created), and the plan with its counts.
 * Lives outside src/commands because oclif treats every module there as a command.
 */
import {describeStore, type StoreConfig, type SyncConfig} from '../config/schema.js'
import {openStateReader, type StateReader} from '../state/reader.js'
import {openStore} from '../stores/open.js'
import {previewPlan, type PlanPreview} from '../sync/preview.js'

export async function openAndPreview(config: SyncConfig<StoreConfig>, options: {dryRun: boolean}): Promise<PlanPreview> {
  // Either side may be a Maildir (maildir:/path); both are only read.
  const open = (label: string, side: StoreConfig) => openStore(side, {label, connections: config.concurrency, readOnly: true})
  const source = open('source', config.source)
  const dest = open('destination', config.dest)
  let state: StateReader | undefined
  try {
    await Promise.all([source.open(), dest.open()])
    state = openStateReader(config.statePath)
    return await previewPlan(
      {
        source,
        dest,
        sourceName: describeStore(config.source),
        destName: describeStore(config.dest),
        statePath: config.statePath,
        state,
      },
      {mapping: config.mapping, concurrency: config.concurrency, dryRun: options.dryRun},
    )
  } finally {
    await Promise.allSettled([source.close(), dest.close()])
    state?.close()
  }
}
