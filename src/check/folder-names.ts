/**
 * Folder names a destination server is known to refuse at CREATE, found without trying (check never
 * creates anything). The planner already refuses what no server takes (plan/names.ts invalidName);
 * these are the rules of particular servers, and the IMAP wildcards most servers refuse.
 */

interface NameRule {
  /** Applies to every server (undefined) or to those whose IMAP ID name matches. */
  server?: RegExp
  test: RegExp
  reason: string
}

const RULES: NameRule[] = [
  {test: /[*%]/, reason: 'contains an IMAP LIST wildcard (* or %), which most servers refuse in a name'},
  {test: /[\u0001-\u001f\u007f]/, reason: 'contains a control character'},
  {server: /cyrus/i, test: /"/, reason: 'Cyrus refuses " in folder names'},
]

/** Why the destination would refuse to create `path`, or undefined when no known rule says so. */
export function refusedFolderName(path: string, serverName: string | undefined): string | undefined {
  for (const rule of RULES) {
    if (rule.server && !(serverName && rule.server.test(serverName))) continue
    if (rule.test.test(path)) return rule.reason
  }
  return undefined
}
