/** The `Embedder` contract: text in, one row of `dim` floats per text out. */
export interface Embedder {
  /** Model + version, the cache key's first half (e.g. "builtin:tfidf-svd:v1:<fingerprint>"). */
  readonly id: string;
  readonly dim: number;
  /** Row-major, texts.length × dim. */
  embed(texts: readonly string[]): Promise<Float32Array>;
}
