/**
 * Where a JSON text first goes wrong. V8's JSON.parse messages give a position for some errors
 * and not for others ("Unexpected token '}', ... is not valid JSON"), so on the error path only
 * this small recursive-descent checker finds the 0-based offset of the first bad character.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const n = text.length;
  class Bad extends Error {
    constructor(readonly at: number) {
      super('bad json');
    }
  }
  const ws = (): void => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\r' || text[i] === '\n')) i++;
  };
  const lit = (word: string): void => {
    for (let k = 0; k < word.length; k++, i++) if (text[i] !== word[k]) throw new Bad(i);
  };
  const str = (): void => {
    if (text[i] !== '"') throw new Bad(i);
    i++;
    while (i < n && text[i] !== '"') {
      const c = text.charCodeAt(i);
      if (c < 0x20) throw new Bad(i);
      if (text[i] === '\\') {
        i++;
        if (text[i] === 'u') {
          for (let k = 1; k <= 4; k++) if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) throw new Bad(i + k);
          i += 5;
          continue;
        }
        if (!'"\\/bfnrt'.includes(text[i] ?? '!')) throw new Bad(i);
      }
      i++;
    }
    if (i >= n) throw new Bad(n);
    i++;
  };
  const num = (): void => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m || m[0] === '' || m[0] === '-') throw new Bad(i + (m?.[0].length ?? 0));
    i += m[0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        str();
        ws();
        if (text[i] !== ':') throw new Bad(i);
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') return void i++;
        throw new Bad(i);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') return void i++;
        throw new Bad(i);
      }
    }
    if (c === '"') return str();
    if (c === 't') return lit('true');
    if (c === 'f') return lit('false');
    if (c === 'n') return lit('null');
    return num();
  };
  try {
    value();
    ws();
    return i < n ? i : -1;
  } catch (e) {
    if (e instanceof Bad) return Math.min(e.at, n);
    throw e;
  }
}
