import {Flags, type Interfaces} from '@oclif/core'

import {MailferryCommand} from '../cli/command.js'

import {accountFlags, concurrencyFlag, debugFlag, toFlagValues} from '../cli/flags.js'
import {mappingFlags, toMappingFlagValues} from '../cli/mapping-flags.js'
import {peakRssBytes} from '../cli/memory.js'
import {resolveRunConfig} from '../config/load.js'
import {describeStore, type StoreConfig} from '../config/schema.js'
import type {FailureReport} from '../errors.js'
import {renderVerifyReport} from '../report/verify.js'
import {openStore} from '../stores/open.js'
import {runVerify, type VerifyResult} from '../verify/run.js'

type VerifyFlags = Interfaces.InferredFlags<typeof Verify.flags>

export default class Verify extends MailferryCommand {
  static override summary = 'Compare the source and destination accounts folder by folder; change nothing.'

  static override description = `Folders are mapped as sync maps them (give the same mapping flags or config file). Per folder: message counts, Message-ID and size of every message,
header blocks, flags (without \\Recent) and internal dates; with --deep also the SHA-256 of every whole message.
Messages are paired by content (no state database), and each difference is listed with both UIDs.
Both accounts are only read (EXAMINE, BODY.PEEK). Without --deep no message body is downloaded, so a changed
body of the same size under the same header block is not seen.

Exit codes: 0 equal; 1 different (listed); 2 configuration error; 3 login refused; 4 connection or TLS failure;
5 a folder could not be compared; 130 interrupted.`

  static override examples = [
    {
      command: '<%= config.bin %> <%= command.id %> --config examples/migrate.yaml',
      description: 'After a sync: are both accounts the same?',
    },
    {
      command: '<%= config.bin %> <%= command.id %> --config examples/migrate.yaml --deep --json',
      description: 'Hash every message on both sides too, and print the result as JSON',
    },
  ]

  static override enableJsonFlag = true

  static override flags = {
    ...accountFlags,
    deep: Flags.boolean({summary: 'Also download and compare the SHA-256 of every message (slow: reads both mailboxes).'}),
    concurrency: concurrencyFlag,
    debug: debugFlag,
    ...mappingFlags,
  }

  async run(): Promise<VerifyResult | FailureReport> {
    const {flags} = await this.parse(Verify)
    return this.report(flags.debug, () => this.verify(flags))
  }

  private async verify(flags: VerifyFlags): Promise<VerifyResult> {
    // The same mapping flags as sync: verify compares the folders sync would pair.
    const values = {...toFlagValues(flags), mapping: toMappingFlagValues(flags)}
    // Either side may be a Maildir (maildir:/path), as for sync: verify a backup like a migration.
    const {config, warnings} = resolveRunConfig(values, process.env, {defaultStateDir: this.config.dataDir})
    for (const warning of warnings) this.warn(warning)
    const open = (label: string, side: StoreConfig) => openStore(side, {label, connections: config.concurrency, readOnly: true})
    const source = open('source', config.source)
    const dest = open('destination', config.dest)
    const human = !this.jsonEnabled()
    try {
      await Promise.all([source.open(), dest.open()])
      const result = await runVerify(
        {source, dest, sourceName: describeStore(config.source), destName: describeStore(config.dest)},
        {
          deep: flags.deep,
          concurrency: config.concurrency,
          mapping: config.mapping,
          onFolder: human
            ? ({phase, source: folder, verdict}) => {
                if (phase === 'start') process.stderr.write(`comparing ${folder}${flags.deep ? ' (deep)' : ''}...\n`)
                else if (verdict?.error) process.stderr.write(`${folder}: ${verdict.error}\n`)
              }
            : undefined,
        },
      )
      result.peakRssBytes = peakRssBytes()
      result.warnings.unshift(...warnings)
      if (human) this.log(renderVerifyReport(result))
      return result
    } finally {
      await Promise.allSettled([source.close(), dest.close()])
    }
  }
}
