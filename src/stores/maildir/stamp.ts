/** What tells a file changed on disk (dovecot-uidlist, dovecot-keywords): read again only then. */
import {stat} from 'node:fs/promises'

export interface Stamp {
  ino: number
  size: number
  mtimeMs: number
}

export const sameStamp = (a: Stamp | undefined, b: Stamp) => !!a && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs

export const isMissing = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT'

/** The file's stamp, or undefined when there is no file. */
export async function stampOf(path: string): Promise<Stamp | undefined> {
  try {
    const st = await stat(path)
    return {ino: st.ino, size: st.size, mtimeMs: st.mtimeMs}
  } catch (error) {
    if (isMissing(error)) return undefined
    throw error
  }
}
