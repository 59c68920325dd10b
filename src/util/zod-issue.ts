import type { z } from 'zod';

/**
 * The first problem a zod schema found, in the terms Chorus errors use. Every place that
 * validates with zod (config file, model options, request bodies, bulk imports) reads it through
 * here, so a field is named the same way everywhere; each caller still picks its own error class.
 */
export interface SchemaIssue {
  /** Where the bad value sits, as zod reports it. */
  readonly path: readonly PropertyKey[];
  /** `prefix` followed by the path: `a.b[2].c` (array indices in brackets); '' at the root. */
  readonly field: string;
  /** Zod's message, or `unknown field(s): x, y` when the object has keys the schema does not allow. */
  readonly message: string;
  /** The keys the schema does not allow; empty unless that is the problem. */
  readonly unknownKeys: readonly string[];
}

/** `prefix` then `path`: names joined by dots, numbers as `[i]` ("items[3].id", "[0].id"). */
export function fieldPath(path: readonly PropertyKey[], prefix = ''): string {
  let s = prefix;
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else s += s === '' ? String(p) : `.${String(p)}`;
  }
  return s;
}

export function firstSchemaIssue(error: z.ZodError, prefix = ''): SchemaIssue {
  const issue = error.issues[0]!;
  const unknownKeys = issue.code === 'unrecognized_keys' ? issue.keys : [];
  return {
    path: issue.path,
    field: fieldPath(issue.path, prefix),
    message: unknownKeys.length > 0 ? `unknown field(s): ${unknownKeys.join(', ')}` : issue.message,
    unknownKeys,
  };
}
