/**
 * Online-learning benchmark (issue 15): click-through rate over time of Chorus's online learner,
 * driven through the Personalizer-compatible rank/reward API, against a textbook contextual
 * bandit and the oracles of a known click model.
 *
 *   node --import tsx bench/online.ts [--configs base40,rare100,hidden10] [--rounds 20000]
 *        [--seeds 1 | --seeds 1,2,3] [--learners random,best-fixed,segment-oracle,oracle,linucb-ref,chorus,chorus-http]
 *        [--policy cb|linucb-rerank|<agent name>] [--engine-json '{"policy":{"epsilon":0.05}}']
 *        [--rewards all|clicks] [--features array|named] [--fixed-order] [--no-http] [--http-rounds N] [--concurrency 8]
 *        [--obd | --obd-only] [--ref-alpha X] [--tune-alpha] [--window 2000] [--server-prof <dir>] [--writer inline|worker] [--write] [--json]
 *
 * --seeds N runs seeds 1…N, a comma list runs those seeds; --configs and --learners take comma
 * lists (defaults: all). --ref-alpha overrides linucb-ref's tuned α. --http-rounds runs chorus-http
 * for fewer (or more) rounds than --rounds. --policy and --engine-json reach the engine both in
 * process and in the server child (see engineConfig).
 *
 * Part 1, synthetic populations (bench/online-world.ts documents the generator): for each
 * configuration and seed, R rounds; each round one user arrives, the learner picks one action, the
 * click is drawn from the true model with the round's own uniform (the same for every learner, so
 * comparisons are paired). Learners:
 *   - random: uniform; best-fixed: the action with the highest population-mean click probability;
 *     segment-oracle: per segment, the action with the highest mean click probability over that
 *     segment's users; oracle: each round's best action. All from the true probabilities.
 *   - linucb-ref: bench/online-linucb.ts, shared ridge regression over x = c ⊗ f with
 *     c = [1, one-hot segment, trait 0, trait 1] and f = [1, action vector (8), one-hot action id],
 *     λ = 1, Sherman–Morrison. α per configuration from REF_ALPHA: the best of ALPHA_GRID by
 *     E[CTR] over the last window on the validation seed VALIDATION_SEED only (never an evaluation
 *     seed; `--tune-alpha` reruns that search).
 *   - chorus: an Engine (src/serve/engine.ts) in this process, on a fresh SQLite store
 *     (synchronous=normal: the store's durability does not change what is learned), driven by
 *     engine.rank({contextFeatures, actions, eventId}) and engine.reward(eventId, 0 or 1) for the
 *     action Chorus put first (rewardActionId), one round after the other. Every round is rewarded
 *     (1 click, 0 none); `--rewards clicks` sends only the clicks and leaves the rest to the
 *     server's default reward, which the engine applies when a decision's reward window closes
 *     (EngineConfig.rewardWaitSeconds, wall-clock, 60 s by default: far longer than a whole run
 *     here, so pass e.g. --engine-json '{"rewardWaitSeconds":1}'; the result then depends on
 *     timing). Learning runs in the engine's own background loop (setImmediate),
 *     so it may lag the rounds; the largest learner queue seen at a window's end is reported, and
 *     engine.settle() is called only at the end.
 *   - chorus-http: the same against `startServer` in a child process (SQLite synchronous=full, as
 *     served), over fetch (keep-alive) with `--concurrency` rounds in flight; reports rank+reward
 *     pairs per second and the server's chorus_learn_queue_length at the end of the run. With
 *     rounds in flight, which rounds the learner has seen depends on timing: its CTR is not
 *     bit-reproducible (everything else is).
 * Event ids are `<config>-<seed>-<round>`, so Chorus's exploration draws (seeded by event id) repeat.
 * The action list goes to Chorus in a seeded random order each round (the same for chorus and
 * chorus-http): its order carries no information, and a learner that breaks ties by position
 * would otherwise get whichever action comes first as a free fixed policy. --fixed-order sends
 * a0, a1, … every round. --features named sends the numbers as named keys (online-world.ts).
 *
 * Metrics, per learner: realized CTR over the last `--window` rounds (default 2,000), E[CTR] (the
 * mean true click probability of the chosen actions over the same rounds: the same policy without
 * the click noise), CTR per window, and over the learner's last window: CTR ÷ segment-oracle CTR,
 * CTR ÷ linucb-ref CTR, and the share of the random → oracle gap closed,
 * (CTR − random) / (oracle − random), all on realized CTR of the same rounds (paired). With several
 * seeds the table gives the means over seeds (± their standard deviation; ratios of means).
 *
 * Part 2 (`--obd`), replay on the Open Bandit Dataset sample (/work/shared/datasets/open-bandit-sample,
 * random-policy logs of the "men" and "women" campaigns, 10,000 impressions each, uniform logging):
 * Li et al. (2011) replay. Rows are taken in log order; the learner sees the user's context and all
 * items, and a row counts (and is learned from) only when its choice equals the logged item.
 * Context: the four hashed user features; actions: item_feature_0 (numeric) and item_feature_1..3
 * (categorical) of item_context.csv, plus the row's user-item affinity for that item. best-fixed is
 * the item with the highest empirical CTR over the whole log (in hindsight). linucb-ref uses
 * c = [1, one-hot user features] and f = [1, feature 0, one-hot features 1–3, affinity, one-hot
 * item], α = OBD_ALPHA (not tuned: too few matched rounds to hold any out). Chorus ranks every row
 * (over HTTP: one request at a time, replay is sequential) with deferActivation and activates +
 * rewards only matched rows, so an unmatched row is never
 * learned from, whatever the server's default reward. The sample's CTR is about 0.5 % and a replay
 * matches about 1 row in 34 (46): a few hundred matched rounds and a handful of clicks per
 * campaign, so the replay figures carry their binomial standard error and say little.
 *
 * --write appends the printed tables to docs/benchmarks.md; --json prints one JSON document instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { datasetFromTriples, type Dataset } from '../src/data/dataset.js';
import { loadObd, type ObdLog } from '../src/ope/obd.js';
import { Engine, type EngineConfig, type RankRequest, type RankResponse } from '../src/serve/engine.js';
import { registryModels } from '../src/serve/model.js';
import { startServer } from '../src/serve/server.js';
import { openStore } from '../src/store/open.js';
import { Rng } from '../src/util/rng.js';
import { numArg, strArg } from './args.js';
import { RefLinUcb, Sparse } from './online-linucb.js';
import { argmax, CONFIGS, hashString, World, type FeatureShape, type WorldConfig } from './online-world.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..');
const KEY = 'bench-admin-key-0000000000000000';

/** Seed of the validation world and stream on which linucb-ref's α was chosen (not an evaluation seed). */
const VALIDATION_SEED = 1000;
const ALPHA_GRID = [0.05, 0.1, 0.2, 0.4, 0.8];
/**
 * linucb-ref's α per configuration: the best of ALPHA_GRID by last-window E[CTR] on VALIDATION_SEED
 * with 20,000 rounds (`node --import tsx bench/online.ts --tune-alpha`). Last-window E[CTR] % for
 * α = 0.05 / 0.1 / 0.2 / 0.4 / 0.8: base40 52.3 52.1 52.2 53.0 52.9; rare100 41.6 41.5 43.3 40.8
 * 41.0; hidden10 63.9 65.2 64.6 64.8 64.3 (flat within noise: α matters little here).
 */
const REF_ALPHA: Readonly<Record<string, number>> = { base40: 0.4, rare100: 0.2, hidden10: 0.1 };
const OBD_ALPHA = 0.1;

const SYNTH_LEARNERS = ['random', 'best-fixed', 'segment-oracle', 'oracle', 'linucb-ref', 'chorus', 'chorus-http'] as const;
type LearnerName = (typeof SYNTH_LEARNERS)[number];

// ------------------------------------------------------------------------------------ options

interface Options {
  configs: WorldConfig[];
  rounds: number;
  httpRounds: number;
  window: number;
  seeds: number[];
  learners: LearnerName[];
  engine: Partial<EngineConfig>;
  rewards: 'all' | 'clicks';
  shape: FeatureShape;
  concurrency: number;
  /** Send the actions in a fresh seeded order every round (false: a0, a1, … every round). */
  shuffle: boolean;
  synthetic: boolean;
  obd: boolean;
  refAlpha: number | undefined;
  write: boolean;
  json: boolean;
}

function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

/** `--seeds 3` → seeds 1, 2, 3; `--seeds 4,9` → seeds 4 and 9. */
function parseSeeds(s: string): number[] {
  if (s.includes(',')) return s.split(',').filter(Boolean).map(Number);
  return Array.from({ length: Number(s) }, (_, i) => i + 1);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** b over a, recursing into plain objects (arrays and scalars of b replace a's). */
function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k], v) : v;
  return out;
}

/** `--policy` values that name a serving policy (EngineConfig.serving); any other names an agent. */
const SERVING_POLICIES = ['cb', 'linucb-rerank'];

/**
 * The EngineConfig the runs use: a stub popularity model (no Personalizer action is a catalogue
 * item, so it plays no part), `--policy` (`cb` or `linucb-rerank` → `serving`, anything else → a
 * served agent of that name; absent: the engine's default), then `--engine-json` merged over it,
 * unchecked (keys the engine does not know are passed on as given).
 */
function engineConfig(): Partial<EngineConfig> {
  let cfg: Record<string, unknown> = { model: { kind: 'popularity', config: {} } };
  const policy = strArg('policy');
  if (policy !== undefined) {
    if (SERVING_POLICIES.includes(policy)) Object.assign(cfg, { serving: policy, agent: null });
    else cfg.agent = { name: policy };
  }
  const extra = strArg('engine-json');
  if (extra !== undefined) {
    const parsed: unknown = JSON.parse(extra);
    if (!isPlainObject(parsed)) throw new Error('--engine-json must be a JSON object');
    cfg = deepMerge(cfg, parsed);
  }
  return cfg as Partial<EngineConfig>;
}

function options(): Options {
  const names = strArg('configs', Object.keys(CONFIGS).join(',')).split(',').filter(Boolean);
  const configs = names.map((n) => {
    const c = CONFIGS[n];
    if (!c) throw new Error(`unknown config "${n}"; known: ${Object.keys(CONFIGS).join(', ')}`);
    return c;
  });
  let learners = strArg('learners', SYNTH_LEARNERS.join(',')).split(',').filter(Boolean) as LearnerName[];
  for (const l of learners) if (!SYNTH_LEARNERS.includes(l)) throw new Error(`unknown learner "${l}"; known: ${SYNTH_LEARNERS.join(', ')}`);
  if (flag('no-http')) learners = learners.filter((l) => l !== 'chorus-http');
  const rounds = numArg('rounds', 20_000);
  const window = numArg('window', 2000);
  const httpRounds = numArg('http-rounds', rounds);
  if (!(rounds >= window && httpRounds >= window)) throw new Error('--rounds and --http-rounds must be at least --window');
  const rewards = strArg('rewards', 'all');
  if (rewards !== 'all' && rewards !== 'clicks') throw new Error('--rewards is all or clicks');
  const shape = strArg('features', 'array');
  if (shape !== 'array' && shape !== 'named') throw new Error('--features is array or named');
  const refAlpha = strArg('ref-alpha');
  return {
    configs,
    rounds,
    httpRounds,
    window,
    seeds: parseSeeds(strArg('seeds', '1')),
    learners,
    engine: engineConfig(),
    rewards,
    shape,
    concurrency: numArg('concurrency', 8),
    shuffle: !flag('fixed-order'),
    synthetic: !flag('obd-only'),
    obd: flag('obd') || flag('obd-only'),
    refAlpha: refAlpha === undefined ? undefined : Number(refAlpha),
    write: flag('write'),
    json: flag('json'),
  };
}

function progress(msg: string): void {
  process.stderr.write(`[online] ${msg}\n`);
}

// ------------------------------------------------------------------------------------ traces

/** What one learner did in one run: per round, the chosen action's true click probability and the click. */
class Trace {
  readonly p: Float64Array;
  readonly click: Uint8Array;
  seconds = 0;
  /** Learner-specific figures (throughput, queue). */
  extra: Record<string, number> = {};
  constructor(readonly rounds: number) {
    this.p = new Float64Array(rounds);
    this.click = new Uint8Array(rounds);
  }
  ctr(from: number, to: number): number {
    let s = 0;
    for (let t = from; t < to; t++) s += this.click[t]!;
    return s / (to - from);
  }
  expected(from: number, to: number): number {
    let s = 0;
    for (let t = from; t < to; t++) s += this.p[t]!;
    return s / (to - from);
  }
  /** CTR of each whole window of `w` rounds among the first `rounds`. */
  windows(w: number, rounds = this.rounds): number[] {
    return Array.from({ length: Math.floor(rounds / w) }, (_, i) => this.ctr(i * w, (i + 1) * w));
  }
}

interface Round {
  users: Int32Array;
  uniforms: Float64Array;
}

/** A policy that needs no learning: action of round t for user u. */
function fixedTrace(world: World, stream: Round, rounds: number, pick: (u: number, t: number) => number): Trace {
  const t0 = performance.now();
  const tr = new Trace(rounds);
  for (let t = 0; t < rounds; t++) {
    const u = stream.users[t]!;
    const p = world.prob(u, pick(u, t));
    tr.p[t] = p;
    tr.click[t] = stream.uniforms[t]! < p ? 1 : 0;
  }
  tr.seconds = (performance.now() - t0) / 1000;
  return tr;
}

// ------------------------------------------------------------------------------------ linucb-ref

function synthContext(world: World, u: number, c: Sparse): Sparse {
  const S = world.config.segments;
  return c.clear().push(0, 1).push(1 + world.segment[u]!, 1).push(1 + S, world.traits[2 * u]!).push(2 + S, world.traits[2 * u + 1]!);
}

function synthActions(world: World): Sparse[] {
  const k = world.config.actionDims;
  return Array.from({ length: world.nActions }, (_, a) => {
    const f = new Sparse(k + 2).push(0, 1);
    for (let i = 0; i < k; i++) f.push(1 + i, world.vec[a * k + i]!);
    return f.push(1 + k + a, 1);
  });
}

function refTrace(world: World, stream: Round, rounds: number, alpha: number, seed: number): Trace {
  const t0 = performance.now();
  const S = world.config.segments;
  const k = world.config.actionDims;
  const lin = new RefLinUcb(3 + S, 1 + k + world.nActions, alpha);
  const fs = synthActions(world);
  const c = new Sparse(4);
  const rng = new Rng(hashString(`linucb-ref/${seed}`));
  const tr = new Trace(rounds);
  for (let t = 0; t < rounds; t++) {
    const u = stream.users[t]!;
    synthContext(world, u, c);
    const a = lin.choose(c, fs, rng);
    const p = world.prob(u, a);
    const click = stream.uniforms[t]! < p ? 1 : 0;
    tr.p[t] = p;
    tr.click[t] = click;
    lin.update(c, fs[a]!, click);
  }
  tr.seconds = (performance.now() - t0) / 1000;
  return tr;
}

// ------------------------------------------------------------------------------------ chorus

/**
 * The action list of one round: in a seeded random order unless --fixed-order (the list's order
 * carries no information here, and a learner that breaks ties by position would otherwise get a
 * fixed policy for free from whichever action happens to come first).
 */
function roundActions<T>(actions: readonly T[], o: Options, tag: string, t: number): T[] {
  if (!o.shuffle) return actions.slice();
  return new Rng(hashString(`order/${tag}/${t}`)).shuffle(actions.slice());
}

/** The engine's base data: one user and one item, neither of them an action (Personalizer actions are free-form). */
function benchDataset(): Dataset {
  return datasetFromTriples([['bench-user', 'bench-item', 1, 1_700_000_000]], 'online-bench');
}

async function withEngine<T>(engineCfg: Partial<EngineConfig>, fn: (e: Engine) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'chorus-online-'));
  const store = openStore(`sqlite:${join(dir, 'online.db')}?synchronous=normal`);
  try {
    const engine = await Engine.open(store, benchDataset(), registryModels, engineCfg);
    try {
      return await fn(engine);
    } finally {
      await engine.close();
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What a round needs from Chorus: the engine in-process and the HTTP client both offer it. */
interface RankReward {
  rank(req: RankRequest): Promise<RankResponse>;
  reward(eventId: string, value: number): Promise<void>;
}

interface RoundSetup {
  world: World;
  stream: Round;
  actions: ReturnType<World['actionList']>;
  index: Map<string, number>;
  o: Options;
  /** Seeds the round's action order; the event id is `${eventTag}-${t}`. */
  orderTag: string;
  eventTag: string;
  tr: Trace;
}

/** Round t: rank, draw the click of the action Chorus put first from the true model, reward it. */
async function playRound(api: RankReward, s: RoundSetup, t: number): Promise<void> {
  const u = s.stream.users[t]!;
  const r = await api.rank({ contextFeatures: s.world.contextFeatures(u, s.o.shape), actions: roundActions(s.actions, s.o, s.orderTag, t), eventId: `${s.eventTag}-${t}` });
  const a = s.index.get(r.rewardActionId ?? '');
  if (a === undefined) throw new Error(`round ${t}: rank returned no known rewardActionId (${r.rewardActionId})`);
  const p = s.world.prob(u, a);
  const click = s.stream.uniforms[t]! < p ? 1 : 0;
  s.tr.p[t] = p;
  s.tr.click[t] = click;
  if (s.o.rewards === 'all' || click) await api.reward(r.eventId, click);
}

async function chorusTrace(world: World, stream: Round, rounds: number, o: Options, tag: string): Promise<Trace> {
  const actions = world.actionList(o.shape);
  const index = new Map(actions.map((a, i) => [a.id, i]));
  return withEngine(o.engine, async (engine) => {
    const t0 = performance.now();
    const tr = new Trace(rounds);
    let maxQueue = 0;
    for (let t = 0; t < rounds; t++) {
      await playRound(engine, { world, stream, actions, index, o, orderTag: tag, eventTag: tag, tr }, t);
      if ((t + 1) % o.window === 0) maxQueue = Math.max(maxQueue, engine.learnQueueLength);
    }
    tr.seconds = (performance.now() - t0) / 1000;
    await engine.settle();
    tr.extra = { roundsPerSecond: rounds / tr.seconds, maxLearnQueue: maxQueue, learned: engine.counters.learned };
    return tr;
  });
}

// ------------------------------------------------------------------------------------ chorus over HTTP

/** Child mode: startServer on a fresh store; prints `{url}` on one line. */
async function serverMode(): Promise<void> {
  const dir = strArg('dir', '');
  const engine = JSON.parse(strArg('engine-config', '{}')) as Partial<EngineConfig>;
  const s = await startServer({
    dataset: benchDataset(),
    // --writer worker: commits in the SQLite store's commit worker thread (src/store/sqlite-writer.ts).
    store: `sqlite:${join(dir, 'online.db')}?writer=${strArg('writer', 'inline')}${process.env.BENCH_SYNC ? `&synchronous=${process.env.BENCH_SYNC}` : ''}`,
    adminKey: KEY,
    engine,
    server: { rateLimit: false },
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void s.close().finally(() => process.exit(0)));
  process.stdout.write(`${JSON.stringify({ url: s.url })}\n`);
}

class HttpServer {
  private readonly agent = new HttpAgent({ keepAlive: true, maxSockets: 64 });

  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {}

  static async start(engine: Partial<EngineConfig>): Promise<HttpServer> {
    const dir = mkdtempSync(join(tmpdir(), 'chorus-online-http-'));
    // --server-prof <dir>: a V8 CPU profile of the server process (written when it stops).
    const prof = strArg('server-prof', '');
    const profArgs = prof ? ['--cpu-prof', `--cpu-prof-dir=${resolve(prof)}`] : [];
    const child = spawn(process.execPath, [...profArgs, '--import', 'tsx', fileURLToPath(import.meta.url), '--server', '--dir', dir, '--writer', strArg('writer', 'inline'), '--engine-config', JSON.stringify(engine)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const info = await new Promise<{ url: string }>((ok, fail) => {
        createInterface({ input: child.stdout! }).once('line', (l) => ok(JSON.parse(l) as { url: string }));
        child.once('exit', (c) => fail(new Error(`server exited (${c})`)));
      });
      return new HttpServer(info.url, child, dir);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /**
   * POST over node:http with a keep-alive agent: undici's fetch costs the client several times the
   * CPU per request, and the client shares the machine's two cores with the server.
   */
  post<T>(path: string, body: unknown): Promise<T | undefined> {
    const payload = JSON.stringify(body);
    return new Promise((ok, fail) => {
      const req = httpRequest(
        `${this.url}${path}`,
        {
          method: 'POST',
          agent: this.agent,
          headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status < 200 || status >= 300) fail(new Error(`POST ${path}: ${status} ${text}`));
            else ok(status === 204 || text === '' ? undefined : (JSON.parse(text) as T));
          });
          res.on('error', fail);
        },
      );
      req.on('error', fail);
      req.end(payload);
    });
  }

  rank(req: RankRequest): Promise<RankResponse> {
    return this.post<RankResponse>('/personalizer/v1.0/rank', req) as Promise<RankResponse>;
  }

  async reward(eventId: string, value: number): Promise<void> {
    await this.post(`/personalizer/v1.0/events/${encodeURIComponent(eventId)}/reward`, { value });
  }

  async activate(eventId: string): Promise<void> {
    await this.post(`/personalizer/v1.0/events/${encodeURIComponent(eventId)}/activate`, {});
  }

  /** A gauge or counter from /metrics (NaN when absent). */
  async metric(name: string): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text();
    return Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
  }

  async stop(): Promise<void> {
    this.agent.destroy();
    const exited = new Promise<void>((ok) => this.child.once('exit', () => ok()));
    this.child.kill('SIGTERM');
    await Promise.race([exited, new Promise((ok) => setTimeout(ok, 5000))]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function httpTrace(world: World, stream: Round, rounds: number, o: Options, tag: string): Promise<Trace> {
  const actions = world.actionList(o.shape);
  const index = new Map(actions.map((a, i) => [a.id, i]));
  const server = await HttpServer.start(o.engine);
  try {
    const tr = new Trace(rounds);
    // The server's own CPU (prom-client's process metric): beside wall time, as machines are shared.
    const cpu0 = await server.metric('process_cpu_seconds_total');
    const t0 = performance.now();
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let t = next++; t < rounds; t = next++) {
        // The same action order as in-process (the tag without -http), its own event ids.
        await playRound(server, { world, stream, actions, index, o, orderTag: tag.replace(/-http$/, ''), eventTag: tag, tr }, t);
      }
    };
    await Promise.all(Array.from({ length: o.concurrency }, worker));
    tr.seconds = (performance.now() - t0) / 1000;
    const serverCpuSeconds = (await server.metric('process_cpu_seconds_total')) - cpu0;
    tr.extra = {
      pairsPerSecond: rounds / tr.seconds,
      serverCpuMsPerPair: (1000 * serverCpuSeconds) / rounds,
      learnQueueAtEnd: await server.metric('chorus_learn_queue_length'),
      learnedAtEnd: await server.metric('chorus_bandit_updates_total'),
    };
    return tr;
  } finally {
    await server.stop();
  }
}

// ------------------------------------------------------------------------------------ part 1: synthetic

interface LearnerSummary {
  learner: LearnerName;
  rounds: number;
  /** Per seed. */
  ctr: number[];
  expected: number[];
  /** Baselines over the same rounds as this learner's last window, per seed. */
  segmentOracle: number[];
  random: number[];
  oracle: number[];
  linucbRef: number[] | null;
  windows: number[][];
  seconds: number[];
  extra: Record<string, number>[];
}

interface ConfigResult {
  config: WorldConfig;
  offsets: number[];
  learners: LearnerSummary[];
  seconds: number;
}

async function runConfig(cfg: WorldConfig, o: Options): Promise<ConfigResult> {
  const t0 = performance.now();
  const summaries = new Map<LearnerName, LearnerSummary>();
  const offsets: number[] = [];
  for (const seed of o.seeds) {
    const world = new World(cfg, seed);
    offsets.push(world.offset);
    const maxRounds = Math.max(o.rounds, o.learners.includes('chorus-http') ? o.httpRounds : 0);
    const stream = world.stream(maxRounds);
    const bf = world.bestFixed();
    const sb = world.segmentBest();
    const ub = world.userBest();
    const rng = new Rng(hashString(`random/${seed}`));
    const traces = new Map<LearnerName, Trace>();
    traces.set('random', fixedTrace(world, stream, maxRounds, () => rng.int(world.nActions)));
    traces.set('best-fixed', fixedTrace(world, stream, maxRounds, () => bf));
    traces.set('segment-oracle', fixedTrace(world, stream, maxRounds, (u) => sb[world.segment[u]!]!));
    traces.set('oracle', fixedTrace(world, stream, maxRounds, (u) => ub[u]!));
    const tag = `${cfg.name}-${seed}`;
    if (o.learners.includes('linucb-ref')) {
      const alpha = o.refAlpha ?? REF_ALPHA[cfg.name] ?? 0.2;
      traces.set('linucb-ref', refTrace(world, stream, maxRounds, alpha, seed));
      progress(`${tag} linucb-ref (α ${alpha}): ${traces.get('linucb-ref')!.seconds.toFixed(1)} s`);
    }
    if (o.learners.includes('chorus')) {
      const tr = await chorusTrace(world, stream, o.rounds, o, tag);
      traces.set('chorus', tr);
      progress(`${tag} chorus: ${tr.seconds.toFixed(1)} s (${tr.extra.roundsPerSecond!.toFixed(0)} rounds/s)`);
    }
    if (o.learners.includes('chorus-http')) {
      const tr = await httpTrace(world, stream, o.httpRounds, o, `${tag}-http`);
      traces.set('chorus-http', tr);
      progress(`${tag} chorus-http: ${tr.seconds.toFixed(1)} s (${tr.extra.pairsPerSecond!.toFixed(0)} pairs/s)`);
    }
    for (const name of o.learners) {
      const tr = traces.get(name)!;
      const rounds = name === 'chorus' ? o.rounds : name === 'chorus-http' ? o.httpRounds : o.rounds;
      const from = rounds - o.window;
      const ref = traces.get('linucb-ref');
      let s = summaries.get(name);
      if (!s) {
        s = { learner: name, rounds, ctr: [], expected: [], segmentOracle: [], random: [], oracle: [], linucbRef: ref ? [] : null, windows: [], seconds: [], extra: [] };
        summaries.set(name, s);
      }
      s.ctr.push(tr.ctr(from, rounds));
      s.expected.push(tr.expected(from, rounds));
      s.segmentOracle.push(traces.get('segment-oracle')!.ctr(from, rounds));
      s.random.push(traces.get('random')!.ctr(from, rounds));
      s.oracle.push(traces.get('oracle')!.ctr(from, rounds));
      s.linucbRef?.push(ref!.ctr(from, rounds));
      s.windows.push(tr.windows(o.window, rounds));
      s.seconds.push(tr.seconds);
      s.extra.push(tr.extra);
    }
  }
  return { config: cfg, offsets, learners: [...summaries.values()], seconds: (performance.now() - t0) / 1000 };
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (x: number, digits = 1): string => (100 * x).toFixed(digits);
const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : '—');

function configTable(r: ConfigResult, o: Options): string {
  const lines = [
    `#### ${r.config.name}: ${r.config.description}`,
    '',
    `Seeds ${o.seeds.join(', ')}; ${o.rounds.toLocaleString('en')} rounds${o.learners.includes('chorus-http') && o.httpRounds !== o.rounds ? ` (chorus-http ${o.httpRounds.toLocaleString('en')})` : ''}; CTR over each learner's last ${o.window.toLocaleString('en')} rounds, ratios against the baselines' CTR on the same rounds (paired clicks); means over seeds${o.seeds.length > 1 ? ' (± the standard deviation over seeds), ratios of means, wall time per seed' : ''}.`,
    '',
    `| learner | CTR % | E[CTR] % | ÷ segment-oracle | ÷ linucb-ref | gap closed | CTR % per ${o.window.toLocaleString('en')} rounds | wall s |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
  ];
  for (const s of r.learners) {
    const ctr = mean(s.ctr);
    const rnd = mean(s.random);
    const orc = mean(s.oracle);
    const gap = orc > rnd ? `${pct((ctr - rnd) / (orc - rnd), 0)} %` : '—';
    const series = s.windows[0]!.map((_, i) => pct(mean(s.windows.map((w) => w[i]!)))).join(' ');
    const sd = s.ctr.length > 1 ? ` ± ${pct(Math.sqrt(mean(s.ctr.map((x) => (x - ctr) ** 2))))}` : '';
    lines.push(
      `| ${s.learner} | ${pct(ctr)}${sd} | ${pct(mean(s.expected))} | ${ratio(ctr, mean(s.segmentOracle))} | ${s.linucbRef ? ratio(ctr, mean(s.linucbRef)) : '—'} | ${gap} | ${series} | ${mean(s.seconds).toFixed(1)} |`,
    );
  }
  const notes: string[] = [];
  const ch = r.learners.find((s) => s.learner === 'chorus');
  if (ch) notes.push(`chorus in-process: ${mean(ch.extra.map((e) => e.roundsPerSecond!)).toFixed(0)} rounds/s (rank + reward, SQLite synchronous=normal), largest learner queue at a window's end ${Math.max(...ch.extra.map((e) => e.maxLearnQueue!))}, rewards learned ${ch.extra.map((e) => e.learned).join(', ')}.`);
  const h = r.learners.find((s) => s.learner === 'chorus-http');
  if (h) notes.push(`chorus-http: ${mean(h.extra.map((e) => e.pairsPerSecond!)).toFixed(0)} rank+reward pairs/s with ${o.concurrency} rounds in flight (SQLite synchronous=full), server CPU ${mean(h.extra.map((e) => e.serverCpuMsPerPair!)).toFixed(3)} ms per pair, chorus_learn_queue_length at the end ${h.extra.map((e) => e.learnQueueAtEnd).join(', ')}, chorus_bandit_updates_total ${h.extra.map((e) => e.learnedAtEnd).join(', ')}.`);
  notes.push(`Logit offset β per seed: ${r.offsets.map((x) => x.toFixed(2)).join(', ')}. Wall time for this configuration (all learners, all seeds): ${r.seconds.toFixed(0)} s.`);
  return [...lines, '', ...notes].join('\n');
}

// ------------------------------------------------------------------------------------ α tuning

function tuneAlpha(o: Options): string {
  const lines = [`linucb-ref α search on validation seed ${VALIDATION_SEED}, ${o.rounds} rounds, E[CTR] % over the last ${o.window}:`, ''];
  lines.push(`| config | ${ALPHA_GRID.map((a) => `α ${a}`).join(' | ')} | best |`, `| --- | ${ALPHA_GRID.map(() => '---:').join(' | ')} | ---: |`);
  for (const cfg of o.configs) {
    const world = new World(cfg, VALIDATION_SEED);
    const stream = world.stream(o.rounds);
    const scores = ALPHA_GRID.map((alpha) => {
      const tr = refTrace(world, stream, o.rounds, alpha, VALIDATION_SEED);
      progress(`tune ${cfg.name} α ${alpha}: ${pct(tr.expected(o.rounds - o.window, o.rounds), 2)} % (${tr.seconds.toFixed(1)} s)`);
      return tr.expected(o.rounds - o.window, o.rounds);
    });
    lines.push(`| ${cfg.name} | ${scores.map((s) => pct(s, 2)).join(' | ')} | ${ALPHA_GRID[argmax(scores)]} |`);
  }
  return lines.join('\n');
}

// ------------------------------------------------------------------------------------ part 2: OBD replay

// The Open Bandit reader lives in src/ope/obd.ts (off-policy evaluation reads it too).

interface ReplayResult {
  learner: string;
  matched: number[];
  clicks: number[];
  seconds: number[];
}

/** Li et al. replay: `choose` sees row t; when it equals the logged item, `learn` gets the click. */
async function replay(
  log: ObdLog,
  choose: (t: number) => Promise<number> | number,
  learn: (t: number, click: number) => Promise<void> | void,
): Promise<{ matched: number; clicks: number }> {
  let matched = 0;
  let clicks = 0;
  for (let t = 0; t < log.item.length; t++) {
    const a = await choose(t);
    if (a !== log.item[t]) continue;
    matched++;
    clicks += log.click[t]!;
    await learn(t, log.click[t]!);
  }
  return { matched, clicks };
}

/** Dense index of every categorical value of a list of rows, per column, after `base`. */
function vocab(rows: readonly (readonly string[])[], base: number): { index: Map<string, number>[]; size: number } {
  let next = base;
  const index = rows[0]!.map(() => new Map<string, number>());
  for (const r of rows) r.forEach((v, k) => index[k]!.has(v) || index[k]!.set(v, next++));
  return { index, size: next };
}

function obdActions(log: ObdLog, t: number): { id: string; features: unknown[] }[] {
  return Array.from({ length: log.nItems }, (_, a) => ({
    id: `i${a}`,
    features: [{ item: { f0: log.itemNum[a]!, f1: log.itemCat[a]![0], f2: log.itemCat[a]![1], f3: log.itemCat[a]![2] }, affinity: log.affinity[t * log.nItems + a]! }],
  }));
}

function obdContext(log: ObdLog, t: number): unknown[] {
  const u = log.user[t]!;
  return [{ user: { f0: u[0], f1: u[1], f2: u[2], f3: u[3] } }];
}

async function runObd(o: Options): Promise<{ campaign: string; rows: number; clicks: number; results: ReplayResult[]; seconds: number }[]> {
  const out = [];
  for (const campaign of ['men', 'women']) {
    const t0 = performance.now();
    const log = loadObd(campaign);
    const A = log.nItems;
    const results = new Map<string, ReplayResult>();
    const record = (learner: string, r: { matched: number; clicks: number }, seconds: number): void => {
      let x = results.get(learner);
      if (!x) results.set(learner, (x = { learner, matched: [], clicks: [], seconds: [] }));
      x.matched.push(r.matched);
      x.clicks.push(r.clicks);
      x.seconds.push(seconds);
    };
    // Empirical CTR per item over the whole log (hindsight).
    const shown = new Float64Array(A);
    const clicked = new Float64Array(A);
    for (let t = 0; t < log.item.length; t++) {
      shown[log.item[t]!]++;
      clicked[log.item[t]!] += log.click[t]!;
    }
    const best = argmax(Array.from(shown, (s, a) => (s > 0 ? clicked[a]! / s : 0)));
    const uv = vocab(log.user, 1);
    const iv = vocab(log.itemCat, 2);
    const fDim = iv.size + 1 + A; // [1, f0, one-hot f1–f3…, affinity, one-hot item]
    const fs = Array.from({ length: A }, (_, a) => {
      const f = new Sparse(8).push(0, 1).push(1, log.itemNum[a]!);
      log.itemCat[a]!.forEach((v, k) => f.push(iv.index[k]!.get(v)!, 1));
      return f.push(iv.size + 1 + a, 1);
    });
    for (const seed of o.seeds) {
      const run = async (learner: string, fn: () => Promise<{ matched: number; clicks: number }>): Promise<void> => {
        const t1 = performance.now();
        const r = await fn();
        record(learner, r, (performance.now() - t1) / 1000);
        progress(`obd ${campaign} seed ${seed} ${learner}: ${r.matched} matched, ${r.clicks} clicks (${((performance.now() - t1) / 1000).toFixed(1)} s)`);
      };
      const rng = new Rng(hashString(`obd-random/${seed}`));
      await run('random', () => replay(log, () => rng.int(A), () => undefined));
      await run('best-fixed', () => replay(log, () => best, () => undefined));
      if (o.learners.includes('linucb-ref')) {
        const lin = new RefLinUcb(uv.size, fDim, OBD_ALPHA);
        const trng = new Rng(hashString(`obd-linucb/${seed}`));
        const c = new Sparse(5);
        // f with the row's affinity for each item (at index iv.size).
        const fRow = fs.map(() => new Sparse(9));
        const build = (t: number): void => {
          c.clear().push(0, 1);
          log.user[t]!.forEach((v, k) => c.push(uv.index[k]!.get(v)!, 1));
          fs.forEach((f, a) => {
            const g = fRow[a]!.clear();
            for (let i = 0; i < f.n; i++) g.push(f.idx[i]!, f.val[i]!);
            g.push(iv.size, log.affinity[t * A + a]!);
          });
        };
        let last = -1;
        await run('linucb-ref', () =>
          replay(
            log,
            (t) => {
              build(t);
              return (last = lin.choose(c, fRow, trng));
            },
            (_t, click) => lin.update(c, fRow[last]!, click),
          ),
        );
      }
      const chorusReplay = (kind: 'chorus' | 'chorus-http', api: { rank(r: RankRequest): Promise<RankResponse>; activate(id: string): Promise<void>; reward(id: string, v: number): Promise<void> }) => {
        let eventId = '';
        return replay(
          log,
          async (t) => {
            eventId = `obd-${campaign}-${seed}-${kind}-${t}`;
            const r = await api.rank({ contextFeatures: obdContext(log, t), actions: roundActions(obdActions(log, t), o, `obd-${campaign}-${seed}`, t), eventId, deferActivation: true });
            return Number((r.rewardActionId ?? 'i-1').slice(1));
          },
          async (_t, click) => {
            await api.activate(eventId);
            await api.reward(eventId, click);
          },
        );
      };
      if (o.learners.includes('chorus')) {
        await run('chorus', () =>
          withEngine(o.engine, async (e) => {
            const r = await chorusReplay('chorus', { rank: (q) => e.rank(q), activate: (id) => e.activateEvent(id), reward: (id, v) => e.reward(id, v) });
            await e.settle();
            return r;
          }),
        );
      }
      if (o.learners.includes('chorus-http')) {
        const server = await HttpServer.start(o.engine);
        try {
          await run('chorus-http', () => chorusReplay('chorus-http', server));
        } finally {
          await server.stop();
        }
      }
    }
    const total = log.click.reduce((a, b) => a + b, 0);
    out.push({ campaign, rows: log.item.length, clicks: total, results: [...results.values()], seconds: (performance.now() - t0) / 1000 });
  }
  return out;
}

function obdTable(parts: Awaited<ReturnType<typeof runObd>>, o: Options): string {
  const lines = [
    '#### Open Bandit Dataset sample: replay (Li et al. 2011) on the uniform-random logs',
    '',
    `Seeds ${o.seeds.join(', ')}; rows in log order; CTR = clicks / matched rows, pooled over seeds, ± its binomial standard error. best-fixed is chosen in hindsight (empirical CTR over the whole log). linucb-ref α ${OBD_ALPHA} (not tuned).`,
    '',
    '| campaign | learner | matched rows | clicks | CTR % | ± SE % | wall s |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const p of parts) {
    for (const r of p.results) {
      const m = r.matched.reduce((a, b) => a + b, 0);
      const c = r.clicks.reduce((a, b) => a + b, 0);
      const ctr = m > 0 ? c / m : 0;
      const se = m > 0 ? Math.sqrt((ctr * (1 - ctr)) / m) : 0;
      lines.push(`| ${p.campaign} (${p.rows} rows, log CTR ${pct(p.clicks / p.rows, 2)} %) | ${r.learner} | ${m} | ${c} | ${pct(ctr, 2)} | ${pct(se, 2)} | ${mean(r.seconds).toFixed(1)} |`);
    }
  }
  lines.push('', `Wall time: ${parts.map((p) => `${p.campaign} ${p.seconds.toFixed(0)} s`).join(', ')}.`);
  return lines.join('\n');
}

// ------------------------------------------------------------------------------------ main

async function main(): Promise<void> {
  if (flag('server')) return serverMode();
  const o = options();
  const load0 = loadavg();
  const started = new Date();
  if (flag('tune-alpha')) {
    process.stdout.write(`${tuneAlpha(o)}\n`);
    return;
  }
  const synth: ConfigResult[] = [];
  if (o.synthetic) for (const cfg of o.configs) synth.push(await runConfig(cfg, o));
  const obd = o.obd ? await runObd(o) : [];
  const load1 = loadavg();
  const cmd = `node --import tsx bench/online.ts ${process.argv.slice(2).filter((a) => a !== '--write' && a !== '--json').join(' ')}`.trim();
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${load1.map((x) => x.toFixed(2)).join(' ')}`;
  const engineLine = `Chorus engine config (beyond the defaults): \`${JSON.stringify(o.engine)}\`; rewards: ${o.rewards === 'all' ? 'every round (1 click, 0 none)' : 'clicks only (the rest left to the server default)'}; features sent as ${o.shape === 'array' ? 'arrays (`traits: [t0, t1]`, `vec: [8 numbers]`)' : 'named numbers (`t0`, `t1`, `v0`…`v7`)'}.`;
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ command: cmd, date: started.toISOString(), machine, engine: o.engine, rewards: o.rewards, features: o.shape, window: o.window, synthetic: synth, obd }, null, 1)}\n`);
    return;
  }
  const text = [
    `### Online learning (bench/online.ts) — ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Command: \`${cmd}\`. Machine: ${machine}.`,
    engineLine,
    '',
    ...synth.map((r) => `${configTable(r, o)}\n`),
    ...(obd.length ? [`${obdTable(obd, o)}\n`] : []),
  ].join('\n');
  process.stdout.write(`${text}\n`);
  if (o.write) appendFileSync(join(ROOT, 'docs', 'benchmarks.md'), `\n${text}`);
}

try {
  await main();
} catch (e) {
  process.stderr.write(`bench/online.ts: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
