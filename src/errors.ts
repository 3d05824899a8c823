/**
 * The error vocabulary shared by every layer (a leaf: imports nothing from the project).
 *
 * Scope decides what the engine does next (after mbsync's DRV_MSG_BAD / DRV_BOX_BAD / DRV_STORE_BAD):
 * - message: count it, name it in the report, go on with the next message;
 * - folder:  abandon that folder pair, go on with the next one;
 * - store / run: stop the run with a one-line message and a resume hint.
 */
export type ErrorScope = 'message' | 'folder' | 'store' | 'run'

/** Exit codes, documented in the README. Distinct so cron jobs can act on them. */
export const ExitCode = {
  ok: 0,
  /** The run finished but some messages failed (named in the report). */
  partial: 1,
  /** Malformed config or flags: nothing was done. */
  config: 2,
  /** A server refused the credentials. */
  auth: 3,
  /** A server could not be reached, TLS failed, or the connection was lost mid-run. */
  connection: 4,
  /** A folder or the state database could not be used. */
  folder: 5,
  state: 6,
  /**
   * A daily or hourly budget (--max-bytes-per-day, --max-messages-per-hour) is spent: the run stopped
   * cleanly and the message says when to resume. 75 is sysexits' EX_TEMPFAIL: try again later.
   */
  budget: 75,
  /** Interrupted by SIGINT/SIGTERM; the state is saved and a re-run resumes. */
  interrupted: 130,
} as const

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/** Who reports the code: a comparison, a plan or a batch says a little more than a sync about some codes. */
export type ExitContext = 'sync' | 'verify' | 'plan' | 'batch' | 'check' | 'batch-check'

/** The one table of what each exit code means (README "Exit codes"); `sync` is the general wording. */
const EXIT_MEANINGS: Record<ExitCodeValue, {sync: string} & Partial<Record<ExitContext, string>>> = {
  [ExitCode.ok]: {
    sync: 'everything was copied',
    verify: 'source and destination are equal',
    plan: 'the folder plan is fine; nothing was written',
    check: 'nothing found that would stop a sync',
    batch: 'every account completed',
    'batch-check': 'nothing found that would stop any account\'s sync',
  },
  [ExitCode.partial]: {
    sync: 'some messages or folders failed, see above; re-run to retry them',
    verify: 'source and destination differ (the differences are listed)',
    check: 'something would stop a sync or lose data, see above',
    batch: 'some accounts failed or are partial, see their rows; re-run the batch to retry them',
    'batch-check': 'something would stop some accounts\' syncs, or they could not be checked; see their rows',
  },
  [ExitCode.config]: {
    sync: 'invalid configuration or flags; nothing was done',
    plan: 'folder mapping conflicts, see above; a sync would stop before writing anything',
  },
  [ExitCode.auth]: {sync: 'a server refused the credentials'},
  [ExitCode.connection]: {sync: 'a server could not be reached or the connection was lost; re-run to resume'},
  [ExitCode.folder]: {sync: 'a folder could not be used', verify: 'a folder could not be compared (the others were)'},
  [ExitCode.state]: {sync: 'the state database could not be used'},
  [ExitCode.budget]: {sync: 'a budget (--max-bytes-per-day, --max-messages-per-hour) is spent; progress is saved, re-run after the time given'},
  [ExitCode.interrupted]: {sync: 'interrupted; progress is saved, re-run to resume', check: 'interrupted; nothing was written', 'batch-check': 'interrupted; nothing was written'},
}

/** One line explaining an exit code, in the words of `context` where it has its own. */
export function exitMeaning(code: number, context: ExitContext = 'sync'): string {
  const row = EXIT_MEANINGS[code as ExitCodeValue]
  return row ? (row[context] ?? row.sync) : 'unexpected error'
}

export interface MailferryErrorOptions {
  scope?: ErrorScope
  hint?: string
  cause?: unknown
  exitCode?: ExitCodeValue
}

export class MailferryError extends Error {
  readonly scope: ErrorScope
  /** One sentence telling the user what to do next (printed after the message). */
  readonly hint?: string
  readonly exitCode: ExitCodeValue

  constructor(message: string, options: MailferryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = new.target.name
    this.scope = options.scope ?? 'run'
    this.hint = options.hint
    this.exitCode = options.exitCode ?? ExitCode.partial
  }
}

export class ConfigError extends MailferryError {
  constructor(message: string, options: Omit<MailferryErrorOptions, 'exitCode'> = {}) {
    super(message, {scope: 'run', ...options, exitCode: ExitCode.config})
  }
}

export class AuthError extends MailferryError {
  constructor(message: string, options: Omit<MailferryErrorOptions, 'exitCode'> = {}) {
    super(message, {scope: 'store', ...options, exitCode: ExitCode.auth})
  }
}

export interface ConnectErrorOptions extends Omit<MailferryErrorOptions, 'exitCode'> {
  /**
   * Worth trying again after a pause: a dropped or refused connection, a server that pushes back
   * ("[UNAVAILABLE]", "Request is throttled"). False for TLS failures and anything a retry cannot fix.
   */
  transient?: boolean
  /**
   * The command was sent but its answer never came (connection lost mid-APPEND): the server may or
   * may not have stored the message. Never retried by the store; the caller must look on the
   * destination before sending it again.
   */
  outcomeUnknown?: boolean
}

/** Unreachable host, refused or dropped connection, TLS failure. */
export class ConnectError extends MailferryError {
  readonly transient: boolean
  readonly outcomeUnknown: boolean

  constructor(message: string, options: ConnectErrorOptions = {}) {
    const {transient, outcomeUnknown, ...rest} = options
    super(message, {scope: 'store', ...rest, exitCode: ExitCode.connection})
    this.transient = transient ?? false
    this.outcomeUnknown = outcomeUnknown ?? false
  }
}

export class FolderError extends MailferryError {
  constructor(message: string, options: Omit<MailferryErrorOptions, 'exitCode'> = {}) {
    super(message, {scope: 'folder', ...options, exitCode: ExitCode.folder})
  }
}

/** The server refused one message (too large, malformed, quota...). The run goes on. */
export class MessageRejectedError extends MailferryError {
  constructor(message: string, options: Omit<MailferryErrorOptions, 'exitCode'> = {}) {
    super(message, {scope: 'message', ...options, exitCode: ExitCode.partial})
  }
}

/**
 * The server answered NO (or BAD) to a command that changes something: STORE, EXPUNGE, MOVE,
 * SUBSCRIBE... Nothing may be recorded as done. The engine counts it against the messages it
 * concerns where it can; anywhere else it abandons the folder.
 */
export class CommandRefusedError extends FolderError {}

export class StateError extends MailferryError {
  constructor(message: string, options: Omit<MailferryErrorOptions, 'exitCode'> = {}) {
    super(message, {scope: 'run', ...options, exitCode: ExitCode.state})
  }
}

/**
 * A budget of the provider's (bytes a day, messages an hour) is spent: no new copy starts, those in
 * flight finish. Not a failure: the run is resumable at `resumeAt`, when the rolling window frees enough.
 */
export class BudgetReachedError extends MailferryError {
  readonly resumeAt: Date

  constructor(message: string, resumeAt: Date, options: Omit<MailferryErrorOptions, 'exitCode'> = {}) {
    super(message, {scope: 'run', ...options, exitCode: ExitCode.budget})
    this.resumeAt = resumeAt
  }
}

export class CancelledError extends MailferryError {
  constructor(message = 'interrupted', options: Omit<MailferryErrorOptions, 'exitCode'> = {}) {
    super(message, {scope: 'run', ...options, exitCode: ExitCode.interrupted})
  }
}

/** A short, single-line description of any thrown value, for reports and logs. */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error)
  return text.replace(/\s+/g, ' ').trim()
}

/** What every command's result starts with: its verdict, and the exit code it maps to with that code's meaning. */
export interface Verdict {
  ok: boolean
  /** The process exit code (see ExitCode). */
  exitCode: number
  exitMeaning: string
}

/** The verdict of an exit code, with its meaning in this command's words. */
export function verdict(exitCode: number, context: ExitContext = 'sync'): Verdict {
  return {ok: exitCode === ExitCode.ok, exitCode, exitMeaning: exitMeaning(exitCode, context)}
}

/** A verdict about two accounts, named safely (user@host:port or a Maildir path, never a secret). */
export interface AccountsVerdict extends Verdict {
  source: string
  dest: string
}

/** What every command prints (--json) or returns when it could not start or was stopped by an error. */
export interface FailureReport extends Verdict {
  ok: false
  error: string
  hint?: string
}

/** The failure report of any thrown value: its message on one line, its hint and its kind's exit code. */
export function failureReport(error: unknown): FailureReport {
  const known = error instanceof MailferryError ? error : undefined
  const exitCode = known?.exitCode ?? ExitCode.partial
  return {
    ok: false,
    exitCode,
    exitMeaning: exitMeaning(exitCode),
    error: known?.message ?? describeError(error),
    ...(known?.hint ? {hint: known.hint} : {}),
  }
}
