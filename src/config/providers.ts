/**
 * Provider presets: `provider: gmail | microsoft365` under a side (or --source-provider /
 * --dest-provider) fills in what an admin would otherwise look up: the endpoint, how many sessions
 * the provider tolerates, what it refuses, and how long to back off. One table; each value is laid
 * under the side's own keys and the run's explicit settings, so any of them can be overridden.
 * The README ("Provider presets") gives the source of every value.
 */
import type {FolderMappingConfig} from './mapping.js'
import type {TlsMode} from './schema.js'
import type {RunSettings} from './settings.js'

export const PROVIDER_NAMES = ['gmail', 'microsoft365'] as const
export type ProviderName = (typeof PROVIDER_NAMES)[number]

/** Run settings a preset may set for its side's store (retry and rate settings act per side). */
export type SideSettings = Partial<
  Pick<RunSettings, 'retries' | 'retryMaxDelay' | 'maxMessagesPerSecond' | 'maxBytesPerSecond' | 'maxBytesPerDay' | 'maxMessagesPerHour'>
>

export interface ProviderPreset {
  title: string
  /** Endpoint keys of the side: a key or flag the side gives itself wins. */
  endpoint: {host: string; port: number; tls: TlsMode; maxMessageSize?: number; maxLineLength?: number}
  /** At most this many sessions to the account (the side's `connections`, unless given explicitly). */
  maxConnections: number
  /** Back-off after pushback and lost connections, on either side. */
  backOff: SideSettings
  /** Only when the provider is the source: folder rules (run-wide, under `folders:` and the flags), budgets. */
  asSource?: {folders?: Partial<FolderMappingConfig>; settings?: SideSettings}
  /** Only when the provider is the destination: what it accepts per unit of time (rates, daily budgets). */
  asDest?: {settings?: SideSettings}
}

export const PROVIDERS: Record<ProviderName, ProviderPreset> = {
  gmail: {
    title: 'Gmail / Google Workspace',
    // Gmail advertises APPENDLIMIT=35651584 itself; the preset makes it known before login too.
    endpoint: {host: 'imap.gmail.com', port: 993, tls: 'implicit', maxMessageSize: 35_651_584},
    // 15 simultaneous IMAP sessions per account; 10 leaves room for the user's own clients.
    maxConnections: 10,
    // "[THROTTLED]" and bandwidth pushback last minutes, not seconds.
    backOff: {retries: 12, retryMaxDelay: 120},
    // All Mail and Important hold every message again: left out (the default, said here explicitly).
    // IMAP download: 2,500 MB a day per account (Gmail bandwidth limits): the source's daily budget.
    asSource: {folders: {gmailAllMail: false}, settings: {maxBytesPerDay: 2_500_000_000}},
    // IMAP upload: 500 MB a day per account (Gmail bandwidth limits): the destination's daily budget.
    asDest: {settings: {maxBytesPerDay: 500_000_000}},
  },
  microsoft365: {
    title: 'Microsoft 365 / Exchange Online',
    // 35 MB is the tenant default (an admin may raise it to 150 MB: override maxMessageSize then).
    endpoint: {host: 'outlook.office365.com', port: 993, tls: 'implicit', maxMessageSize: 36_700_160, maxLineLength: 10_500},
    maxConnections: 8,
    backOff: {retries: 12, retryMaxDelay: 120},
    // About 3,600 messages an hour are accepted per mailbox.
    asDest: {settings: {maxMessagesPerSecond: 1}},
  },
}

export function checkProvider(value: unknown): ProviderName | undefined {
  return typeof value === 'string' && (PROVIDER_NAMES as readonly string[]).includes(value) ? (value as ProviderName) : undefined
}

/**
 * The per-side settings a side's preset adds, except those the run sets explicitly (a key in the
 * file or a flag, which then holds for both sides). `settings` are the run's merged settings.
 */
export function presetSideSettings(
  preset: ProviderPreset,
  side: 'source' | 'dest',
  settings: Pick<RunSettings, 'concurrency' | 'connections'>,
  explicit: ReadonlySet<string>,
): Partial<RunSettings> {
  const values: Partial<RunSettings> = {...preset.backOff, ...(side === 'dest' ? preset.asDest : preset.asSource)?.settings}
  for (const key of Object.keys(values) as (keyof RunSettings)[]) if (explicit.has(key)) delete values[key]
  if (!explicit.has('connections')) values.connections = Math.min(settings.connections ?? settings.concurrency, preset.maxConnections)
  return values
}
