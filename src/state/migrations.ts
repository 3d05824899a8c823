/**
 * Ordered schema steps keyed to PRAGMA user_version. Append new steps; never edit a released one.
 * A database written by a newer mailferry (higher version) is refused rather than misread.
 */
import type Database from 'better-sqlite3'

import {StateError} from '../errors.js'

const STEPS: string[] = [
  // v1: the first schema.
  `
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT,
    copied      INTEGER NOT NULL DEFAULT 0,
    present     INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    bytes       INTEGER NOT NULL DEFAULT 0,
    error       TEXT
  );
  CREATE TABLE folder_pairs (
    id                 INTEGER PRIMARY KEY,
    source_path        TEXT NOT NULL,
    dest_path          TEXT NOT NULL,
    source_uidvalidity INTEGER,
    dest_uidvalidity   INTEGER,
    last_synced_at     TEXT,
    UNIQUE (source_path, dest_path)
  );
  -- One row per source message of a pair. status:
  --   pending: written just before its APPEND; the APPEND may or may not have landed (reconciled next run)
  --   copied:  on the destination at dest_uid (appended by us, or recognised there: origin)
  --   failed:  the destination refused it (error says why); retried on the next run
  CREATE TABLE messages (
    pair_id       INTEGER NOT NULL REFERENCES folder_pairs(id) ON DELETE CASCADE,
    source_uid    INTEGER NOT NULL,
    dest_uid      INTEGER,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'copied', 'failed')),
    origin        TEXT CHECK (origin IN ('appended', 'recognised')),
    message_id    TEXT,
    size          INTEGER NOT NULL,
    internal_date TEXT,
    header_hash   TEXT,
    fingerprint   TEXT,
    flags         TEXT NOT NULL DEFAULT '',
    error         TEXT,
    run_id        INTEGER,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (pair_id, source_uid)
  ) WITHOUT ROWID;
  CREATE INDEX messages_by_dest_uid ON messages (pair_id, dest_uid);
  CREATE INDEX messages_by_message_id ON messages (pair_id, message_id);
  `,
  // v2: what the source folder looked like after the last complete sync (STATUS values), so an
  // unchanged folder is skipped after one command; folders this tool created (for deletions).
  `
  ALTER TABLE folder_pairs ADD COLUMN source_uidnext INTEGER;
  ALTER TABLE folder_pairs ADD COLUMN source_messages INTEGER;
  ALTER TABLE folder_pairs ADD COLUMN source_modseq TEXT;
  ALTER TABLE folder_pairs ADD COLUMN dest_created INTEGER NOT NULL DEFAULT 0;
  `,
  // v3: --move records its steps (docs/design.md, "Deletions prove their precondition"):
  //   moving: the copy was proven on the destination; the source's UID EXPUNGE may or may not have run
  //   moved:  the source was expunged by us; a tombstone that keeps the copy from ever counting as extraneous
  // SQLite cannot change a CHECK constraint in place: the table is rebuilt.
  `
  CREATE TABLE messages_v3 (
    pair_id       INTEGER NOT NULL REFERENCES folder_pairs(id) ON DELETE CASCADE,
    source_uid    INTEGER NOT NULL,
    dest_uid      INTEGER,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'copied', 'failed', 'moving', 'moved')),
    origin        TEXT CHECK (origin IN ('appended', 'recognised')),
    message_id    TEXT,
    size          INTEGER NOT NULL,
    internal_date TEXT,
    header_hash   TEXT,
    fingerprint   TEXT,
    flags         TEXT NOT NULL DEFAULT '',
    error         TEXT,
    run_id        INTEGER,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (pair_id, source_uid)
  ) WITHOUT ROWID;
  INSERT INTO messages_v3 SELECT pair_id, source_uid, dest_uid, status, origin, message_id, size, internal_date,
    header_hash, fingerprint, flags, error, run_id, updated_at FROM messages;
  DROP TABLE messages;
  ALTER TABLE messages_v3 RENAME TO messages;
  CREATE INDEX messages_by_dest_uid ON messages (pair_id, dest_uid);
  CREATE INDEX messages_by_message_id ON messages (pair_id, message_id);
  `,
  // v4: repairs, the audit trail of --repair, one row per repaired message (its message row says where
  // the copy is). stored = 0: the repaired APPEND was sent and its outcome is not known yet; a
  // later run looks for a copy with stored_sha256 before sending it again.
  `
  CREATE TABLE repairs (
    pair_id         INTEGER NOT NULL REFERENCES folder_pairs(id) ON DELETE CASCADE,
    source_uid      INTEGER NOT NULL,
    original_sha256 TEXT NOT NULL,
    stored_sha256   TEXT NOT NULL,
    stored_size     INTEGER NOT NULL,
    repairs         TEXT NOT NULL,
    reason          TEXT NOT NULL,
    stored          INTEGER NOT NULL DEFAULT 0,
    dest_uid        INTEGER,
    run_id          INTEGER,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (pair_id, source_uid)
  ) WITHOUT ROWID;
  `,
  // v5: what was spent of the daily and hourly budgets (--max-bytes-per-day, --max-messages-per-hour),
  // per side and per minute (minutes since the epoch), so a resumed run knows its rolling window.
  `
  CREATE TABLE budget_spend (
    side     TEXT NOT NULL CHECK (side IN ('source', 'dest')),
    minute   INTEGER NOT NULL,
    bytes    INTEGER NOT NULL DEFAULT 0,
    messages INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (side, minute)
  ) WITHOUT ROWID;
  `,
  // v6: the rows not settled yet, indexed apart, so that a re-run asks whether a folder has any
  // (StateRepository.unsettledCount) without reading every row of it: 43 ms at 40,000 rows, 0.07 ms with
  // it. And the rows whose copy could be moved, by the key a moved message is known by (movableAmong):
  // new mail is looked up there instead of in a filter built from every row at each run.
  `
  CREATE INDEX messages_unsettled ON messages (pair_id) WHERE status != 'moved' AND (status != 'copied' OR dest_uid IS NULL);
  CREATE INDEX messages_movable ON messages (size, message_id, internal_date) WHERE status = 'copied' AND dest_uid IS NOT NULL AND header_hash IS NOT NULL;
  `,
]

export const SCHEMA_VERSION = STEPS.length

export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', {simple: true}) as number
  if (current > SCHEMA_VERSION) {
    throw new StateError(
      `state database has schema version ${current}, newer than this mailferry understands (${SCHEMA_VERSION})`,
      {hint: 'upgrade mailferry, or use another --state file'},
    )
  }
  for (let version = current; version < SCHEMA_VERSION; version++) {
    db.transaction(() => {
      db.exec(STEPS[version])
      db.pragma(`user_version = ${version + 1}`)
    })()
  }
}
