import { describe, expect, it } from 'vitest';
import { formatNumber, table } from '../../src/cli/output.js';

describe('text output', () => {
  it('aligns columns, numbers to the right', () => {
    const t = table(['model', 'ndcg@10'], [['als', 0.1161], ['popularity', 0.0872]]);
    expect(t.split('\n')).toEqual(['model       ndcg@10', '----------  -------', 'als          0.1161', 'popularity   0.0872']);
  });

  it('formats metrics, counts and tiny p-values readably', () => {
    expect(formatNumber(0.123456)).toBe('0.1235');
    expect(formatNumber(19940)).toBe('19,940');
    expect(formatNumber(2.5678)).toBe('2.568');
    expect(formatNumber(0.0000123)).toBe('1.23e-5');
    expect(formatNumber(NaN)).toBe('—');
  });
});
