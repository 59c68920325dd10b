import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fieldPath, firstSchemaIssue } from '../../src/util/zod-issue.js';

function errorOf(schema: z.ZodType, value: unknown): z.ZodError {
  const r = schema.safeParse(value);
  if (r.success) throw new Error('expected the value to fail the schema');
  return r.error;
}

describe('firstSchemaIssue', () => {
  const schema = z.strictObject({ items: z.array(z.strictObject({ id: z.string() })), k: z.number().int().optional() });

  it('names a nested field with array indices in brackets, after the prefix', () => {
    const issue = firstSchemaIssue(errorOf(schema, { items: [{ id: 'a' }, { id: 3 }] }), 'body');
    expect(issue.field).toBe('body.items[1].id');
    expect(issue.path).toEqual(['items', 1, 'id']);
    expect(issue.unknownKeys).toEqual([]);
    expect(issue.message).toMatch(/string/);
  });

  it('reports keys the schema does not allow, by name, at the object that holds them', () => {
    const issue = firstSchemaIssue(errorOf(schema, { items: [], kk: 3, zz: 1 }));
    expect(issue.unknownKeys).toEqual(['kk', 'zz']);
    expect(issue.message).toBe('unknown field(s): kk, zz');
    expect(issue.field).toBe('');
  });

  it('puts an index prefix directly before the path', () => {
    expect(fieldPath(['id'], '[4]')).toBe('[4].id');
    expect(fieldPath([2, 'x'])).toBe('[2].x');
    expect(fieldPath([], 'serve')).toBe('serve');
  });
});
