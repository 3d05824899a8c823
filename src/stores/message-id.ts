/**
 * Message-ID extraction from a header block, pure. Bytes are read as latin1 so that 8-bit
 * headers map one to one to a string and compare exactly across stores.
 */

/** The Message-ID header's value, unfolded and trimmed, or undefined when absent or empty. */
export function parseMessageId(headerBlock: Buffer | string): string | undefined {
  const text = typeof headerBlock === 'string' ? headerBlock : headerBlock.toString('latin1')
  // Only the header block: stop at the first empty line.
  const end = text.search(/\r?\n\r?\n/)
  const headers = (end >= 0 ? text.slice(0, end) : text).replace(/\r?\n[ \t]+/g, ' ')
  const match = /^message-id[ \t]*:(.*)$/im.exec(headers)
  const value = match?.[1].trim()
  return value ? value : undefined
}

