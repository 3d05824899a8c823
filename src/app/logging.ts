/**
 * --log-file and --debug-imap for the commands that connect: opens the redacting logger
 * (src/log.ts) and turns engine events into log lines. Lives outside src/commands (oclif would
 * take it for a command).
 */
import {ConfigError, describeError} from '../errors.js'
import {createLogger, silentLogger, type Logger} from '../log.js'
import {fileFailure} from '../files.js'
import type {RunResult, SyncEvents, SyncListener} from '../sync/events.js'

/** The run's logger: the log file (mode 0600) and/or the protocol trace; silent without both. */
export function openRunLog(logFile: string | undefined, debugImap: boolean): Logger {
  if (logFile === undefined && !debugImap) return silentLogger
  try {
    return createLogger({file: logFile, trace: debugImap})
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ELOOP') {
      throw new ConfigError(`log file ${logFile} is a symbolic link; it is not followed`, {hint: 'give the path of the file itself, or remove the link'})
    }
    const failure = fileFailure(error, logFile ?? '')
    if (failure) throw new ConfigError(`log file ${logFile} cannot be opened: ${failure.reason}`, {hint: failure.hint})
    throw new ConfigError(`log file ${logFile}: cannot be opened (${code ?? describeError(error)})`)
  }
}

/** Engine events as log lines: folders, failures, warnings (copied messages only at debug). */
export function logEvents(logger: Logger): SyncListener {
  const handlers: {[K in keyof SyncEvents]?: (payload: SyncEvents[K]) => void} = {
    'run:planned': ({folders}) => logger.info(`planned ${folders} folder ${folders === 1 ? 'pair' : 'pairs'}`),
    'folder:start': ({source, dest}) => logger.info(`folder ${source} -> ${dest}: start`),
    'folder:planned': ({source, toCopy, bytesToCopy, alreadyPresent}) =>
      logger.info(`folder ${source}: ${toCopy} to copy (${bytesToCopy} bytes), ${alreadyPresent} already there`),
    'message:copied': ({source, uid, bytes}) => logger.debug(`folder ${source}: UID ${uid} copied (${bytes} bytes)`),
    'message:repaired': ({folder, uid, repairs, reason, originalSha256, storedSha256}) =>
      logger.warn(`folder ${folder}: UID ${uid} refused (${reason}), stored repaired (${repairs.join(', ')}): sha256 ${originalSha256} -> ${storedSha256}`),
    'message:failed': ({folder, uid, messageId, reason}) =>
      logger.error(`folder ${folder}: UID ${uid}${messageId ? ` ${messageId}` : ''} failed: ${reason}`),
    'folder:done': (f) =>
      (f.error ? logger.error : logger.info)(
        `folder ${f.source}: done: ${f.copied} copied, ${f.alreadyPresent} already there, ${f.failed} failed, ` +
          `${f.flagsUpdated} flags updated, ${f.bytes} bytes in ${f.durationMs} ms${f.error ? `; error: ${f.error}` : ''}`,
      ),
    warning: ({message}) => logger.warn(message),
  }
  return (name, payload) => {
    const handler = handlers[name] as ((p: typeof payload) => void) | undefined
    handler?.(payload)
  }
}

/** Both listeners get every event. */
export function fanOut(...listeners: SyncListener[]): SyncListener {
  return (name, payload) => {
    for (const listener of listeners) listener(name, payload)
  }
}

/** The last lines of a run. */
export function logRunEnd(logger: Logger, result: Pick<RunResult, 'exitCode' | 'exitMeaning' | 'totals' | 'durationMs' | 'error'>): void {
  const t = result.totals
  const line =
    `run finished: exit ${result.exitCode} (${result.exitMeaning}); ${t.copied} copied, ${t.alreadyPresent} already there, ` +
    `${t.failed} failed, ${t.bytes} bytes in ${result.durationMs} ms${result.error ? `; ${result.error}` : ''}`
  if (result.exitCode === 0) logger.info(line)
  else logger.error(line)
}
