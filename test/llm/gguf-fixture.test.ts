import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';
import { afterAll, describe, expect, it } from 'vitest';

/** The committed fixture and the script that writes it (scripts/make-tiny-gguf.mjs). */
const FIXTURE = path.resolve(process.cwd(), 'test/fixtures/llm/tiny.gguf');
const SCRIPT = path.resolve(process.cwd(), 'scripts/make-tiny-gguf.mjs');
const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('tiny GGUF fixture (scripts/make-tiny-gguf.mjs)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'chorus-gguf-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('regenerating it gives the committed bytes; another seed gives other weights', () => {
    const again = path.join(dir, 'again.gguf');
    const other = path.join(dir, 'seed2.gguf');
    execFileSync(process.execPath, [SCRIPT, '--out', again], { stdio: 'pipe' });
    execFileSync(process.execPath, [SCRIPT, '--out', other, '--seed', '2'], { stdio: 'pipe' });
    expect(sha256(again)).toBe(sha256(FIXTURE));
    const a = readFileSync(again);
    const b = readFileSync(other);
    expect(b.length).toBe(a.length); // same layout…
    expect(b.equals(a)).toBe(false); // …different weights
  });

  it('is a GGUF v3 llama model as node-llama-cpp\'s own reader sees it', async () => {
    const info = await readGgufFileInfo(FIXTURE);
    expect(info.version).toBe(3);
    const md = info.metadata as unknown as {
      general: { architecture: string; alignment: number };
      llama: { embedding_length: number; block_count: number; context_length: number; attention: { head_count: number } };
      tokenizer: { ggml: { model: string; tokens: string[]; token_type: number[]; bos_token_id: number; eos_token_id: number } };
    };
    expect(md.general.architecture).toBe('llama');
    expect(md.general.alignment).toBe(32);
    expect(md.llama).toMatchObject({ embedding_length: 32, block_count: 1, context_length: 8192, attention: { head_count: 2 } });
    const tok = md.tokenizer.ggml;
    expect(tok.model).toBe('llama');
    expect(tok.tokens.slice(0, 3)).toEqual(['<unk>', '<s>', '</s>']);
    expect(tok.tokens[3 + 0x22]).toBe('<0x22>');
    expect(tok.token_type.filter((t) => t === 6)).toHaveLength(256); // every byte has a token
    expect(tok.tokens).toContain('\u2581movie');
    const names = (info.fullTensorInfo ?? info.tensorInfo ?? []).map((t) => t.name).sort();
    expect(names).toEqual(
      [
        'token_embd.weight', 'output_norm.weight', 'output.weight',
        ...['attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down'].map((n) => `blk.0.${n}.weight`),
      ].sort(),
    );
    // Tensor data sits at 32-byte-aligned places in the file, as general.alignment declares;
    // token_embd is [n_embd, n_vocab] innermost first (a row per token).
    for (const t of info.fullTensorInfo ?? info.tensorInfo ?? []) expect(Number(t.fileOffset) % 32).toBe(0);
    const embd = (info.fullTensorInfo ?? []).find((t) => t.name === 'token_embd.weight');
    expect(embd?.dimensions.map(Number)).toEqual([32, tok.tokens.length]);
  });
});
