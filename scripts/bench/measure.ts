/**
 * Runs a program and measures it from outside: wall time, peak RSS (VmHWM) and CPU time (user +
 * system), both read from /proc/<pid> every 25 ms while it runs (so up to 25 ms of CPU may be
 * missed at the end). Used for mailferry, mbsync and imapsync alike.
 */
import {execFileSync, spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {performance} from 'node:perf_hooks'

export interface Measured {
  code: number | null
  wallMs: number
  /** Peak RSS: the last VmHWM read from /proc/<pid>/status while it ran. */
  vmHwmBytes?: number
  /** CPU time (user + system) from /proc/<pid>/stat, last read while it ran. */
  cpuMs?: number
  stdout: string
  stderr: string
  /** stdout parsed as JSON, when it is JSON (mailferry --json). */
  json?: any
}

export function measure(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Measured> {
  return new Promise((resolveRun, reject) => {
    const started = performance.now()
    const child = spawn(command, args, {env: {...process.env, ...env, NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    let hwm: number | undefined
    let cpuMs: number | undefined
    const poll = () => {
      try {
        const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))
        if (match) hwm = Math.max(hwm ?? 0, Number(match[1]) * 1024)
        // utime and stime (fields 14 and 15) in clock ticks of 10 ms, counted after the ") " of the name.
        const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ')
        cpuMs = (Number(fields[11]) + Number(fields[12])) * 10
      } catch {
        // gone already, or no /proc
      }
    }
    const timer = setInterval(poll, 25)
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => {
      clearInterval(timer)
      const wallMs = performance.now() - started
      let json
      try {
        json = JSON.parse(stdout)
      } catch {
        json = undefined
      }
      resolveRun({code, wallMs, vmHwmBytes: hwm, cpuMs, stdout, stderr, json})
    })
  })
}

/** Is `command` on PATH (it answers `--version` or `--help`)? */
export function installed(command: string, probe = '--version'): boolean {
  try {
    execFileSync(command, [probe], {stdio: 'ignore', timeout: 20_000})
    return true
  } catch (error) {
    // imapsync --version exits 0; a program that exits non-zero on --version still exists.
    return (error as {code?: string}).code !== 'ENOENT'
  }
}

export function expectOk(what: string, run: Measured, check?: (json: any) => string | undefined): void {
  const problem = run.code !== 0 ? `exit ${run.code}` : check?.(run.json)
  if (problem) throw new Error(`${what}: ${problem}\n${run.stderr.slice(0, 2000)}`)
}
