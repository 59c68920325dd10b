/**
 * The rows a reader keeps, as growable typed-array columns, with each row's line in the file kept
 * compactly so later passes (duplicates) can still name `file:line`.
 */

/** Positions → line numbers, stored as breakpoints (lines grow with positions, mostly by 1). */
export class LineIndex {
  private pos: number[] = [];
  private off: number[] = [];

  push(k: number, line: number): void {
    const o = line - k;
    if (this.off.length === 0 || this.off[this.off.length - 1] !== o) {
      this.pos.push(k);
      this.off.push(o);
    }
  }

  lineOf(k: number): number {
    let lo = 0;
    let hi = this.pos.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.pos[mid]! <= k) lo = mid;
      else hi = mid - 1;
    }
    return k + (this.off[lo] ?? 0);
  }
}

/** Growable columns (capacity doubles), trimmed to length at the end. */
export class RowBuffer {
  n = 0;
  user = new Int32Array(1024);
  item = new Int32Array(1024);
  value = new Float32Array(1024);
  ts = new Float64Array(1024);
  et = new Uint8Array(1024);
  readonly lines = new LineIndex();

  push(u: number, i: number, v: number, t: number, e: number, line: number): void {
    if (this.n === this.user.length) this.grow();
    const k = this.n++;
    this.user[k] = u;
    this.item[k] = i;
    this.value[k] = v;
    this.ts[k] = t;
    this.et[k] = e;
    this.lines.push(k, line);
  }

  private grow(): void {
    const cap = this.user.length * 2;
    const g = <T extends Int32Array | Float32Array | Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.user = g(this.user, (n) => new Int32Array(n));
    this.item = g(this.item, (n) => new Int32Array(n));
    this.value = g(this.value, (n) => new Float32Array(n));
    this.ts = g(this.ts, (n) => new Float64Array(n));
    this.et = g(this.et, (n) => new Uint8Array(n));
  }
}
