/**
 * SHA-256 in hex: the header hash (a message's header block), and a repaired copy's whole message
 * (the state's fingerprint and the repairs' audit trail).
 */
import {createHash} from 'node:crypto'

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex')
