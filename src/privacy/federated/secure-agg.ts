/**
 * Secure aggregation by pairwise masking (Bonawitz et al. 2017, "Practical Secure Aggregation for
 * Privacy-Preserving Machine Learning", the masking round only — no secret sharing of seeds, so no
 * recovery when a client drops out: every client of a round must submit, or the sum is garbage).
 *
 * Every client holds an X25519 key pair and publishes its public key (through the server). Each
 * pair (i, j) derives the same 32-byte secret by Diffie–Hellman; HKDF-SHA-256 of that secret and
 * the round number keys an AES-256-CTR stream, the pair's mask for that round (a fresh mask each
 * round: reusing one would reveal the difference of two updates). Client i adds the (i, j) mask
 * when i < j and subtracts it when i > j, so in the sum over the round's clients every mask appears
 * once with each sign and cancels. The sum hides an update only among others: a round needs at
 * least 2 participants (`mask` refuses fewer), and callers set a threshold t ≥ 2 on top of that
 * (Bonawitz's t; `minParticipants` in ../../federated/aggregate.ts).
 *
 * Arithmetic is on unsigned 32-bit integers modulo 2^32 (updates are first put in fixed point,
 * `encodeFixed`), where addition is exact and associative: the masked sum equals the plain sum bit
 * for bit. A single masked vector is uniform on Z_{2^32}^d to anyone without the pair secrets,
 * i.e. to the server.
 */
import { createCipheriv, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, type KeyObject } from 'node:crypto';
import { ConfigError } from '../../errors.js';

/**
 * x → round(x·2^bits) mod 2^32, per coordinate (two's complement for negatives). `summands` is the
 * number of such vectors that will be added up (the round's clients): every rounded integer must
 * satisfy |q| ≤ floor((2^31 − 1) / summands), so that their sum fits a signed 32-bit word and
 * cannot wrap. The check is on the rounded integer, not on x: a value just under a real-valued
 * limit can round up onto it (2048 − 2^−22 at 20 bits rounds to 2^31, which reads back as −2048).
 */
export function encodeFixed(x: ArrayLike<number>, fractionBits: number, summands = 1, out: Uint32Array = new Uint32Array(x.length)): Uint32Array {
  if (!(Number.isInteger(summands) && summands >= 1)) throw new ConfigError(`summands must be a positive integer, got ${summands}`, 'summands');
  const scale = 2 ** fractionBits;
  const maxInt = Math.floor((2 ** 31 - 1) / summands);
  for (let k = 0; k < x.length; k++) {
    const v = x[k]!;
    const q = Math.round(v * scale);
    // Written so that NaN fails too.
    if (!(Math.abs(q) <= maxInt)) {
      throw new ConfigError(
        `update coordinate ${k} = ${v} does not fit the fixed-point range ±${maxInt / scale} for a sum of ${summands} (fewer fraction bits, or clip the updates)`,
        'fixedPointBits',
      );
    }
    out[k] = q >>> 0;
  }
  return out;
}

/** A sum of fixed-point vectors back to reals: each word read as a signed 32-bit integer over 2^bits. */
export function decodeFixed(sum: Uint32Array, fractionBits: number, out: Float64Array = new Float64Array(sum.length)): Float64Array {
  const inv = 2 ** -fractionBits;
  for (let k = 0; k < sum.length; k++) out[k] = (sum[k]! | 0) * inv;
  return out;
}

/** acc += v modulo 2^32, in place. */
export function addMod32(acc: Uint32Array, v: Uint32Array): void {
  for (let k = 0; k < acc.length; k++) acc[k] = (acc[k]! + v[k]!) >>> 0;
}

/** PKCS#8 DER header of a raw 32-byte X25519 private key (RFC 8410). */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** A client's side of the protocol: its key pair and the pair secrets it derived. */
export class SecAggParty {
  readonly id: number;
  /** Raw 32-byte public key: what the client publishes. */
  readonly publicKey: Buffer;
  private readonly privateKey: KeyObject;
  private readonly secrets = new Map<number, Buffer>();

  /**
   * A party with a fresh key pair. `privateSeed` (32 bytes) makes the key deterministic, for
   * reproducible simulations and tests; without it the key comes from the OS CSPRNG, as a real
   * deployment would generate it. The masks cancel either way, so the aggregate does not depend on it.
   */
  constructor(id: number, privateSeed?: Uint8Array) {
    this.id = id;
    if (privateSeed) {
      if (privateSeed.length !== 32) throw new ConfigError(`X25519 private key must be 32 bytes, got ${privateSeed.length}`, 'privateSeed');
      this.privateKey = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, privateSeed]), format: 'der', type: 'pkcs8' });
    } else this.privateKey = generateKeyPairSync('x25519').privateKey;
    const jwk = createPublicKey(this.privateKey).export({ format: 'jwk' });
    this.publicKey = Buffer.from(jwk.x!, 'base64url');
  }

  /** Key agreement with another party from its published public key (cached per peer). */
  agree(peerId: number, peerPublicKey: Uint8Array): void {
    if (peerId === this.id) throw new ConfigError('a party cannot agree a key with itself', 'peerId');
    if (this.secrets.has(peerId)) return;
    const pub = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(peerPublicKey).toString('base64url') }, format: 'jwk' });
    this.secrets.set(peerId, diffieHellman({ privateKey: this.privateKey, publicKey: pub }));
  }

  /**
   * `value` (fixed point) plus this round's pairwise masks with every other participant, modulo
   * 2^32: + mask(i, j) for peers j > i, − mask(i, j) for peers j < i. Needs `agree` with each peer,
   * and at least one peer (a lone participant is refused: its vector would go out unmasked).
   */
  mask(value: Uint32Array, round: number, participants: readonly number[]): Uint32Array {
    // Alone in a round, there is no pair and so no mask: the "masked" vector would be the update itself.
    if (!participants.some((p) => p !== this.id)) {
      throw new ConfigError(`secure aggregation needs at least 2 participants in a round; client ${this.id} is alone in round ${round}`, 'participants');
    }
    const out = Uint32Array.from(value);
    for (const peer of participants) {
      if (peer === this.id) continue;
      const secret = this.secrets.get(peer);
      if (!secret) throw new ConfigError(`client ${this.id} has no key agreed with client ${peer}`, 'participants');
      const m = pairMask(secret, Math.min(this.id, peer), Math.max(this.id, peer), round, value.length);
      if (this.id < peer) addMod32(out, m);
      else for (let k = 0; k < out.length; k++) out[k] = (out[k]! - m[k]!) >>> 0;
    }
    return out;
  }
}

/** The (lo, hi) pair's mask for `round`: AES-256-CTR keystream under HKDF(secret, round), as d words. */
export function pairMask(secret: Uint8Array, lo: number, hi: number, round: number, d: number): Uint32Array {
  const key = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `chorus-secagg/v1 pair ${lo},${hi} round ${round}`, 32));
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const bytes = cipher.update(Buffer.alloc(d * 4));
  // Copy into an aligned buffer: the cipher's output may sit at any byte offset.
  const out = new Uint32Array(d);
  new Uint8Array(out.buffer).set(bytes.subarray(0, d * 4));
  return out;
}

/** The server's side: the sum modulo 2^32 of every participant's masked vector (masks cancel when all are present). */
export function sumMasked(masked: readonly Uint32Array[]): Uint32Array {
  if (masked.length === 0) throw new ConfigError('secure aggregation needs at least one masked update', 'participants');
  const acc = new Uint32Array(masked[0]!.length);
  for (const m of masked) addMod32(acc, m);
  return acc;
}
