/**
 * Runs one mailferry command from the TypeScript sources, in a child process of a unit test:
 *   node --import tsx test/unit/app/command-entry.ts sync --source ... (oclif's bin/dev.js would
 * need lib/ or ts-node to find the commands).
 */
import {Errors} from '@oclif/core'

const [name, ...argv] = process.argv.slice(2)
const {default: command} = await import(`../../../src/commands/${name}.ts`)
try {
  await command.run(argv, new URL('../../../', import.meta.url).pathname)
} catch (error) {
  if (error instanceof Errors.ExitError) process.exitCode = error.oclif.exit
  else {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = (error as {oclif?: {exit?: number}}).oclif?.exit ?? 1
  }
}
