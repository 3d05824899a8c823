#!/usr/bin/env node
// Runs the test suite with node's built-in runner and the tsx loader.
// Usage: node scripts/run-tests.mjs [dir-or-file ...]   (default: test/unit and test/integration)
// Node 20 has no glob support in --test, so the files are collected here.
import {spawnSync} from 'node:child_process'
import {readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'

function collect(path, out) {
  if (statSync(path).isDirectory()) {
    for (const entry of readdirSync(path).sort()) collect(join(path, entry), out)
  } else if (path.endsWith('.test.ts')) {
    out.push(path)
  }
  return out
}

const roots = process.argv.slice(2)
const files = (roots.length ? roots : ['test/unit', 'test/integration']).flatMap((root) => collect(root, []))
if (files.length === 0) {
  console.error('no test files found')
  process.exit(1)
}

const concurrency = process.env.MAILFERRY_TEST_CONCURRENCY ?? '2'
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  {stdio: 'inherit'},
)
process.exit(result.status ?? 1)
