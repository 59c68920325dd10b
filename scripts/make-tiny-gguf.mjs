#!/usr/bin/env node
/**
 * Writes test/fixtures/llm/tiny.gguf: a ~130 KB llama-architecture GGUF v3 model with random F32
 * weights, so that tests run the real node-llama-cpp path (load, tokenise, generate under a
 * grammar) offline. It is not a useful language model; its answers are noise that the grammar
 * shapes. The recipe is shared/research/stack.md §6.2, written in plain Node (no numpy, so CI
 * needs nothing extra).
 *
 * The bytes are deterministic: weights come from a seeded integer generator (xorshift-style
 * mulberry32) mapped to uniform floats by exact integer arithmetic, not from Math.random or from
 * transcendental functions, so the same script gives the same file on every machine.
 * test/llm/gguf-fixture.test.ts regenerates the file and compares its sha256 with the committed
 * one.
 *
 *   node scripts/make-tiny-gguf.mjs [--out path] [--seed n] [--chatml]
 *
 * --chatml adds a ChatML chat template (`tokenizer.chat_template`) and its two control tokens, as
 * real chat models carry, so that tests can exercise the templated prompt path too; the committed
 * fixture has neither.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ALIGN = 32;
const N_EMBD = 32;
const N_HEAD = 2;
const N_FF = 64;
// A long trained context costs nothing in the file (RoPE: no position embeddings) and ~1 MB of
// KV cache, and Chorus's LLM-user prompts (profile, 8 pages of session memory, a slate of titles)
// run to ~3,000 tokens with this vocabulary, since most characters fall back to byte tokens.
const N_CTX = 8192;

// GGUF metadata value types.
const T_UINT32 = 4;
const T_INT32 = 5;
const T_FLOAT32 = 6;
const T_BOOL = 7;
const T_STRING = 8;
const T_ARRAY = 9;
// GGML tensor type F32.
const GGML_F32 = 0;
// llama.cpp token types.
const TOK_NORMAL = 1;
const TOK_UNKNOWN = 2;
const TOK_CONTROL = 3;
const TOK_BYTE = 6;

/** Words of the recommender domain, so that ordinary prompts tokenise into a few word pieces. */
const WORDS = (
  'the a an and of to in is you user item items movie movies book song music likes liked watched ' +
  'rated rating ratings click clicks leave reason slate profile history genre genres action comedy ' +
  'drama horror romance thriller jazz rock pop good bad great boring answer system assistant json ' +
  'true false null id title'
).split(' ');

/** mulberry32: a small 32-bit generator with exact integer arithmetic (same bytes everywhere). */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/**
 * The SPM vocabulary: <unk>, <s>, </s>, the 256 byte tokens (byte fallback makes every string
 * encodable, which JSON grammars need), "▁", a–z, and "▁word" tokens for WORDS with every prefix
 * "▁w", "▁wo", … so that SPM's pairwise merges can reach each whole word.
 */
function vocabulary(chatml) {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [TOK_UNKNOWN, TOK_CONTROL, TOK_CONTROL];
  const scores = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TOK_BYTE);
    scores.push(0);
  }
  const seen = new Set(tokens);
  const add = (t) => {
    if (seen.has(t)) return;
    seen.add(t);
    tokens.push(t);
    types.push(TOK_NORMAL);
    // SPM merges prefer the higher score: longer pieces win, so words come out whole.
    scores.push(-1000 + 10 * [...t].length);
  };
  add('\u2581');
  for (let c = 97; c <= 122; c++) add(String.fromCharCode(c));
  for (const w of WORDS) for (let k = 1; k <= w.length; k++) add('\u2581' + w.slice(0, k));
  if (chatml) {
    // A ChatML model's turn markers are control tokens of its vocabulary, not text.
    for (const t of ['<|im_start|>', '<|im_end|>']) {
      tokens.push(t);
      types.push(TOK_CONTROL);
      scores.push(0);
    }
  }
  return { tokens, types, scores };
}

class Writer {
  constructor() {
    this.chunks = [];
    this.length = 0;
  }
  bytes(b) {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(v) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.bytes(b);
  }
  i32(v) {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.bytes(b);
  }
  u64(v) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.bytes(b);
  }
  f32(v) {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.bytes(b);
  }
  str(s) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.bytes(b);
  }
  pad(align) {
    const rem = this.length % align;
    if (rem) this.bytes(Buffer.alloc(align - rem));
  }
  buffer() {
    return Buffer.concat(this.chunks, this.length);
  }
}

const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** The whole file as a Buffer; `seed` picks the weights; `chatml` adds a chat template. */
export function buildTinyGguf(seed = 1, { chatml = false } = {}) {
  const { tokens, types, scores } = vocabulary(chatml);
  const nVocab = tokens.length;
  const next = mulberry32(seed);

  /** Uniform(-scale, scale) rounded to F32: u/2^32 is exact in a double, so no platform drift. */
  const uniform = (n, scale) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (next() / 4294967296 * 2 - 1) * scale;
    return a;
  };
  const ones = (n) => new Float32Array(n).fill(1);

  // The one non-random trait. Random weights make every allowed token about equally likely, so
  // under a JSON grammar a string or an open map ends only when the closing character happens to
  // win: hundreds of tokens, past any sensible maxTokens. So hidden dimension 0 is a constant in
  // every token embedding, and the output rows of the JSON closers read it with a large weight:
  // '"' most, then ']', then '}'. Wherever the grammar allows one, it wins (strings and arrays and
  // maps close at once); everywhere else (true/false, digits, enum members, free text without a
  // grammar) the random weights decide, and sampling with a seed varies them.
  const tokenEmbd = uniform(N_EMBD * nVocab, 1);
  for (let t = 0; t < nVocab; t++) tokenEmbd[t * N_EMBD] = 2.5;
  const output = uniform(N_EMBD * nVocab, 0.5);
  for (let t = 0; t < nVocab; t++) output[t * N_EMBD] = 0;
  const closers = [['<0x22>', 4], ['<0x5D>', 2.5], ['<0x7D>', 2]];
  for (const [tok, weight] of closers) output[tokens.indexOf(tok) * N_EMBD] = weight;

  // [name, dims innermost first, data]. A row-major [out, in] matrix is GGUF dims [in, out].
  const tensors = [
    ['token_embd.weight', [N_EMBD, nVocab], tokenEmbd],
    ['output_norm.weight', [N_EMBD], ones(N_EMBD)],
    ['output.weight', [N_EMBD, nVocab], output],
    ['blk.0.attn_norm.weight', [N_EMBD], ones(N_EMBD)],
    ['blk.0.attn_q.weight', [N_EMBD, N_EMBD], uniform(N_EMBD * N_EMBD, 0.2)],
    ['blk.0.attn_k.weight', [N_EMBD, N_EMBD], uniform(N_EMBD * N_EMBD, 0.2)],
    ['blk.0.attn_v.weight', [N_EMBD, N_EMBD], uniform(N_EMBD * N_EMBD, 0.2)],
    ['blk.0.attn_output.weight', [N_EMBD, N_EMBD], uniform(N_EMBD * N_EMBD, 0.2)],
    ['blk.0.ffn_norm.weight', [N_EMBD], ones(N_EMBD)],
    ['blk.0.ffn_gate.weight', [N_EMBD, N_FF], uniform(N_EMBD * N_FF, 0.2)],
    ['blk.0.ffn_up.weight', [N_EMBD, N_FF], uniform(N_EMBD * N_FF, 0.2)],
    ['blk.0.ffn_down.weight', [N_FF, N_EMBD], uniform(N_FF * N_EMBD, 0.2)],
  ];

  const kv = [
    ['general.architecture', T_STRING, 'llama'],
    ['general.name', T_STRING, 'chorus-tiny-test'],
    ['general.alignment', T_UINT32, ALIGN],
    ['llama.context_length', T_UINT32, N_CTX],
    ['llama.embedding_length', T_UINT32, N_EMBD],
    ['llama.block_count', T_UINT32, 1],
    ['llama.feed_forward_length', T_UINT32, N_FF],
    ['llama.attention.head_count', T_UINT32, N_HEAD],
    ['llama.attention.head_count_kv', T_UINT32, N_HEAD],
    ['llama.rope.dimension_count', T_UINT32, N_EMBD / N_HEAD],
    ['llama.vocab_size', T_UINT32, nVocab],
    ['llama.attention.layer_norm_rms_epsilon', T_FLOAT32, 1e-5],
    ['tokenizer.ggml.model', T_STRING, 'llama'],
    ['tokenizer.ggml.tokens', T_ARRAY, [T_STRING, tokens]],
    ['tokenizer.ggml.scores', T_ARRAY, [T_FLOAT32, scores]],
    ['tokenizer.ggml.token_type', T_ARRAY, [T_INT32, types]],
    ['tokenizer.ggml.bos_token_id', T_UINT32, 1],
    ['tokenizer.ggml.eos_token_id', T_UINT32, 2],
    ['tokenizer.ggml.unknown_token_id', T_UINT32, 0],
    ['tokenizer.ggml.add_bos_token', T_BOOL, true],
    ['tokenizer.ggml.add_eos_token', T_BOOL, false],
    // llama.cpp's SPM tokenizer puts a space before text that follows a control token unless
    // told not to; ChatML models (BPE ones, mostly) have no such space.
    ...(chatml ? [['tokenizer.chat_template', T_STRING, CHATML_TEMPLATE], ['tokenizer.ggml.add_space_prefix', T_BOOL, false]] : []),
  ];

  const w = new Writer();
  w.bytes(Buffer.from('GGUF', 'ascii'));
  w.u32(3);
  w.u64(tensors.length);
  w.u64(kv.length);
  const scalar = (type, v) => {
    if (type === T_UINT32) w.u32(v);
    else if (type === T_INT32) w.i32(v);
    else if (type === T_FLOAT32) w.f32(v);
    else if (type === T_BOOL) w.bytes(Buffer.from([v ? 1 : 0]));
    else if (type === T_STRING) w.str(v);
    else throw new Error(`unhandled GGUF type ${type}`);
  };
  for (const [key, type, value] of kv) {
    w.str(key);
    w.u32(type);
    if (type === T_ARRAY) {
      const [elemType, items] = value;
      w.u32(elemType);
      w.u64(items.length);
      for (const item of items) scalar(elemType, item);
    } else {
      scalar(type, value);
    }
  }
  // Tensor infos, with offsets relative to the (aligned) start of the data section.
  let offset = 0;
  for (const [name, dims, data] of tensors) {
    w.str(name);
    w.u32(dims.length);
    for (const d of dims) w.u64(d);
    w.u32(GGML_F32);
    w.u64(offset);
    offset += Math.ceil((data.length * 4) / ALIGN) * ALIGN;
  }
  w.pad(ALIGN);
  for (const [, , data] of tensors) {
    w.bytes(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    w.pad(ALIGN);
  }
  return w.buffer();
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const args = process.argv.slice(2);
  const flag = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const out = path.resolve(flag('--out') ?? path.join(root, 'test/fixtures/llm/tiny.gguf'));
  const seed = Number(flag('--seed') ?? 1);
  if (!Number.isInteger(seed)) {
    console.error(`--seed must be an integer, got ${flag('--seed')}`);
    process.exit(2);
  }
  const buf = buildTinyGguf(seed, { chatml: args.includes('--chatml') });
  mkdirSync(path.dirname(out), { recursive: true });
  // Write beside it and rename: a process that has the old file mapped (llama.cpp mmaps the
  // weights) keeps its copy instead of faulting on a truncated one.
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, buf);
  renameSync(tmp, out);
  console.log(`wrote ${out} (${buf.length} bytes)`);
}
