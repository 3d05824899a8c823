/**
 * SHA-256 in hex: a message's fingerprint as the state records it (the whole message), the header
 * hash (its header block), and the repaired copies' audit trail.
 */
import {createHash} from 'node:crypto'

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex')
