/**
 * oclif.manifest.json (written by `npm run build`, scripts/manifest.mjs) is what oclif reads at start
 * instead of loading every command: a command or flag missing from it would be missing from the CLI's
 * help and command list. It must say what src/commands says.
 */
import assert from 'node:assert/strict'
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {basename, resolve} from 'node:path'
import {test} from 'node:test'
import {pathToFileURL} from 'node:url'

const ROOT = resolve(import.meta.dirname, '../../..')
const MANIFEST = resolve(ROOT, 'oclif.manifest.json')

test('the built oclif manifest lists every command of src/commands with its flags', {skip: existsSync(MANIFEST) ? false : 'not built (npm run build)'}, async () => {
  const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8'))
  const files = readdirSync(resolve(ROOT, 'src/commands')).filter((name) => name.endsWith('.ts'))
  assert.deepEqual(Object.keys(manifest.commands).sort(), files.map((name) => basename(name, '.ts')).sort(), 'stale manifest: run npm run build')
  for (const file of files) {
    const id = basename(file, '.ts')
    const command = (await import(pathToFileURL(resolve(ROOT, 'src/commands', file)).href)).default
    const flags = {...command.baseFlags, ...command.flags, ...(command.enableJsonFlag ? {json: true} : {})}
    assert.deepEqual(Object.keys(manifest.commands[id].flags).sort(), Object.keys(flags).sort(), `${id}: stale manifest: run npm run build`)
  }
})
