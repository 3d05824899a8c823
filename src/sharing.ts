/**
 * One value per distinct text, made once and handed to every caller that asks for that text. A
 * folder's listing and its state rows repeat a handful of flag lists and statuses across thousands
 * of messages; shared, they cost one copy each instead of one per message.
 */
export function sharing<T>(make: (text: string) => T): (text: string) => T {
  const made = new Map<string, T>()
  return (text) => {
    let value = made.get(text)
    if (value === undefined) made.set(text, (value = make(text)))
    return value
  }
}

/**
 * A flag list shared by every message with the same flags (in the same order). Frozen: a caller
 * that changed one message's list would change them all; this way it throws instead.
 */
export function sharedFlagLists(): (flags: readonly string[]) => string[] {
  const byText = sharing((text) => Object.freeze(text === '' ? [] : text.split(' ')) as string[])
  return (flags) => byText(flags.join(' '))
}
