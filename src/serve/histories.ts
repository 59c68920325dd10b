/** How much online history the server keeps in memory. */
export interface HistoryBounds {
  /** Items kept per user: the most recent `perUser` positively rewarded ones. */
  perUser: number;
  /** Users kept; past it, the least recently used user's history is dropped. */
  users: number;
}

/**
 * The items each user rewarded positively online (the fold-in state the served model sees after
 * their training items), in the order first liked, with bounded memory: per user the last
 * `perUser` items, and at most `users` users, least recently used dropped first (a read or a new
 * item counts as use). A user under both bounds has exactly the history an unbounded map would
 * hold. `onChange(user)` is called whenever a user's history changes or is dropped, so caches
 * derived from it (candidate pools) go stale then.
 */
export class UserHistories {
  private readonly map = new Map<string, string[]>();
  private readonly bounds: HistoryBounds;
  private readonly onChange: (user: string) => void;

  constructor(bounds: HistoryBounds, onChange: (user: string) => void = () => {}) {
    if (!(bounds.perUser >= 1) || !(bounds.users >= 1)) throw new RangeError(`history bounds must be >= 1 (got perUser ${bounds.perUser}, users ${bounds.users})`);
    this.bounds = bounds;
    this.onChange = onChange;
  }

  get size(): number {
    return this.map.size;
  }

  /** The user's items, oldest first (marks the user as used). */
  get(user: string): readonly string[] | undefined {
    const h = this.map.get(user);
    if (h) this.touch(user, h);
    return h;
  }

  /** The user liked `item`: appended unless already there; the oldest item and user beyond the bounds go. */
  remember(user: string, item: string): void {
    let h = this.map.get(user);
    if (h) this.touch(user, h);
    else this.map.set(user, (h = []));
    // A repeated like changes nothing, so the user's cached pool stays valid.
    if (!h.includes(item)) {
      h.push(item);
      if (h.length > this.bounds.perUser) h.splice(0, h.length - this.bounds.perUser);
      this.onChange(user);
    }
    while (this.map.size > this.bounds.users) {
      const oldest = this.map.keys().next().value!;
      this.map.delete(oldest);
      this.onChange(oldest);
    }
  }

  /** Erasure: the user's history is dropped; returns how many items it held. */
  forget(user: string): number {
    const h = this.map.get(user);
    if (!h) return 0;
    this.map.delete(user);
    this.onChange(user);
    return h.length;
  }

  /** Drop every history (a cluster server that missed an erasure notice rebuilds them from the log). */
  clear(): void {
    const users = [...this.map.keys()];
    this.map.clear();
    for (const u of users) this.onChange(u);
  }

  /** Every kept history (retraining reads them). */
  entries(): ReadonlyMap<string, readonly string[]> {
    return this.map;
  }

  /** Map order is use order: moving a user to the end makes them the most recently used. */
  private touch(user: string, h: string[]): void {
    this.map.delete(user);
    this.map.set(user, h);
  }
}
