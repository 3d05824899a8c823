/**
 * connectionPlan: sessions and raw connections together never exceed --connections, and with one
 * connection a side the raw connection takes turns with the session in its place.
 */
import assert from 'node:assert/strict'
import {test} from 'node:test'

import {connectionPlan} from '../../../src/stores/imap-connections.js'

const dest = (connections: number) => connectionPlan({connections, readOnly: false, pipeline: true})
const source = (connections: number) => connectionPlan({connections, readOnly: true, readPipeline: true})
const check = (connections: number) => connectionPlan({connections, readOnly: true, scanConnections: true})

test('every plan stays within --connections; one connection a side is shared', () => {
  for (let connections = 1; connections <= 16; connections++) {
    for (const plan of [dest(connections), source(connections), check(connections)]) {
      const raw = plan.appends + plan.scans + (plan.reads ? 1 : 0)
      if (plan.shared) assert.deepEqual([plan.sessions, raw, connections], [1, 1, 1], JSON.stringify(plan))
      else assert.equal(plan.sessions + raw, connections, JSON.stringify(plan))
      assert.ok(plan.sessions >= 1)
    }
  }
})

test('the destination: half its connections for APPENDs; with one, APPENDs take turns with the session', () => {
  assert.deepEqual(dest(1), {sessions: 1, appends: 1, scans: 0, reads: undefined, shared: true, readsAtOnce: 1})
  assert.deepEqual(dest(4), {sessions: 2, appends: 2, scans: 0, reads: undefined, shared: false, readsAtOnce: 2})
})

test('the source: a read connection beside the sessions from three, in turn with the only one, none at two', () => {
  assert.deepEqual(source(1), {sessions: 1, appends: 0, scans: 0, reads: 'in-turn', shared: true, readsAtOnce: 4})
  assert.deepEqual(source(2), {sessions: 2, appends: 0, scans: 0, reads: undefined, shared: false, readsAtOnce: 2})
  assert.deepEqual(source(4), {sessions: 3, appends: 0, scans: 0, reads: 'beside', shared: false, readsAtOnce: 4})
  assert.deepEqual(check(4), {sessions: 2, appends: 0, scans: 2, reads: undefined, shared: false, readsAtOnce: 4})
})
