/**
 * What a destination refuses before a byte is sent: a message over its APPENDLIMIT (RFC 7889) or
 * the configured maxMessageSize, or with a line over the configured maxLineLength. The IMAP store
 * refuses such a message unsent; `check` counts the same ones. Pure.
 */

export interface AdmissionLimits {
  /** The server's APPENDLIMIT, when it has one. */
  appendLimit?: number
  /** The endpoint's configured maxMessageSize (a provider's known limit). */
  maxMessageSize?: number
  /** The endpoint's configured maxLineLength. */
  maxLineLength?: number
}

/** Why a message of this many bytes is refused unsent, or undefined; the lower limit names the reason. */
export function sizeRefusal(size: number, limits: AdmissionLimits): string | undefined {
  const {appendLimit, maxMessageSize} = limits
  if (maxMessageSize !== undefined && size > maxMessageSize && (appendLimit === undefined || maxMessageSize <= appendLimit)) {
    return `larger than the destination accepts (maxMessageSize ${maxMessageSize} bytes)`
  }
  if (appendLimit !== undefined && size > appendLimit) return appendLimitReason(appendLimit)
  return undefined
}

/** Why this message is refused unsent (its size, then its longest line), or undefined. */
export function admissionRefusal(raw: Buffer, limits: AdmissionLimits): string | undefined {
  const size = sizeRefusal(raw.length, limits)
  if (size) return size
  const {maxLineLength} = limits
  if (maxLineLength !== undefined && longestLine(raw) > maxLineLength) {
    return `a line longer than the destination accepts (maxLineLength ${maxLineLength} bytes); --repair long-lines folds or re-encodes such a message`
  }
  return undefined
}

/** The report's reason for a message above the destination's APPENDLIMIT (RFC 7889). */
export function appendLimitReason(limit: number | undefined): string {
  return limit === undefined ? "larger than the destination's APPENDLIMIT" : `larger than the destination's APPENDLIMIT (${limit} bytes)`
}

/** The longest line of a message, in bytes, without its line end. */
export function longestLine(raw: Buffer): number {
  let longest = 0
  let start = 0
  for (let end = raw.indexOf(10); end !== -1; end = raw.indexOf(10, start)) {
    longest = Math.max(longest, end - start - (end > start && raw[end - 1] === 13 ? 1 : 0))
    start = end + 1
  }
  return Math.max(longest, raw.length - start)
}
