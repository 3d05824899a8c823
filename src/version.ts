/** mailferry's version, as its package.json says (what `--version` prints and servers see in ID). */
import {createRequire} from 'node:module'

export const VERSION: string = (createRequire(import.meta.url)('../package.json') as {version: string}).version
