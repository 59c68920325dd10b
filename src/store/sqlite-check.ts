/**
 * Checks of an SQLite store's files before and after it is opened. SQLite itself is silent in the
 * three cases that lose data here: it opens a zero-length file as a new, empty database; it stops
 * reading a write-ahead log at the first frame whose checksum fails, dropping every transaction
 * after it, acknowledged or not; and it reads a damaged page only when a query reaches it. So:
 * refuse files that are not a store, read the WAL the way SQLite's recovery does and say what it
 * will drop, and run `PRAGMA quick_check` once the database is open.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { ChorusError } from '../errors.js';

/** Something wrong with a store that did not stop it opening, said loudly (see SqliteStoreOptions.onWarning). */
export interface StoreWarning {
  code: 'E_STORE_WAL_DAMAGED' | 'E_STORE_WAL_TRUNCATED';
  /** The file concerned. */
  path: string;
  message: string;
}

function refuse(code: string, path: string, message: string): ChorusError {
  return new ChorusError(code, message, { status: 500, location: { file: path } });
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/** Refuse a database file that cannot be a store: zero length, or not SQLite. A missing file is a new store. */
export function checkDatabaseFile(path: string): void {
  if (!existsSync(path)) return;
  const st = statSync(path);
  if (!st.isFile()) throw refuse('E_STORE_NOT_SQLITE', path, 'the store path is not a file');
  if (st.size === 0) {
    throw refuse(
      'E_STORE_EMPTY',
      path,
      'the store file is empty (zero length): a store is never empty once opened, so this is a truncated file or one created but never written; refusing to start a new store over it (remove the file to start afresh)',
    );
  }
  const head = Buffer.alloc(SQLITE_MAGIC.length);
  const fd = openSync(path, 'r');
  let n: number;
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (n < head.length || !head.equals(SQLITE_MAGIC)) {
    throw refuse('E_STORE_NOT_SQLITE', path, 'not an SQLite database (its header is not "SQLite format 3"); refusing to open it as a store');
  }
}

/** After opening: SQLite's quick integrity check (every page and index entry readable and well-formed). */
export function checkIntegrity(db: Database.Database, path: string): void {
  const rows = db.pragma('quick_check(20)') as { quick_check: string }[];
  const problems = rows.map((r) => r.quick_check).filter((m) => m !== 'ok');
  if (problems.length > 0) {
    throw refuse('E_STORE_CORRUPT', path, `the database fails PRAGMA quick_check (${problems.length}${problems.length === 20 ? '+' : ''} problems): ${problems.slice(0, 3).join('; ')}`);
  }
}

const WAL_HEADER = 32;
const FRAME_HEADER = 24;

/** SQLite's WAL checksum (wal.c, walChecksumBytes): two 32-bit sums over 32-bit words, continued from `s`. */
function walChecksum(b: Buffer, from: number, to: number, bigEndian: boolean, s: [number, number]): [number, number] {
  let s0 = s[0];
  let s1 = s[1];
  for (let i = from; i < to; i += 8) {
    const x0 = bigEndian ? b.readUInt32BE(i) : b.readUInt32LE(i);
    const x1 = bigEndian ? b.readUInt32BE(i + 4) : b.readUInt32LE(i + 4);
    s0 = (s0 + x0 + s1) >>> 0;
    s1 = (s1 + x1 + s0) >>> 0;
  }
  return [s0, s1];
}

/**
 * Read the store's write-ahead log as SQLite's recovery will: frames count while they carry the
 * header's salts and their running checksum holds; recovery keeps them up to the last commit
 * frame. Frames with other salts are left over from an earlier log generation (normal). What
 * this returns a warning for is a log whose current generation goes on past the point recovery
 * stops: a frame that fails its checksum (damage; the commits after it are lost, and counted), or a
 * log that ends inside a frame (truncated). A process killed while writing a transaction that was
 * never acknowledged can leave the same signs, which the message says.
 */
export function checkWal(dbPath: string): StoreWarning | null {
  const path = `${dbPath}-wal`;
  if (!existsSync(path)) return null;
  const size = statSync(path).size;
  if (size === 0) return null; // reset after a checkpoint: nothing pending
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(WAL_HEADER);
    if (readSync(fd, head, 0, WAL_HEADER, 0) < WAL_HEADER) {
      return { code: 'E_STORE_WAL_TRUNCATED', path, message: `the write-ahead log is ${size} bytes, shorter than its ${WAL_HEADER}-byte header: any transactions in it are lost` };
    }
    const magic = head.readUInt32BE(0);
    if (magic !== 0x377f0682 && magic !== 0x377f0683) {
      return { code: 'E_STORE_WAL_DAMAGED', path, message: 'the write-ahead log has no valid header: SQLite ignores it, and every transaction in it is lost' };
    }
    const bigEndian = (magic & 1) === 1;
    const pageSize = head.readUInt32BE(8);
    const salt1 = head.readUInt32BE(16);
    const salt2 = head.readUInt32BE(20);
    let sum = walChecksum(head, 0, 24, bigEndian, [0, 0]);
    if (sum[0] !== head.readUInt32BE(24) || sum[1] !== head.readUInt32BE(28) || pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
      return size > WAL_HEADER
        ? { code: 'E_STORE_WAL_DAMAGED', path, message: `the write-ahead log's header fails its checksum: SQLite ignores the log, and the ${size - WAL_HEADER} bytes of transactions in it are lost` }
        : null;
    }
    const frameSize = FRAME_HEADER + pageSize;
    const frame = Buffer.alloc(frameSize);
    let off = WAL_HEADER;
    let valid = 0;
    let committed = 0;
    let committedFrames = 0;
    // Recovery: frames while salts match and the running checksum holds.
    let stop: 'end' | 'stale' | 'checksum' | 'partial' = 'end';
    for (;;) {
      const n = readSync(fd, frame, 0, frameSize, off);
      if (n === 0) break;
      if (n < FRAME_HEADER || frame.readUInt32BE(8) !== salt1 || frame.readUInt32BE(12) !== salt2) {
        stop = n >= FRAME_HEADER ? 'stale' : 'partial';
        break;
      }
      if (n < frameSize) {
        stop = 'partial';
        break;
      }
      const next = walChecksum(frame, 0, 8, bigEndian, sum);
      const full = walChecksum(frame, FRAME_HEADER, frameSize, bigEndian, next);
      if (full[0] !== frame.readUInt32BE(16) || full[1] !== frame.readUInt32BE(20)) {
        stop = 'checksum';
        break;
      }
      sum = full;
      valid++;
      if (frame.readUInt32BE(4) !== 0) {
        committed++;
        committedFrames = valid;
      }
      off += frameSize;
    }
    if (stop === 'end' || stop === 'stale') return null;
    // The current generation goes on past where recovery stops: count the commit frames dropped after a bad checksum.
    let lost = 0;
    if (stop === 'checksum') {
      for (let at = off + frameSize; ; at += frameSize) {
        const n = readSync(fd, frame, 0, frameSize, at);
        if (n < FRAME_HEADER || frame.readUInt32BE(8) !== salt1 || frame.readUInt32BE(12) !== salt2) break;
        if (frame.readUInt32BE(4) !== 0) lost++;
        if (n < frameSize) break;
      }
    }
    const kept = `recovery keeps ${committed} committed transactions (${committedFrames} frames)`;
    const crash = 'unless the process was killed while writing an unacknowledged transaction';
    if (stop === 'checksum') {
      return {
        code: 'E_STORE_WAL_DAMAGED',
        path,
        message:
          lost > 0
            ? `frame ${valid + 1} of the write-ahead log fails its checksum: ${kept} and drops the ${lost} committed transactions after it — acknowledged writes are lost`
            : `frame ${valid + 1} of the write-ahead log fails its checksum: ${kept} and drops the transaction it belongs to (damage, ${crash})`,
      };
    }
    return {
      code: 'E_STORE_WAL_TRUNCATED',
      path,
      message: `the write-ahead log ends inside frame ${valid + 1} (${size} bytes): ${kept}; the transaction being written is lost (truncation, ${crash})`,
    };
  } finally {
    closeSync(fd);
  }
}
