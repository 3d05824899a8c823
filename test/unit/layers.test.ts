/**
 * The layers of src/ point one way, and no module imports itself back through others:
 *
 *   commands -> cli -> app -> batch -> {sync, verify, report} -> {plan, stores, state}
 *            -> {imap, stores/maildir, the Store contract} -> {config, credentials} -> {errors.ts, log.ts}
 *
 * A module may import its own layer or any layer below. `import type` counts for the layers (it erases
 * at run time but still ties the upper layer's shape into the lower one) and not for cycles (a cycle
 * of types cannot break module loading). ALLOWED lists the violations not fixed yet; it only shrinks.
 */
import assert from 'node:assert/strict'
import {readFileSync, readdirSync, statSync} from 'node:fs'
import {dirname, join, relative, resolve} from 'node:path'
import {describe, it} from 'node:test'

const SRC = resolve(import.meta.dirname, '../../src')

/** Higher imports lower. A file's layer is that of its longest matching prefix. */
const LAYERS: Array<[prefix: string, rank: number]> = [
  ['errors.ts', 0],
  ['log.ts', 0],
  ['files.ts', 0],
  ['sleep.ts', 0],
  ['digest.ts', 0],
  ['map-limit.ts', 0],
  ['sharing.ts', 0],
  ['counts.ts', 0],
  ['version.ts', 0],
  ['check/', 1],
  ['config/', 1],
  ['imap/', 2],
  ['credentials/', 1],
  ['stores/maildir/', 2],
  ['stores/store.ts', 2],
  ['stores/message-id.ts', 2],
  ['stores/', 3],
  ['plan/', 3],
  ['state/', 3],
  ['sync/', 4],
  ['verify/', 4],
  ['report/', 4],
  ['batch/', 5],
  ['app/', 6],
  ['cli/', 7],
  ['commands/', 8],
]

/** "from file -> to file" pairs that break the layering today. */
const ALLOWED_UPWARD = new Set<string>([])

/** Runtime cycles (strongly connected files) not broken yet, each as its sorted member list. */
const ALLOWED_CYCLES = new Set<string>([])

function layerOf(file: string): number {
  let best: [string, number] | undefined
  for (const entry of LAYERS) if (file.startsWith(entry[0]) && (!best || entry[0].length > best[0].length)) best = entry
  assert.ok(best, `${file}: no layer declared for it in test/unit/layers.test.ts`)
  return best[1]
}

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) sourceFiles(path, out)
    else if (name.endsWith('.ts')) out.push(relative(SRC, path))
  }
  return out
}

interface Edge {
  to: string
  typeOnly: boolean
}

/** `import ... from './x.js'` and `export ... from './x.js'`, resolved to src-relative .ts paths. */
export function importsOf(file: string, text: string): Edge[] {
  const edges: Edge[] = []
  const pattern = /^(import|export)\s+(type\s+)?([^;]*?)\s*from\s+'(\.{1,2}\/[^']+)'/gms
  for (const match of text.matchAll(pattern)) {
    const names = match[3]
    const typeOnly = match[2] !== undefined || /^\{\s*(type\s+[^,}]+,?\s*)+\}$/.test(names)
    const to = relative(SRC, resolve(SRC, dirname(file), match[4])).replace(/\.js$/, '.ts')
    edges.push({to, typeOnly})
  }
  return edges
}

const files = sourceFiles(SRC).sort()
const graph = new Map(files.map((file) => [file, importsOf(file, readFileSync(join(SRC, file), 'utf8'))]))

/** Strongly connected components of the runtime import graph with more than one member (Tarjan). */
function runtimeCycles(): string[][] {
  let index = 0
  const indexOf = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const out: string[][] = []
  const visit = (file: string) => {
    indexOf.set(file, index)
    low.set(file, index++)
    stack.push(file)
    onStack.add(file)
    for (const edge of graph.get(file) ?? []) {
      if (edge.typeOnly || !graph.has(edge.to)) continue
      if (!indexOf.has(edge.to)) {
        visit(edge.to)
        low.set(file, Math.min(low.get(file)!, low.get(edge.to)!))
      } else if (onStack.has(edge.to)) {
        low.set(file, Math.min(low.get(file)!, indexOf.get(edge.to)!))
      }
    }
    if (low.get(file) === indexOf.get(file)) {
      const component: string[] = []
      let member: string
      do {
        member = stack.pop()!
        onStack.delete(member)
        component.push(member)
      } while (member !== file)
      if (component.length > 1) out.push(component.sort())
    }
  }
  for (const file of files) if (!indexOf.has(file)) visit(file)
  return out
}

/** Packages only one folder may import: the rest of the code sees them through that folder's types. */
const OWNERS: Record<string, string> = {'better-sqlite3': 'state/', imapflow: 'imap/', 'cli-progress': 'report/', '@oclif/core': 'commands/|cli/'}

describe('layers', () => {
  it('the import parser sees value and type imports, and re-exports', () => {
    const text = "import {a} from './a.js'\nimport type {B} from '../b/b.js'\nimport {type C} from './c.js'\nexport {d} from './d.js'\n"
    assert.deepEqual(importsOf('x/y.ts', text), [
      {to: 'x/a.ts', typeOnly: false},
      {to: 'b/b.ts', typeOnly: true},
      {to: 'x/c.ts', typeOnly: true},
      {to: 'x/d.ts', typeOnly: false},
    ])
  })

  it('every import points to the same layer or one below (type imports too)', () => {
    const upward: string[] = []
    for (const [file, edges] of graph) {
      for (const edge of edges) {
        if (!graph.has(edge.to)) continue
        if (layerOf(edge.to) > layerOf(file)) upward.push(`${file} -> ${edge.to}`)
      }
    }
    const unexpected = upward.filter((line) => !ALLOWED_UPWARD.has(line))
    assert.deepEqual(unexpected, [], 'upward imports: move the code down, or the caller up')
    const fixed = [...ALLOWED_UPWARD].filter((line) => !upward.includes(line))
    assert.deepEqual(fixed, [], 'fixed: remove these from ALLOWED_UPWARD')
  })

  it('better-sqlite3 only in state/, imapflow only in imap/, cli-progress only in report/, oclif only in commands/ and cli/', () => {
    const strays: string[] = []
    for (const file of files) {
      const text = readFileSync(join(SRC, file), 'utf8')
      for (const [name, owner] of Object.entries(OWNERS)) {
        const imported = new RegExp(`from '${name}'`).test(text)
        if (imported && !owner.split('|').some((prefix) => file.startsWith(prefix))) strays.push(`${file} imports ${name}`)
      }
    }
    assert.deepEqual(strays, [])
  })

  it('no runtime import cycle', () => {
    const cycles = runtimeCycles().map((cycle) => cycle.join(' '))
    const unexpected = cycles.filter((cycle) => !ALLOWED_CYCLES.has(cycle))
    assert.deepEqual(unexpected, [], 'import cycles')
    const fixed = [...ALLOWED_CYCLES].filter((cycle) => !cycles.includes(cycle))
    assert.deepEqual(fixed, [], 'fixed: remove these from ALLOWED_CYCLES')
  })
})
