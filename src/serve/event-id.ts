import { randomFillSync } from 'node:crypto';

/**
 * Event ids for logged decisions: UUID version 7 (RFC 9562), time-ordered.
 *
 * Why not `randomUUID()` (v4): the decisions table has a UNIQUE index on the id, and a random key
 * lands on a random leaf of that index. Once the index outgrows SQLite's page cache, every
 * decision in a group commit dirties its own index page, which is written to the WAL (4 KiB per
 * 50-byte entry) and again to the database at the next checkpoint, so the cost of a commit grew
 * with the size of the log (docs/benchmarks.md, "Server: event-log growth"). A v7 id sorts by
 * creation time, so new entries go to the right-most leaf and the commit cost stays flat.
 *
 * Layout: 48-bit Unix ms | version 7 | 12-bit counter | variant 10 | 62 random bits. The counter
 * (RFC 9562 §6.2, method 1) keeps ids from one process strictly increasing within a millisecond;
 * when it overflows, or the clock steps back, the timestamp field is advanced past the last one
 * used rather than going backwards. The 62 random bits keep ids from different processes unique.
 */
let lastMs = -1;
let counter = 0;

/**
 * Random bytes are drawn from a pool refilled 4 KiB at a time (one `randomFillSync` per 409 ids):
 * a call per id into the CSPRNG cost 3 % of a /recommend request's CPU (issue 22's profile). The
 * bytes are the same CSPRNG's, each used once.
 */
const POOL = 4096;
const pool = Buffer.alloc(POOL);
let at = POOL;

function randomBytes(n: number): number {
  if (at + n > POOL) {
    randomFillSync(pool);
    at = 0;
  }
  const start = at;
  at += n;
  return start;
}

const hex = (v: number, width: number): string => v.toString(16).padStart(width, '0');

export function newEventId(now: number = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    // A random start (top bit clear) leaves at least 2,048 increments in this millisecond.
    counter = pool.readUInt16BE(randomBytes(2)) & 0x7ff;
  } else if (++counter > 0xfff) {
    lastMs++;
    counter = 0;
  }
  const r = randomBytes(8);
  const ms = hex(lastMs, 12);
  const variant = hex(((pool[r]! & 0x3f) | 0x80) * 256 + pool[r + 1]!, 4);
  return `${ms.slice(0, 8)}-${ms.slice(8)}-${(0x7000 | counter).toString(16)}-${variant}-${pool.toString('hex', r + 2, r + 8)}`;
}
