/**
 * The server's sum of one round's client vectors, as the wire protocol computes it: in float64
 * (`fixedPointBits: null`), or in fixed point (32-bit words, 2^−bits resolution), optionally under
 * secure aggregation (pairwise masks, ../privacy/federated/secure-agg.ts) so that the server sees
 * only masked words and their sum. Fixed point with and without masking gives the same sum bit for
 * bit. Federated averaging (./fedavg.ts) and the federated bandit (./fed-linucb.ts) both sum here.
 */
import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { addMod32, decodeFixed, encodeFixed, SecAggParty } from '../privacy/federated/secure-agg.js';

export interface AggregatorOptions {
  secureAgg: boolean;
  /** Fraction bits of the fixed-point words; null = float64 sums (not with secure aggregation). */
  fixedPointBits: number | null;
  /** Seeds the simulated clients' X25519 keys, so a run reproduces (the sum does not depend on them). */
  seed: number;
  /**
   * With secure aggregation: the fewest participants a round may have (Bonawitz et al.'s threshold
   * t, default 2). A sum over one client is that client's update, so the masking would hide
   * nothing; callers skip such rounds (`enough`), and `sum` refuses them.
   */
  minParticipants?: number;
}

/** Default secure-aggregation threshold t: the least that lets the masks hide anything. */
export const DEFAULT_MIN_PARTICIPANTS = 2;

export class Aggregator {
  /** Key publication: each client's public key up, the others' down (0 without secure aggregation). */
  readonly setupBytes: number;
  /** Bytes per coordinate on the wire (4 in fixed point, 8 in float64). */
  readonly bytesPerWord: number;
  private readonly parties: Map<number, SecAggParty> | null;
  private readonly sumF: Float64Array;
  private readonly sumQ: Uint32Array;
  private readonly encoded: Uint32Array;
  /** Fewest participants a round may have (1 without secure aggregation). */
  readonly minParticipants: number;

  constructor(
    clientIds: readonly number[],
    readonly width: number,
    private readonly o: AggregatorOptions,
  ) {
    if (o.secureAgg && o.fixedPointBits === null) throw new ConfigError('secure aggregation needs the fixed-point wire format (fixedPointBits)', 'fixedPointBits');
    const n = clientIds.length;
    const t = o.minParticipants ?? DEFAULT_MIN_PARTICIPANTS;
    if (!(Number.isInteger(t) && t >= 2)) throw new ConfigError(`the secure-aggregation threshold must be an integer ≥ 2, got ${t}`, 'minParticipants');
    if (o.secureAgg && n < t) throw new ConfigError(`secure aggregation with threshold ${t} needs at least ${t} clients, got ${n}`, 'minParticipants');
    this.minParticipants = o.secureAgg ? t : 1;
    this.parties = o.secureAgg ? new Map(clientIds.map((id) => [id, new SecAggParty(id, keySeed(o.seed, id))])) : null;
    this.setupBytes = this.parties ? n * 32 + n * (n - 1) * 32 : 0;
    this.bytesPerWord = o.fixedPointBits === null ? 8 : 4;
    this.sumF = new Float64Array(width);
    this.sumQ = new Uint32Array(width);
    this.encoded = new Uint32Array(width);
  }

  /** Whether a round of `count` participants may be aggregated (false: too few for secure aggregation). */
  enough(count: number): boolean {
    return count >= this.minParticipants;
  }

  /**
   * The sum over `participants` of the vectors `payload(id)` returns (each read before the next
   * call). The returned array is reused by the next round. Refuses a round that is not `enough`.
   */
  sum(round: number, participants: readonly number[], payload: (id: number) => Float64Array): Float64Array {
    const { fixedPointBits: bits } = this.o;
    if (this.parties && !this.enough(participants.length)) {
      throw new ConfigError(`round ${round} has ${participants.length} participant(s), below the secure-aggregation threshold ${this.minParticipants}`, 'minParticipants');
    }
    this.sumF.fill(0);
    this.sumQ.fill(0);
    // Each client's rounded words stay within (2^31 − 1)/m, so the sum of m cannot wrap.
    const summands = Math.max(1, participants.length);
    for (const id of participants) {
      const v = payload(id);
      if (v.length !== this.width) throw new ConfigError(`client ${id} sent ${v.length} values, expected ${this.width}`, 'payload');
      if (bits === null) {
        for (let j = 0; j < v.length; j++) this.sumF[j] = this.sumF[j]! + v[j]!;
        continue;
      }
      encodeFixed(v, bits, summands, this.encoded);
      if (this.parties) {
        const me = this.parties.get(id)!;
        for (const other of participants) if (other !== id) me.agree(other, this.parties.get(other)!.publicKey);
        addMod32(this.sumQ, me.mask(this.encoded, round, participants));
      } else addMod32(this.sumQ, this.encoded);
    }
    return bits === null ? this.sumF : decodeFixed(this.sumQ, bits, this.sumF);
  }
}

/** A client's X25519 private key in the simulation: derived from the run's seed and its id. */
function keySeed(seed: number, id: number): Uint8Array {
  return createHash('sha256').update(`chorus-secagg-key/${seed}/${id}`).digest();
}
