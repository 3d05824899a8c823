/**
 * Special-use folders (RFC 6154), pure: which folder is the Sent, Trash, Drafts, Junk or Archive
 * folder on each side, so that e.g. Outlook's "Sent Items" lands in the destination's "Sent".
 *
 * A folder has a role by its server attribute (\Sent ...), or else by a common name. Each role goes to
 * one folder per side: attribute holders first, then common names (shallower first, then in the
 * order of the list below, then alphabetically). A common name counts at the top level, directly
 * under INBOX (servers that keep every folder under INBOX without saying so in NAMESPACE) and under
 * Gmail's "[Gmail]" / "[Google Mail]".
 */
import type {FolderInfo} from '../stores/store.js'
import {displayName} from './names.js'
import type {MappingRule} from './plan.js'

export const SPECIAL_USES = ['\\Sent', '\\Trash', '\\Drafts', '\\Junk', '\\Archive'] as const
export type SpecialUse = (typeof SPECIAL_USES)[number]

/**
 * Common names per role, compared case-insensitively (documented in the README). Keep them
 * unambiguous: a name here moves a folder's messages into another folder on the destination.
 */
export const COMMON_NAMES: Record<SpecialUse, readonly string[]> = {
  '\\Sent': [
    'Sent',
    'Sent Items',
    'Sent Messages',
    'Sent Mail',
    'Sent-Mail',
    'Gesendet',
    'Gesendete Objekte',
    'Gesendete Elemente',
    'Gesendete Nachrichten',
    'Envoyés',
    'Éléments envoyés',
    'Messages envoyés',
    'Enviados',
    'Elementos enviados',
    'Posta inviata',
    'Inviata',
    'Verzonden',
    'Verzonden items',
    'Skickat',
    'Sendt',
    'Wysłane',
  ],
  '\\Trash': [
    'Trash',
    'Deleted Items',
    'Deleted Messages',
    'Deleted',
    'Bin',
    'Papierkorb',
    'Gelöschte Objekte',
    'Gelöschte Elemente',
    'Corbeille',
    'Éléments supprimés',
    'Papelera',
    'Elementos eliminados',
    'Cestino',
    'Prullenbak',
    'Verwijderde items',
    'Papperskorgen',
    'Kosz',
  ],
  '\\Drafts': ['Drafts', 'Draft', 'Entwürfe', 'Brouillons', 'Borradores', 'Bozze', 'Concepten', 'Utkast', 'Kladder', 'Robocze'],
  '\\Junk': [
    'Junk',
    'Spam',
    'Junk E-mail',
    'Junk Email',
    'Junk Mail',
    'Bulk Mail',
    'Junk-E-Mail',
    'Spamverdacht',
    'Courrier indésirable',
    'Indésirables',
    'Correo no deseado',
    'Posta indesiderata',
    'Ongewenste e-mail',
    'Skräppost',
  ],
  '\\Archive': ['Archive', 'Archives', 'Archiv', 'Archivo', 'Archivio', 'Archief', 'Arkiv'],
}

/** Parents under which a common name still names a special-use folder (see the file comment). */
const ROLE_PARENTS = ['inbox', '[gmail]', '[google mail]']

const fold = (text: string): string => text.normalize('NFC').toLowerCase()

const NAME_INDEX = new Map<string, {use: SpecialUse; rank: number}>()
for (const use of SPECIAL_USES) {
  COMMON_NAMES[use].forEach((name, rank) => NAME_INDEX.set(fold(name), {use, rank}))
}

export interface RoleMatch {
  use: SpecialUse
  by: 'attribute' | 'name'
}

/** The role a folder's server attribute gives it (case-insensitive), if any. */
export function attributeRole(folder: Pick<FolderInfo, 'specialUse'>): SpecialUse | undefined {
  const attribute = folder.specialUse?.toLowerCase()
  return SPECIAL_USES.find((use) => use.toLowerCase() === attribute)
}

/** The role a normalised name gives a folder ("Sent Items", "INBOX/Sent", "[Gmail]/Sent Mail"), if any. */
export function nameRole(segments: string[]): {use: SpecialUse; rank: number} | undefined {
  if (segments.length === 2 && !ROLE_PARENTS.includes(fold(segments[0]))) return undefined
  if (segments.length > 2 || segments.length === 0) return undefined
  return NAME_INDEX.get(fold(segments[segments.length - 1]))
}

export interface RoleCandidate {
  /** The folder's path in its store. */
  path: string
  folder: FolderInfo
  /** Normalised name. */
  segments: string[]
}

export interface RoleHolder extends RoleCandidate, RoleMatch {}

/**
 * One folder per role on one side (see the file comment for the order). \Noselect folders and
 * INBOX never hold a role.
 */
export function assignRoles(candidates: RoleCandidate[]): Map<SpecialUse, RoleHolder> {
  const ranked: Array<RoleHolder & {order: number[]}> = []
  for (const candidate of candidates) {
    if (candidate.folder.noSelect || (candidate.segments.length === 1 && candidate.segments[0] === 'INBOX')) continue
    const byAttribute = attributeRole(candidate.folder)
    if (byAttribute) {
      ranked.push({...candidate, use: byAttribute, by: 'attribute', order: [0, candidate.segments.length, 0]})
      continue
    }
    const byName = nameRole(candidate.segments)
    if (byName) ranked.push({...candidate, use: byName.use, by: 'name', order: [1, candidate.segments.length, byName.rank]})
  }
  ranked.sort((a, b) => compareOrder(a.order, b.order) || displayName(a.segments).localeCompare(displayName(b.segments)))
  const holders = new Map<SpecialUse, RoleHolder>()
  for (const {order: _order, ...holder} of ranked) {
    if (!holders.has(holder.use)) holders.set(holder.use, holder)
  }
  return holders
}

function compareOrder(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return 0
}

/** 'attribute' or 'name "Sent Items"', for plan output. */
export function describeRole(holder: RoleHolder): string {
  return holder.by === 'attribute' ? 'attribute' : `name "${displayName(holder.segments)}"`
}

/**
 * Special-use mapping: the source folder holding a role goes to the destination folder holding the
 * same role (by attribute, else by common name). When the destination has none, the source name is
 * kept (and the server may give the new folder the role itself).
 */
export const specialUseRule: MappingRule = {
  name: 'special-use',
  kind: 'rename',
  apply: (segments, {folder, roles, explain}) => {
    const role = roles.source.get(folder.path)
    const target = role && roles.dest.get(role.use)
    if (!role || !target) return segments
    const how = role.by === 'attribute' && target.by === 'attribute' ? 'attribute on both sides' : `source ${describeRole(role)}, destination ${describeRole(target)}`
    explain(`${role.use} (${how})`)
    return [...target.segments]
  },
}
