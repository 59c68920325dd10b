/**
 * Persistent chat-response cache keyed by (model id, sha256 of the canonical request).
 *
 * One SQLite file (better-sqlite3, as the embedding cache in src/embed/cache.ts) rather than a
 * file per answer: an LLM-user simulation makes tens of thousands of small requests, which as
 * files would fill a directory with tiny inodes; SQLite appends each answer in place, a crash
 * loses nothing already committed (WAL), and several processes can share the file.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { chorusCacheDir, openCacheDatabase } from '../util/cache-file.js';
import { LlmError } from './errors.js';
import type { ChatRequest, TokenUsage } from './types.js';

export interface CachedAnswer {
  text: string;
  /** What the answer cost when it was made (not counted again on a hit). */
  usage: TokenUsage;
}

export class ChatCache {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly getStmt: Database.Statement<[string, Buffer]>;
  private readonly putStmt: Database.Statement<[string, Buffer, string, number, number]>;

  /** Open (creating if needed) the cache file; ':memory:' for a process-local cache. */
  constructor(path: string = defaultChatCachePath()) {
    this.path = path;
    try {
      this.db = openCacheDatabase(
        path,
        `CREATE TABLE IF NOT EXISTS chat (
           model TEXT NOT NULL, hash BLOB NOT NULL, text TEXT NOT NULL,
           prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
           PRIMARY KEY (model, hash)) WITHOUT ROWID`,
      );
    } catch (err) {
      throw new LlmError('E_LLM_CACHE', `cannot open the chat cache at ${path}: ${(err as Error).message}`, { cause: err, status: 500 });
    }
    this.getStmt = this.db.prepare('SELECT text, prompt_tokens, completion_tokens FROM chat WHERE model = ? AND hash = ?');
    this.putStmt = this.db.prepare('INSERT OR REPLACE INTO chat (model, hash, text, prompt_tokens, completion_tokens) VALUES (?, ?, ?, ?, ?)');
  }

  get(model: string, hash: Buffer): CachedAnswer | undefined {
    const row = this.getStmt.get(model, hash) as { text: string; prompt_tokens: number; completion_tokens: number } | undefined;
    return row ? { text: row.text, usage: { promptTokens: row.prompt_tokens, completionTokens: row.completion_tokens } } : undefined;
  }

  put(model: string, hash: Buffer, answer: CachedAnswer): void {
    this.putStmt.run(model, hash, answer.text, answer.usage.promptTokens, answer.usage.completionTokens);
  }

  close(): void {
    this.db.close();
  }
}

/** `$CHORUS_CACHE_DIR/chat.sqlite`, else `~/.cache/chorus/chat.sqlite` (beside the embedding cache). */
export function defaultChatCachePath(): string {
  return join(chorusCacheDir(), 'chat.sqlite');
}

/**
 * sha256 of the request in canonical form: every field that can change the answer (messages,
 * schema, its name, max tokens, temperature, seed), object keys sorted, so that two requests
 * that mean the same thing share one entry.
 */
export function requestHash(req: ChatRequest): Buffer {
  const canon = canonicalJson({
    messages: req.messages.map((m) => ({ role: m.role, content: m.content })),
    schema: req.schema ?? null,
    schemaName: req.schemaName ?? null,
    maxTokens: req.maxTokens ?? null,
    temperature: req.temperature ?? null,
    seed: req.seed ?? null,
  });
  return createHash('sha256').update(canon).digest();
}

export function canonicalJson(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(canonicalJson).join(',')}]`;
  if (x !== null && typeof x === 'object') {
    const keys = Object.keys(x as Record<string, unknown>).filter((k) => (x as Record<string, unknown>)[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((x as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(x);
}
