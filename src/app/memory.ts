/**
 * Peak resident memory of this process, for the reports (`peakRssBytes`).
 * Lives outside src/commands because oclif treats every module there as a command.
 */
import {readFileSync} from 'node:fs'

/**
 * Linux: VmHWM from /proc/self/status. getrusage's ru_maxrss (process.resourceUsage().maxRSS) is not
 * used there because it also counts the image the process had before execve: mailferry started by a
 * parent holding 400 MB would report 400 MB. Elsewhere ru_maxrss is all there is.
 */
export function peakRssBytes(): number {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'))
    if (match) return Number(match[1]) * 1024
  } catch {
    // no procfs: fall through
  }
  return process.resourceUsage().maxRSS * 1024
}
