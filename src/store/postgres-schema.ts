/**
 * The PostgreSQL store's schema, as numbered migrations recorded in a `schema_version` table.
 * Version 1 has the same tables and columns as the SQLite schema (./sqlite-write.ts, SCHEMA), in
 * PostgreSQL's types: jsonb for JSON, bytea for blobs, double precision for timestamps and reals,
 * bigint identity for the logs' seq. Key columns use the "C" collation so that `ORDER BY id` sorts
 * by bytes, as SQLite's BINARY collation does, whatever the database's locale.
 */
import type { PoolClient } from 'pg';
import { ChorusError } from '../errors.js';

export interface Migration {
  version: number;
  /** What it does, for the `schema_version` row. */
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    description: 'tables of SQLite schema version 1',
    sql: `
CREATE TABLE decisions (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text COLLATE "C" NOT NULL UNIQUE,
  ts double precision NOT NULL,
  "user" text COLLATE "C",
  kind text NOT NULL,
  items jsonb NOT NULL,
  propensities jsonb NOT NULL,
  scores jsonb NOT NULL,
  snapshot_id text COLLATE "C",
  activated boolean NOT NULL,
  payload jsonb NOT NULL
);
CREATE INDEX decisions_ts ON decisions(ts);
CREATE TABLE feedback (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id text COLLATE "C",
  ts double precision NOT NULL,
  "user" text COLLATE "C",
  item text COLLATE "C" NOT NULL,
  type text NOT NULL,
  value double precision,
  reward double precision NOT NULL,
  position integer,
  propensity double precision
);
CREATE INDEX feedback_ts ON feedback(ts);
CREATE INDEX feedback_item ON feedback(item);
CREATE INDEX feedback_event ON feedback(event_id);
-- Per-item feedback totals, kept with every feedback insert (as in SQLite), so the dashboard's
-- top items read a few rows instead of grouping the whole log.
CREATE TABLE item_feedback (item text COLLATE "C" PRIMARY KEY, n bigint NOT NULL, reward double precision NOT NULL);
CREATE INDEX item_feedback_rank ON item_feedback(reward DESC, n DESC, item);
CREATE TABLE items (id text COLLATE "C" PRIMARY KEY, meta jsonb NOT NULL, created double precision NOT NULL, updated double precision NOT NULL);
CREATE TABLE users (id text COLLATE "C" PRIMARY KEY, meta jsonb NOT NULL, created double precision NOT NULL, updated double precision NOT NULL);
CREATE TABLE snapshots (id text COLLATE "C" PRIMARY KEY, created double precision NOT NULL, meta jsonb NOT NULL, body bytea NOT NULL);
CREATE TABLE activations (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, snapshot_id text COLLATE "C" NOT NULL, ts double precision NOT NULL);
CREATE TABLE state (key text COLLATE "C" PRIMARY KEY, value bytea NOT NULL, updated double precision NOT NULL);
CREATE TABLE api_keys (id text COLLATE "C" PRIMARY KEY, scope text NOT NULL, salt bytea NOT NULL, hash bytea NOT NULL, created double precision NOT NULL, name text NOT NULL);
`,
  },
  {
    version: 2,
    description: 'the erasure audit (counts only, never a user id)',
    sql: `
CREATE TABLE erasures (id text COLLATE "C" PRIMARY KEY, ts double precision NOT NULL, counts jsonb NOT NULL);
`,
  },
]);

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * Advisory lock taken around migrations, so that servers opening a fresh database at the same
 * moment do not both create the tables (CREATE TABLE IF NOT EXISTS is not safe against that).
 */
const MIGRATE_LOCK = 0x43484d47; // "CHMG"

/** Quote an identifier already checked against SCHEMA_NAME (see postgresOptions). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Create the schema if asked for one, then apply every migration newer than the recorded version,
 * all in one transaction: a failure leaves the database as it was. Resolves with the version now
 * recorded. A database written by a newer Chorus (a version this code does not know) is refused.
 */
export async function migrate(client: PoolClient, schema: string | null): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query(`SELECT pg_advisory_xact_lock(${MIGRATE_LOCK})`);
    if (schema !== null) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const r = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_version');
    const current = r.rows[0]?.v ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new ChorusError(
        'E_STORE_SCHEMA',
        `the database's schema is version ${current}, newer than this Chorus knows (${SCHEMA_VERSION}); upgrade Chorus`,
        { status: 500, location: { field: 'store' } },
      );
    }
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_version (version, description) VALUES ($1, $2)', [m.version, m.description]);
    }
    await client.query('COMMIT');
    return SCHEMA_VERSION;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  }
}
