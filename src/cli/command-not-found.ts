/**
 * oclif's command_not_found hook (package.json): an unknown command, or an argument after a command
 * (`mailferry sync extra`, which oclif reads as the command "sync:extra"), fails as any bad input
 * does: one line and a hint, exit 2, the report on stdout with --json. `mailferry help [COMMAND]` is
 * `mailferry [COMMAND] --help`. Lives in cli/ because oclif treats every module in commands/ as a command.
 */
import {loadHelpClass, type Hook} from '@oclif/core'

import {ConfigError} from '../errors.js'
import {printFailure} from './failure.js'

const hook: Hook<'command_not_found'> = async function ({id, argv, config}) {
  const [command, ...rest] = id.split(':')
  if (command === 'help' && (rest.length === 0 || config.findCommand(rest.join(':')))) {
    const Help = await loadHelpClass(config)
    return new Help(config).showHelp(rest)
  }
  const error = config.findCommand(command)
    ? new ConfigError(`mailferry ${command} takes no argument, got "${rest.join(' ')}"`, {hint: `mailferry ${command} --help lists its flags`})
    : new ConfigError(`unknown command "${id.replaceAll(':', ' ')}"`, {hint: 'mailferry --help lists the commands'})
  const failure = printFailure(error)
  if (argv?.includes('--json')) process.stdout.write(`${JSON.stringify(failure, null, 2)}\n`)
  this.exit(failure.exitCode)
}

export default hook
