/**
 * Served decisions as steps of sessions, turned into the agent's transitions.
 *
 * A served agent learns from transitions (s_t, slate_t, r_t, s_{t+1}, done) like in the simulator.
 * A decision's reward is the sum of the rewards learned for its shown positions; its next state
 * is the observation of the *next* decision of the same session, which exists only later. So
 * each decision waits here as a `Step` until
 *   - it is complete: the engine said its reward window closed (`end`), or — while the engine has
 *     never called `end` (an engine without reward windows) — the session's next decision exists
 *     (the user moved on), and
 *   - its next state is known: a later step of the session exists (done = false), or the session
 *     has ended (done = true): the user's next decision came in another session, the session was
 *     idle longer than `idleMs` (swept lazily, by the request clock), it was ended explicitly, or
 *     it was evicted to bound memory.
 * Steps of one session are emitted in order (on-policy learners chain them into episodes; the
 * `next` observation of step t is the very object given as step t+1's `observation`). A decision
 * without a session (Personalizer Rank) is its own one-step episode.
 *
 * Memory: at most `maxSessions` open sessions and `maxSteps` pending steps; the least recently
 * active session is closed (its steps emitted, the last with done = true) to make room. Emitted
 * decision ids are remembered (the last 10,000) so that feedback arriving after its step was
 * emitted is refused rather than learned twice.
 */
import type { Transition } from '../agents/types.js';
import type { Observation, Slate } from '../env/types.js';

/** One served decision, as the agent will learn it. */
export interface Step {
  /** The decision's event id. */
  id: string;
  /** null: its own one-step episode. */
  session: string | null;
  /** External user id (a user's next decision in another session ends this one); null when unknown. */
  who: string | null;
  t: number;
  /** Request clock (Unix ms). */
  ts: number;
  /** The observation the transition carries (step index t). */
  obs: Observation;
  /** The shown items the agent knows (its item space), in slate order. */
  items: Int32Array;
  /** The shown position of each of `items`. */
  positions: Int32Array;
  /** The logged propensity of each of `items` (null: decisions logged before propensities were kept). */
  propensities: Float32Array | null;
  /** Reward learned per entry of `items` so far. */
  rewards: Float32Array;
  /** How many rewards were learned (a step never rewarded nor ended is dropped, not learned, when evicted). */
  learned: number;
  /** The engine closed the decision's reward window. */
  ended: boolean;
  /** The slate object the agent's `act` returned (in memory only; lost on restart). */
  acted: Slate | null;
}

interface Session {
  id: string;
  who: string | null;
  /** Request clock of its latest decision. */
  lastTs: number;
  /** Step index of its next decision. */
  nextT: number;
  /** Steps not emitted yet, in step order. */
  steps: Step[];
  closed: boolean;
}

export interface SessionLimits {
  /** A session ends after this long without a decision (ms). */
  idleMs: number;
  maxSessions: number;
  maxSteps: number;
}

/** What survives a checkpoint (the acted slates do not: they are agent objects). */
export interface SessionStepsState {
  endSeen: boolean;
  clock: number;
  sessions: { id: string; who: string | null; lastTs: number; nextT: number; closed: boolean }[];
  steps: Omit<Step, 'acted'>[];
  emitted: string[];
}

/** Emitted decision ids remembered (feedback for older ones cannot arrive: reward windows close long before). */
const EMITTED_KEPT = 10_000;

export class SessionSteps {
  private readonly limits: SessionLimits;
  /** Open sessions, least recently active first (re-inserted on activity). */
  private readonly sessions = new Map<string, Session>();
  /** The open session of each user. */
  private readonly current = new Map<string, string>();
  /** Every pending step by decision id. */
  private readonly steps = new Map<string, Step>();
  /** The pending sessionless steps, oldest first (bounded on their own, so they never evict sessions). */
  private readonly loose = new Map<string, Step>();
  /** Decision ids already emitted (insertion order = age). */
  private readonly emitted = new Set<string>();
  /** Transitions ready for the agent, in emission order. */
  private readonly ready: Transition[] = [];
  /** The engine calls `end` (reward windows): steps then wait for it. */
  private endSeen = false;
  /** Latest request time seen (ms): the idle sweep's clock. */
  private clock = -Infinity;
  private lastSweep = -Infinity;

  constructor(limits: SessionLimits) {
    this.limits = limits;
  }

  get pending(): number {
    return this.steps.size;
  }

  get openSessions(): number {
    return this.sessions.size;
  }

  /** Transitions ready for the agent (taken out). */
  take(): Transition[] {
    return this.ready.splice(0, this.ready.length);
  }

  get readyCount(): number {
    return this.ready.length;
  }

  has(id: string): boolean {
    return this.steps.has(id);
  }

  get(id: string): Step | undefined {
    return this.steps.get(id);
  }

  wasEmitted(id: string): boolean {
    return this.emitted.has(id);
  }

  /**
   * The step index a new decision of `session` gets (0 for a new session), after ending the
   * user's other session and every idle one. Call `add` with the step right after.
   */
  nextStep(session: string | null, who: string | null, ts: number): number {
    this.tick(ts);
    if (session === null) return 0;
    if (who !== null) {
      const other = this.current.get(who);
      if (other !== undefined && other !== session) this.close(other);
    }
    return this.sessions.get(session)?.nextT ?? 0;
  }

  /** A new decision (or one rebuilt from its logged payload); its session is opened as needed. */
  add(step: Step): void {
    this.tick(step.ts);
    this.steps.set(step.id, step);
    if (step.session === null) this.loose.set(step.id, step);
    else {
      let s = this.sessions.get(step.session);
      if (!s) {
        s = { id: step.session, who: step.who, lastTs: step.ts, nextT: 0, steps: [], closed: false };
        // A step rebuilt from the log (replay) must not displace the user's live session.
        if (step.who !== null && !this.current.has(step.who)) this.current.set(step.who, step.session);
      } else if (s.closed && step.acted) {
        // The user came back to a session that had ended (another tab) while its last steps still
        // wait for their reward windows: it goes on, and they are not terminal after all.
        s.closed = false;
        if (step.who !== null) this.current.set(step.who, step.session);
      }
      // Re-insert: the map stays ordered by activity for the idle sweep and eviction.
      this.sessions.delete(step.session);
      this.sessions.set(step.session, s);
      s.lastTs = Math.max(s.lastTs, step.ts);
      s.nextT = Math.max(s.nextT, step.t + 1);
      let at = s.steps.length;
      while (at > 0 && s.steps[at - 1]!.t > step.t) at--;
      s.steps.splice(at, 0, step);
      this.pump(s);
    }
    this.bound();
  }

  /** Reward learned for entry q of a pending step. */
  reward(step: Step, q: number, r: number): void {
    step.rewards[q] += r;
    step.learned++;
    // Without reward windows a sessionless decision has no later signal: it is learned at once.
    if (step.session === null && !this.endSeen) this.emitAlone(step);
  }

  /** The engine closed the step's reward window. */
  end(step: Step): void {
    this.endSeen = true;
    step.ended = true;
    if (step.session === null) this.emitAlone(step);
    else {
      const s = this.sessions.get(step.session);
      if (s) this.pump(s);
    }
  }

  /** Emit a sessionless step now, whatever it has (a decision logged before sessions: one reward, one step). */
  emitNow(step: Step): void {
    if (this.steps.get(step.id) === step) this.emitAlone(step);
  }

  /** End a session now (its last step becomes terminal once complete). */
  endSession(id: string): boolean {
    if (!this.sessions.has(id)) return false;
    this.close(id);
    return true;
  }

  /**
   * Advance the request clock and end the sessions idle for longer than the limit. The scan runs
   * at most once per clock second (a session may end up to a second late), so a request costs
   * O(1) amortised even with many open sessions.
   */
  tick(ts: number): void {
    if (!(ts > this.clock)) return;
    this.clock = ts;
    if (ts - this.lastSweep < 1000) return;
    this.lastSweep = ts;
    const idle: string[] = [];
    // Not ordered by lastTs (a step rebuilt from the log may be old), so the scan is full.
    for (const s of this.sessions.values()) if (!s.closed && s.lastTs < ts - this.limits.idleMs) idle.push(s.id);
    for (const id of idle) this.close(id);
  }

  /**
   * Erasure: the user's sessions and their pending steps are dropped, unlearned (their decisions
   * are being deleted from the log, so nothing of them may reach the agent from here on); returns
   * how many steps went. Transitions already handed to the agent are its parameters' business.
   */
  forgetUser(who: string): number {
    let dropped = 0;
    for (const s of [...this.sessions.values()]) {
      if (s.who !== who) continue;
      for (const st of s.steps) if (this.steps.delete(st.id)) dropped++;
      this.sessions.delete(s.id);
    }
    for (const st of [...this.steps.values()]) {
      if (st.who !== who) continue;
      this.steps.delete(st.id);
      this.loose.delete(st.id);
      dropped++;
    }
    this.current.delete(who);
    return dropped;
  }

  /** Drop every pending step and session (a new item space: the indices mean other items). */
  clear(): void {
    this.sessions.clear();
    this.current.clear();
    this.steps.clear();
    this.loose.clear();
    this.ready.length = 0;
  }

  private close(id: string, force = false): void {
    const s = this.sessions.get(id);
    if (!s) return;
    s.closed = true;
    if (s.who !== null && this.current.get(s.who) === id) this.current.delete(s.who);
    this.pump(s, force);
  }

  /** Emit the session's leading steps that are complete and whose next state is known. */
  private pump(s: Session, force = false): void {
    while (s.steps.length > 0) {
      const head = s.steps[0]!;
      const succ = s.steps[1];
      const complete = force || head.ended || (!this.endSeen && (succ !== undefined || s.closed));
      if (!complete || (!succ && !s.closed)) break;
      s.steps.shift();
      this.emit(head, succ ?? null);
    }
    if (s.closed && s.steps.length === 0) this.sessions.delete(s.id);
  }

  private emitAlone(step: Step): void {
    this.emit(step, null);
  }

  private emit(step: Step, succ: Step | null): void {
    this.steps.delete(step.id);
    this.loose.delete(step.id);
    this.emitted.add(step.id);
    this.ready.push(transitionOf(step, succ));
  }

  /**
   * Keep within the limits. Sessionless steps: the oldest goes out (learned with what it has when
   * it was rewarded or ended; dropped otherwise — a dashboard preview, a Rank call never rewarded).
   * Sessions: the least recently active one is closed, its steps forced out.
   */
  private bound(): void {
    const { maxSessions, maxSteps } = this.limits;
    while (this.loose.size > maxSteps) {
      const first = this.loose.values().next().value as Step;
      if (first.learned > 0 || first.ended) this.emitAlone(first);
      else (this.loose.delete(first.id), this.steps.delete(first.id));
    }
    while (this.sessions.size > maxSessions || this.steps.size - this.loose.size > maxSteps) {
      const oldest = this.sessions.keys().next();
      if (oldest.done) break;
      this.close(oldest.value, true);
    }
    while (this.emitted.size > EMITTED_KEPT) this.emitted.delete(this.emitted.values().next().value as string);
  }

  getState(): SessionStepsState {
    return {
      endSeen: this.endSeen,
      clock: Number.isFinite(this.clock) ? this.clock : 0,
      sessions: [...this.sessions.values()].map((s) => ({ id: s.id, who: s.who, lastTs: s.lastTs, nextT: s.nextT, closed: s.closed })),
      steps: [...this.steps.values()].map(({ acted: _acted, ...rest }) => rest),
      emitted: [...this.emitted],
    };
  }

  setState(st: SessionStepsState): void {
    this.clear();
    this.emitted.clear();
    this.endSeen = st.endSeen;
    this.clock = st.clock;
    for (const s of st.sessions) {
      this.sessions.set(s.id, { ...s, steps: [] });
      if (s.who !== null && !s.closed) this.current.set(s.who, s.id);
    }
    for (const x of st.steps) {
      const step: Step = { ...x, acted: null };
      this.steps.set(step.id, step);
      if (step.session === null) this.loose.set(step.id, step);
      else this.sessions.get(step.session)?.steps.push(step);
    }
    for (const s of this.sessions.values()) s.steps.sort((a, b) => a.t - b.t);
    for (const id of st.emitted) this.emitted.add(id);
  }
}

/**
 * The transition of a step: its next state is its successor's observation (the same object, so
 * learners can chain a session's steps) or, at the session's end, the step's history plus the
 * items it rewarded.
 */
export function transitionOf(step: Step, succ: Step | null): Transition {
  const { items, rewards, acted } = step;
  let reward = 0;
  const clicks = new Int32Array(items.length);
  for (let q = 0; q < items.length; q++) {
    reward += rewards[q]!;
    clicks[q] = rewards[q]! > 0 ? 1 : 0;
  }
  // The acted slate object itself when it is what was shown: agents find what they remembered at act time by it.
  const same = acted !== null && sameItems(acted.items, items);
  const slate: Slate = same ? acted : step.propensities ? { items, propensities: step.propensities } : { items };
  let next: Observation;
  if (succ) next = succ.obs;
  else {
    const liked: number[] = [];
    for (let q = 0; q < items.length; q++) if (rewards[q]! > 0) liked.push(items[q]!);
    const h = step.obs.history;
    const history = new Int32Array(h.length + liked.length);
    history.set(h);
    history.set(liked, h.length);
    next = { user: step.obs.user, history, t: step.t + 1, context: step.obs.context };
  }
  const t: Transition = { observation: step.obs, slate, reward, rewards: Float32Array.from(rewards), clicks, next, done: succ === null };
  if (!same && acted) t.acted = acted;
  if (succ) t.nextSlate = succ.acted ?? { items: succ.items };
  return t;
}

function sameItems(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
