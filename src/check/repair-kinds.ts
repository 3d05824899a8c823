/**
 * The repairs `--repair` may allow, by name (README "Repairs" documents each form). Declared once:
 * the setting's parser, its help and the repair module all read this list.
 */
export const REPAIR_KINDS = ['headers', 'nul', 'from-line', 'long-lines'] as const

export type RepairKind = (typeof REPAIR_KINDS)[number]
