/** Small pieces the HTTP clients (src/embed/http.ts, src/llm/http.ts, src/llm/managed.ts) share when they retry. */

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent, empty or invalid. */
export function parseRetryAfter(header: string | null): number | undefined {
  if (header === null) return undefined;
  const secs = Number(header);
  if (header.trim() !== '' && Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
