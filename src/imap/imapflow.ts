/**
 * imapflow, loaded through its CommonJS build: every use of it in src/ imports it from here, so the
 * process holds one copy. Its ES module build takes about 0.1 s longer to load at every start (about
 * 200 ms against 110 ms on the bench machine, out of a sync's 0.5 s of start-up): node's ES loader
 * costs more per module, and that build loads libmime twice (imapflow imports libmime's ES build,
 * its mailsplit dependency requires the CommonJS one). Both builds come from the same sources.
 */
import {createRequire} from 'node:module'

import type * as Main from 'imapflow'
import type Compiler from 'imapflow/lib/handler/imap-compiler.js'
import type Parser from 'imapflow/lib/handler/imap-parser.js'
import type * as Stream from 'imapflow/lib/handler/imap-stream.js'
import type * as Tools from 'imapflow/lib/tools.js'

const require = createRequire(import.meta.url)

const main = require('imapflow') as typeof Main
const tools = require('imapflow/lib/tools.js') as typeof Tools

/** The client (session.ts constructs it). */
export const ImapFlow = main.ImapFlow
export type ImapFlow = Main.ImapFlow

/** The wire modules (wire.ts): framing, parser and compiler. */
export const ImapStream = (require('imapflow/lib/handler/imap-stream.js') as typeof Stream).ImapStream
export type ImapStream = Stream.ImapStream
export const parser = require('imapflow/lib/handler/imap-parser.js') as typeof Parser
export const compiler = require('imapflow/lib/handler/imap-compiler.js') as typeof Compiler

/** Helpers, so that names, dates, flags and UID sets are written and read exactly as imapflow does. */
export const {normalizePath, encodePath, getStringList, formatDateTime, formatFlag, iterateRange} = tools
