/**
 * CREATE, SUBSCRIBE or UNSUBSCRIBE of many folders at once, pipelined on an APPEND connection
 * (pipeline-commands.ts; imapflow's sessions send one command at a time): a first sync of an account
 * with hundreds of folders creates them in a few round trips instead of one each.
 */
import {CommandRefusedError} from '../errors.js'
import type {AppendPipeline} from './append-pipeline.js'
import {translateFolderError} from './errors.js'
import {folderCommandsOn} from './pipeline-commands.js'

export type FolderVerb = 'create' | 'subscribe' | 'unsubscribe'

/**
 * Each path's outcome, in order: undefined when done (a folder that already exists counts as created),
 * else the error. Without a pipeline (or for one folder), each goes through `single` (the pool's
 * sessions, with their retries). Pipelined, what the server refuses is that folder's error, and what
 * was not answered (the connection dropped) goes through `single`. Created folders are subscribed, as
 * imapflow's mailboxCreate does (a refused SUBSCRIBE is no error).
 */
export async function folderCommands(
  pipeline: AppendPipeline | undefined,
  verb: FolderVerb,
  paths: string[],
  single: (path: string) => Promise<void>,
  where: string,
  /** The pipeline stands in for the only session (one connection a side): one folder goes there too. */
  inPlace = false,
): Promise<Array<Error | undefined>> {
  const oneByOne = (list: string[]) => Promise.all(list.map((path) => single(path).then(() => undefined, (error: Error) => error)))
  if (!pipeline || (paths.length < 2 && !inPlace)) return oneByOne(paths)
  let settled
  try {
    settled = await folderCommandsOn(pipeline, verb.toUpperCase(), paths)
  } catch {
    return oneByOne(paths)
  }
  const outcomes: Array<Error | undefined> = []
  const again: number[] = []
  settled.forEach((result, i) => {
    if (result.status === 'fulfilled') return void (outcomes[i] = undefined)
    const error = result.reason as {responseStatus?: string; serverResponseCode?: string}
    if (error.responseStatus !== 'NO' && error.responseStatus !== 'BAD') return void again.push(i)
    if (verb === 'create' && error.serverResponseCode === 'ALREADYEXISTS') return void (outcomes[i] = undefined)
    outcomes[i] = verb === 'create'
      ? translateFolderError(error, where, paths[i])
      : new CommandRefusedError(`${where}: folder "${paths[i]}": the server refused ${verb.toUpperCase()}`)
  })
  const retried = await oneByOne(again.map((i) => paths[i]))
  again.forEach((i, k) => (outcomes[i] = retried[k]))
  if (verb === 'create') {
    // The planner unsubscribes those whose source folder is not subscribed.
    const created = paths.filter((_, i) => outcomes[i] === undefined && !again.includes(i))
    if (created.length > 0) await folderCommandsOn(pipeline, 'SUBSCRIBE', created).catch(() => undefined)
  }
  return outcomes
}
