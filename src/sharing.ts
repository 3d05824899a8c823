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
 * A flag list shared by every message with the same flags, by their text (the flags joined by a
 * space, as the state database keeps them). Frozen: a caller that changed one message's list would
 * change them all; this way it throws instead.
 */
export function flagListsByText(): (text: string) => string[] {
  return sharing((text) => Object.freeze(text === '' ? [] : text.split(' ')) as string[])
}

/** The same, for lists as parsed (same flags in the same order: one list). */
export function sharedFlagLists(): (flags: readonly string[]) => string[] {
  const byText = flagListsByText()
  return (flags) => byText(flags.join(' '))
}
