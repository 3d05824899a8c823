/**
 * The plan's folder steps on the destination, overlapped: CREATE, then SUBSCRIBE and UNSUBSCRIBE,
 * several at a time (an IMAP store pipelines them, or runs each on a session of its pool). An account
 * with hundreds of new folders behind a slow link would otherwise wait one round trip per folder and
 * step before its first message moves. The run does not wait for them either: each folder pair waits
 * only for its own destination folder (startFolderCreation, engine.ts step 0).
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
export async function createFolders(
  dest: Store,
  plan: Pick<Plan, 'create'>,
  options: {parallel?: number; onSettled?: (path: string, refusal?: string) => void} = {},
): Promise<CreatedFolders> {
  const result: CreatedFolders = {created: 0, notCreated: new Map()}
  const levels = new Map<number, string[]>()
  for (const path of plan.create) {
    const depth = creationDepth(path)
    levels.set(depth, [...(levels.get(depth) ?? []), path])
  }
  const settle = (path: string, error: unknown) => {
    if (error === undefined) {
      result.created++
      return options.onSettled?.(path)
    }
    if (!(error instanceof MailferryError) || error.scope !== 'folder') throw error
    result.notCreated.set(path, error.message)
    options.onSettled?.(path, error.message)
  }
  for (const level of [...levels.keys()].sort((a, b) => a - b)) {
    const paths = levels.get(level)!
    if (dest.folderCommands) {
      const outcomes = await dest.folderCommands('create', paths)
      paths.forEach((path, i) => settle(path, outcomes[i]))
      continue
    }
    await eachLimited(paths, options.parallel ?? FOLDER_PARALLELISM, (path) =>
      dest.createFolder(path).then(() => settle(path, undefined), (error: unknown) => settle(path, error)))
  }
  return result
}

/**
 * A folder's depth in the order of creation. Either separator counts: too deep for a name with a dot
 * on a '/' server, but a child always counts more than its parent, which is all the order needs.
 */
export function creationDepth(path: string): number {
  return path.split(/[/.]/).length
}

/** What startFolderCreation gives: each folder as it becomes usable, and the whole creation. */
export interface FolderCreation {
  /**
   * Resolves once `path` can be used: undefined when it exists now (or is not one the run creates),
   * else why its CREATE was refused. Rejects with the error that stopped the creation.
   */
  ready(path: string): Promise<string | undefined>
  /** createFolders' result. */
  done: Promise<CreatedFolders>
}

/**
 * createFolders, started: each folder is usable as soon as its own CREATE is answered, so a run need
 * not wait for every folder of every depth before its first folder is prepared.
 */
export function startFolderCreation(dest: Store, plan: Pick<Plan, 'create'>): FolderCreation {
  // Dovecot creates a fresh account's INBOX when it is first opened, and 2.3's imap processes crash
  // (a lock of its folder-list index) or answer "Mailbox already exists" when that meets a CREATE in
  // another session: INBOX is opened (STATUS) before anything is created, and no folder is used
  // before that. Nothing to create: nothing to wait for.
  const inboxOpened = plan.create.length > 0 && dest.peek ? dest.peek('INBOX').then(() => undefined, () => undefined) : Promise.resolve()
  const waiting = new Map<string, {promise: Promise<string | undefined>; resolve: (refusal?: string) => void; reject: (error: unknown) => void}>()
  for (const path of plan.create) {
    let resolve!: (refusal?: string) => void
    let reject!: (error: unknown) => void
    const promise = new Promise<string | undefined>((yes, no) => ((resolve = yes), (reject = no)))
    // Not every folder is waited for (a stopped run): its rejection is no unhandled one.
    promise.catch(() => undefined)
    waiting.set(path, {promise, resolve, reject})
  }
  const done = inboxOpened.then(() => createFolders(dest, plan, {onSettled: (path, refusal) => waiting.get(path)?.resolve(refusal)}))
  // Those not settled yet fail with what stopped the creation (settling a settled promise does nothing).
  done.catch((error: unknown) => {
    for (const folder of waiting.values()) folder.reject(error)
  })
  return {ready: (path) => inboxOpened.then(() => waiting.get(path)?.promise), done}
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
  const settle = (path: string, verb: string, error: unknown) => {
    if (error === undefined) return void (verb === 'subscribe' && done++)
    if (error instanceof MailferryError && error.scope !== 'folder') throw error
    warnings.push(`${path}: could not ${verb} it: ${describeError(error)}`)
  }
  if (dest.folderCommands) {
    for (const verb of ['subscribe', 'unsubscribe'] as const) {
      const paths = jobs.filter((job) => job.verb === verb).map((job) => job.path)
      if (paths.length === 0) continue
      const outcomes = await dest.folderCommands(verb, paths)
      paths.forEach((path, i) => settle(path, verb, outcomes[i]))
    }
    return done
  }
  await eachLimited(jobs, options.parallel ?? FOLDER_PARALLELISM, ({path, verb, fn}) =>
    fn(path).then(() => settle(path, verb, undefined), (error: unknown) => settle(path, verb, error)))
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
