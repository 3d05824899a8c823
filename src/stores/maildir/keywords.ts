/**
 * The `dovecot-keywords` file, pure (after Dovecot's maildir-keywords.c): one line per keyword,
 * "<index> <name>", index 0-25 standing for the file-name letters a-z. Names are looked up without
 * regard to case, as Dovecot does. A folder holds at most 26 keywords.
 */
import {KEYWORD_LETTERS} from './filename.js'

export const MAX_KEYWORDS = KEYWORD_LETTERS.length

export class KeywordTable {
  readonly #names: Array<string | undefined> = []
  readonly #index = new Map<string, number>()

  /** Parses the file; malformed lines are skipped, as Dovecot does. */
  static parse(text: string): KeywordTable {
    const table = new KeywordTable()
    for (const line of text.split('\n')) {
      const space = line.indexOf(' ')
      if (space === -1) continue
      const index = Number(line.slice(0, space))
      const name = line.slice(space + 1).replace(/\r$/, '')
      if (!Number.isInteger(index) || index < 0 || index >= MAX_KEYWORDS || name === '') continue
      table.#set(index, name)
    }
    return table
  }

  #set(index: number, name: string): void {
    const old = this.#names[index]
    if (old !== undefined) this.#index.delete(old.toLowerCase())
    this.#names[index] = name
    if (!this.#index.has(name.toLowerCase())) this.#index.set(name.toLowerCase(), index)
  }

  /** The keyword of letter index 0-25. */
  nameAt(index: number): string | undefined {
    return this.#names[index]
  }

  /** The letter of a known keyword. */
  letterOf(name: string): string | undefined {
    const index = this.#index.get(name.toLowerCase())
    return index === undefined ? undefined : KEYWORD_LETTERS[index]
  }

  /** The keyword's letter, giving it the first free one when it has none; undefined when all 26 are taken. */
  assign(name: string): string | undefined {
    const known = this.letterOf(name)
    if (known !== undefined) return known
    for (let index = 0; index < MAX_KEYWORDS; index++) {
      if (this.#names[index] === undefined) {
        this.#set(index, name)
        return KEYWORD_LETTERS[index]
      }
    }
    return undefined
  }

  /** Every keyword, in letter order. */
  names(): string[] {
    return this.#names.filter((name): name is string => name !== undefined)
  }

  get full(): boolean {
    return this.names().length >= MAX_KEYWORDS
  }

  /** The file's text ("0 $Forwarded\n1 NonJunk\n"). */
  format(): string {
    return this.#names.map((name, index) => (name === undefined ? '' : `${index} ${name}\n`)).join('')
  }
}
