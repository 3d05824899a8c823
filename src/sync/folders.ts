/**
 * The plan's folder steps on the destination, overlapped: CREATE, then SUBSCRIBE and UNSUBSCRIBE,
 * several at a time (an IMAP store runs each on a session of its pool, so they go over several
 * connections at once). An account with hundreds of new folders behind a slow link would otherwise
 * wait one round trip per folder and step before its first message moves.
 */
import {MailferryError, describeError} from '../errors.js'
import type {Plan} from '../plan/plan.js'
import type {Store} from '../stores/store.js'

/** Folder commands in flight at once (the store's pool bounds the connections they use). */
export const FOLDER_PARALLELISM = 8

export interface CreatedFolders {
  created: number
  /** Destination path -> why its CREATE was refused: that folder fails, the others go on. */
  notCreated: Map<string, string>
}

/**
 * CREATE every folder of plan.create. Depth by depth (plan.create lists shallower first), so that a
 * parent that is a folder of its own is created as itself before a child would create it as a mere
 * hierarchy step; the folders of one depth overlap. A refusal (scope 'folder') fails only that
 * folder; any other error is thrown once the commands in flight have settled.
 */
export async function createFolders(dest: Store, plan: Pick<Plan, 'create'>, options: {parallel?: number} = {}): Promise<CreatedFolders> {
  const result: CreatedFolders = {created: 0, notCreated: new Map()}
  // Either separator counts: too deep for a name with a dot on a '/' server, but a child always
  // counts more than its parent, which is all the order needs.
  const depth = (path: string) => path.split(/[/.]/).length
  const levels = new Map<number, string[]>()
  for (const path of plan.create) levels.set(depth(path), [...(levels.get(depth(path)) ?? []), path])
  for (const level of [...levels.keys()].sort((a, b) => a - b)) {
    await eachLimited(levels.get(level)!, options.parallel ?? FOLDER_PARALLELISM, async (path) => {
      try {
        await dest.createFolder(path)
        result.created++
      } catch (error) {
        if (!(error instanceof MailferryError) || error.scope !== 'folder') throw error
        result.notCreated.set(path, error.message)
      }
    })
  }
  return result
}

/**
 * SUBSCRIBE on the destination what is subscribed on the source, and UNSUBSCRIBE the folders this run
 * created that are not (CREATE may have subscribed them); both lists overlap. A refusal is a warning,
 * not an error. Returns how many folders were subscribed.
 */
export async function subscribeFolders(
  dest: Store,
  plan: Pick<Plan, 'subscribe' | 'unsubscribe'>,
  warnings: string[],
  options: {parallel?: number} = {},
): Promise<number> {
  let done = 0
  const jobs: Array<{path: string; verb: 'subscribe' | 'unsubscribe'; fn: (path: string) => Promise<void>}> = []
  for (const [paths, verb, fn] of [
    [plan.subscribe, 'subscribe', dest.subscribeFolder?.bind(dest)],
    [plan.unsubscribe, 'unsubscribe', dest.unsubscribeFolder?.bind(dest)],
  ] as const) {
    if (paths.length === 0) continue
    if (!fn) warnings.push(`the destination store cannot ${verb} folders; ${paths.length} folder subscriptions not copied`)
    else for (const path of paths) jobs.push({path, verb, fn})
  }
  await eachLimited(jobs, options.parallel ?? FOLDER_PARALLELISM, async ({path, verb, fn}) => {
    try {
      await fn(path)
      if (verb === 'subscribe') done++
    } catch (error) {
      if (error instanceof MailferryError && error.scope !== 'folder') throw error
      warnings.push(`${path}: could not ${verb} it: ${describeError(error)}`)
    }
  })
  return done
}

/** fn for every item, at most `limit` at once; the first error is thrown once all have settled. */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const errors: unknown[] = []
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]
      await fn(item).catch((error: unknown) => void errors.push(error))
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
  if (errors.length > 0) throw errors[0]
}
