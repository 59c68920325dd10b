/**
 * Session ids for recommend requests that do not name one. A user's session lasts while their
 * requests come less than the idle time apart; the next request after a longer pause starts a new
 * one. The id is `${user}@${start}`, start being the Unix ms of the session's first request, so ids
 * stay unique across restarts (a counter would start again at 0). A request that names its
 * session is taken at its word, and a later request without one continues that session.
 *
 * Memory: the last request of at most `maxUsers` users (least recently active dropped first; a
 * dropped user's next request starts a new session, as after a long pause).
 */
export class SessionIds {
  private readonly last = new Map<string, { id: string; ts: number }>();

  constructor(private readonly maxUsers = 100_000) {}

  /** Erasure: the user's last request is forgotten (their next request starts a new session). */
  /** Forget every user's session (a cluster server rebuilding its per-user memory). */
  clear(): void {
    this.last.clear();
  }

  forget(user: string): boolean {
    return this.last.delete(user);
  }

  /** The session of `user`'s request at `ts` (ms): `given` when set, else derived with `idleMs`. */
  resolve(user: string, given: string | undefined, ts: number, idleMs: number): string {
    const prev = this.last.get(user);
    const id = given ?? (prev && ts - prev.ts <= idleMs ? prev.id : `${user}@${ts}`);
    this.last.delete(user);
    this.last.set(user, { id, ts });
    if (this.last.size > this.maxUsers) this.last.delete(this.last.keys().next().value as string);
    return id;
  }
}
