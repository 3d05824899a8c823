/**
 * What known servers do with each problem inspect.ts finds, as measured by APPENDing one message
 * of each kind to the test harness's servers in their default configuration (Cyrus IMAP 3.x,
 * Dovecot 2.3). A server not listed may do anything: every problem "may be refused" there
 * (Microsoft 365, for one, refuses lines over 10,500 characters and messages over its size limit).
 */
import type {Problem} from './inspect.js'

/** refused: the APPEND gets a NO; altered: stored with other bytes; accepted: stored as sent. */
export type Verdict = 'refused' | 'altered' | 'accepted' | 'may be refused'

interface ServerRules {
  name: RegExp
  verdicts: Record<Problem, Verdict>
  /** Why, for the report (one line per verdict other than accepted). */
  notes: Partial<Record<Problem, string>>
}

const SERVERS: ServerRules[] = [
  {
    name: /cyrus/i,
    // Cyrus skips header lines starting with "From " (a workaround for Outlook and Hotmail exports).
    verdicts: {'header-syntax': 'refused', 'header-8bit': 'altered', nul: 'accepted', 'from-line': 'accepted', 'from-header': 'accepted', 'long-line': 'accepted'},
    notes: {
      'header-syntax': 'Cyrus refuses it: "Message contains invalid header"',
      'header-8bit': 'Cyrus replaces raw 8-bit header bytes with "X" (imapd.conf munge8bit; reject8bit refuses them instead)',
    },
  },
  {
    name: /dovecot/i,
    verdicts: {'header-syntax': 'accepted', 'header-8bit': 'accepted', nul: 'altered', 'from-line': 'accepted', 'from-header': 'accepted', 'long-line': 'accepted'},
    notes: {nul: 'Dovecot stores each NUL byte as 0x80 (same size, other bytes)'},
  },
]

const ORDER: Verdict[] = ['accepted', 'may be refused', 'altered', 'refused']

/** The verdict of the server named `serverName` (IMAP ID) on these problems: the worst of them. */
export function serverVerdict(serverName: string | undefined, problems: Problem[]): Verdict {
  const rules = SERVERS.find((server) => serverName !== undefined && server.name.test(serverName))
  let worst: Verdict = 'accepted'
  for (const problem of problems) {
    const verdict = rules ? rules.verdicts[problem] : 'may be refused'
    if (ORDER.indexOf(verdict) > ORDER.indexOf(worst)) worst = verdict
  }
  return worst
}

/** The known server's note on a problem, if any. */
export function serverNote(serverName: string | undefined, problem: Problem): string | undefined {
  return SERVERS.find((server) => serverName !== undefined && server.name.test(serverName))?.notes[problem]
}
