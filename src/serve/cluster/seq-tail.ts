/**
 * Following a log that other processes append to, by its `seq` column, without missing rows.
 *
 * On PostgreSQL a row's seq is taken when its INSERT runs, not when its transaction commits, so
 * with several writers (servers) rows become visible out of seq order: a reader that kept "the
 * highest seq I saw" would skip a row with a lower seq that committed a moment later. So the tail
 * keeps a low-water mark below which every seq has been handed out (or given up on) and the seqs
 * it has seen above it; each read starts at the low-water mark again, and a hole in the sequence
 * is waited for `gapMs` before it is given up (a rolled-back insert leaves a hole for ever).
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
  private readonly o: Required<Omit<SeqTailOptions<T>, 'now'>> & { now: () => number };

  constructor(from: number, o: SeqTailOptions<T>) {
    this.low = from;
    this.o = { page: 2000, now: Date.now, ...o };
  }

  /** The low-water mark (every seq at or below it has been handed out or given up). */
  get position(): number {
    return this.low;
  }

  /** Rows not handed out before, in seq order; reads until a page comes back short. */
  async poll(): Promise<T[]> {
    const out: T[] = [];
    let after = this.low;
    for (;;) {
      const rows = await this.o.read(after, this.o.page);
      for (const r of rows) {
        const s = this.o.seqOf(r);
        if (s > after) after = s;
        if (s <= this.low || this.seen.has(s)) continue;
        this.seen.add(s);
        this.holes.delete(s);
        out.push(r);
      }
      if (rows.length < this.o.page) break;
    }
    this.advance(after);
    return out;
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
