/**
 * What a raw connection (wire.ts) reads out of a parsed response, in imapflow's shapes: the human
 * text with its code, the code's name, the capability list.
 */
type Attribute = any

/** A parsed response as imapflow's parser leaves it (wire.ts's WireResponse). */
interface Response {
  attributes?: Attribute[]
}

/** "[APPENDUID 38505 3955] APPEND completed" -> the human text, code included. */
export function responseText(response: Response): string {
  const parts: string[] = []
  for (const attribute of response.attributes ?? []) {
    if (attribute && attribute.section) {
      parts.push(`[${attribute.section.map((s: Attribute) => (s && typeof s.value !== 'undefined' ? String(s.value) : Array.isArray(s) ? `(${s.map((x: Attribute) => x?.value).join(' ')})` : '')).join(' ')}]`)
    }
    if (attribute && attribute.type === 'TEXT') parts.push(String(attribute.value))
  }
  return parts.join(' ').trim()
}

/** The response code's name ("APPENDUID", "LIMIT"), upper case, or undefined. */
export function statusCode(response: Response): string | undefined {
  const value = response.attributes?.[0]?.section?.[0]?.value
  return typeof value === 'string' ? value.toUpperCase() : undefined
}

/** CAPABILITY atoms, from an untagged CAPABILITY or an OK [CAPABILITY ...] code (imapflow's shape). */
export function capabilityMap(list: Attribute[]): Map<string, boolean | number> {
  const out = new Map<string, boolean | number>()
  for (const entry of list ?? []) {
    const value = typeof entry?.value === 'string' ? entry.value.toUpperCase() : ''
    if (!value) continue
    const limit = /^APPENDLIMIT=(\d+)$/.exec(value)
    if (limit) out.set('APPENDLIMIT', Number(limit[1]))
    else out.set(value, true)
  }
  return out
}
