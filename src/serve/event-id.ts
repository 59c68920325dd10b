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
const rand = Buffer.alloc(8);

export function newEventId(now: number = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    // A random start (top bit clear) leaves at least 2,048 increments in this millisecond.
    randomFillSync(rand, 0, 2);
    counter = rand.readUInt16BE(0) & 0x7ff;
  } else if (++counter > 0xfff) {
    lastMs++;
    counter = 0;
  }
  randomFillSync(rand);
  const ms = lastMs.toString(16).padStart(12, '0');
  const hi = (0x7000 | counter).toString(16);
  const variant = ((rand[0]! & 0x3f) | 0x80).toString(16) + rand.toString('hex', 1, 2);
  return `${ms.slice(0, 8)}-${ms.slice(8)}-${hi}-${variant}-${rand.toString('hex', 2, 8)}`;
}
