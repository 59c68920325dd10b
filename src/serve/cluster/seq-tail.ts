/**
 * Following a log that other processes append to, by its `seq` column, without missing rows and
 * without handing a row out twice.
 *
 * Chorus's PostgreSQL writers share one transaction lock, so rows become visible in seq order,
 * but a rolled-back insert leaves a hole in the sequence for ever (and a writer without that lock
 * would commit out of order). So the tail keeps a low-water mark below which every seq has been
 * handed out (or given up on) and the seqs it has handed out above it; each read starts at the
 * low-water mark again, and a hole is waited for `gapMs` before it is given up.
 *
 * Reading and taking are two steps: `peek` reads the new rows without marking them, and `take`
 * marks them once the caller has used them. A read or a use that fails in between leaves them
 * unmarked, so the next `peek` returns them again.
 */
export interface SeqTailOptions<T> {
  /** Rows with seq > `after`, oldest first, at most `limit` (the store's paging read). */
  read: (after: number, limit: number) => Promise<T[]>;
  seqOf: (row: T) => number;
  /** How long a hole in the sequence is waited for before it counts as never coming. */
  gapMs: number;
  /** Rows per read. */
  page?: number;
  now?: () => number;
}

export class SeqTail<T> {
  /** Every seq ≤ this was handed out or given up. */
  private low: number;
  /** Seqs above `low` already handed out. */
  private readonly seen = new Set<number>();
  /** When each hole (a missing seq above `low`) was first noticed. */
  private readonly holes = new Map<number, number>();
  /** The highest seq any read has shown (holes are noted up to it). */
  private top = 0;
  private readonly o: Required<Omit<SeqTailOptions<T>, 'now'>> & { now: () => number };

  constructor(from: number, o: SeqTailOptions<T>) {
    this.low = from;
    this.top = from;
    this.o = { page: 2000, now: Date.now, ...o };
  }

  /** The low-water mark (every seq at or below it has been handed out or given up). */
  get position(): number {
    return this.low;
  }

  /** Rows not taken before, in seq order; reads until a page comes back short. Marks nothing. */
  async peek(): Promise<T[]> {
    const out: T[] = [];
    const fresh = new Set<number>();
    let after = this.low;
    for (;;) {
      const rows = await this.o.read(after, this.o.page);
      for (const r of rows) {
        const s = this.o.seqOf(r);
        if (s > after) after = s;
        if (s <= this.low || this.seen.has(s) || fresh.has(s)) continue;
        fresh.add(s);
        out.push(r);
      }
      if (rows.length < this.o.page) break;
    }
    this.top = Math.max(this.top, after);
    return out;
  }

  /** Mark rows from `peek` as used, and move the low-water mark. */
  take(rows: readonly T[]): void {
    for (const r of rows) {
      const s = this.o.seqOf(r);
      if (s <= this.low) continue;
      this.seen.add(s);
      this.holes.delete(s);
    }
    this.advance(this.top);
  }

  /** Move the low-water mark over seen seqs and expired holes; note new holes up to `top`. */
  private advance(top: number): void {
    const now = this.o.now();
    for (let s = this.low + 1; s <= top; s++) if (!this.seen.has(s) && !this.holes.has(s)) this.holes.set(s, now);
    for (;;) {
      const next = this.low + 1;
      if (this.seen.delete(next)) this.low = next;
      else {
        const since = this.holes.get(next);
        if (since === undefined || now - since < this.o.gapMs) break;
        this.holes.delete(next);
        this.low = next;
      }
    }
  }
}
